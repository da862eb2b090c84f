"""The public check of a delivered PDF letter: what was exported under a verification code,
and whether a file (or a pasted SHA-256) is exactly that export.

Shows only what the PDF itself prints (the recipient's name and title, the date, the count)
plus the file's fingerprint and digital signature; never who asked for it, never an address.
An unknown code, a malformed one, another letter's code and an unfinished export all get the
same "not found", so the page tells a guesser nothing. (Codes are 60 random bits.)
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from app.config import Settings
from app.exports.pdf.service import find_file_by_code
from app.exports.pdf.signing import SignatureSummary, SignatureUnreadable, read_signature

_HEX64 = re.compile(r"(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])")
MAX_PASTE_CHARS = 300


class VerificationNotFound(Exception):
    """No finished PDF letter answers to this letter and code."""


@dataclass(frozen=True, slots=True)
class VerifiedExport:
    letter_slug: str
    letter_title: str
    code: str
    exported_at: datetime
    recipient_name: str
    recipient_title: str
    language: str
    signature_count: int
    pages: int
    size: int
    sha256: str
    stored: bool  # the file is still on this server (its signature can be read)
    signature: SignatureSummary | None
    signature_unreadable: bool = False


def find_export(session: Session, settings: Settings, *, slug: str, code: str) -> VerifiedExport:
    if len(code) > 40 or len(slug) > 200:
        raise VerificationNotFound
    found = find_file_by_code(session, slug=slug, code=code)
    if found is None or not found.sha256 or found.finished_at is None:
        raise VerificationNotFound
    path = found.absolute_path(settings)
    stored = bool(found.path) and path.is_file()
    signature, unreadable = None, False
    if stored:
        try:
            signature = read_signature(path)
        except SignatureUnreadable:
            unreadable = True
    return VerifiedExport(
        letter_slug=found.letter_slug,
        letter_title=found.letter_title,
        code=found.verification_code,
        exported_at=found.finished_at,
        recipient_name=found.recipient_name,
        recipient_title=found.recipient_title,
        language=found.language,
        signature_count=found.signature_count,
        pages=found.pages,
        size=found.size,
        sha256=found.sha256,
        stored=stored,
        signature=signature,
        signature_unreadable=unreadable,
    )


def parse_sha256(typed: str) -> str | None:
    """A SHA-256 as people paste it: any case, with spaces or colons, or a whole line of
    ``sha256sum`` / ``shasum -a 256`` / ``certutil`` output. None if there is not exactly one."""
    if len(typed) > MAX_PASTE_CHARS:
        return None
    lowered = typed.strip().lower()
    found: set[str] = set()
    for line in [lowered, *lowered.splitlines()]:
        squeezed = re.sub(r"[\s:]", "", line)
        if re.fullmatch(r"[0-9a-f]{64}", squeezed):
            found.add(squeezed)
        else:
            found.update(_HEX64.findall(line))
    return found.pop() if len(found) == 1 else None


def same_hash(given: str, stored: str) -> bool:
    return hmac.compare_digest(given.encode("ascii"), stored.encode("ascii"))
