"""Key material: parsed from settings, or kept in the data folder for the local default.

Local key files are created atomically with mode 0600 (written to a temporary file, then
linked into place only if no file is there yet, so two processes starting together agree on
one key). A key file that exists but is empty or short is refused, never silently replaced:
replacing it would make every stored address unreadable.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

SECRET_KEY_MIN_CHARS = 32
ENCRYPTION_KEY_BYTES = 32  # AES-256-GCM
HASH_KEY_MIN_BYTES = 32


class KeyMaterialError(ValueError):
    """A key that is missing, empty, short or malformed."""


@dataclass(frozen=True, slots=True)
class EncryptionKey:
    key_id: str
    material: bytes


def b64decode(text: str) -> bytes:
    padded = text.strip() + "=" * (-len(text.strip()) % 4)
    try:
        return base64.urlsafe_b64decode(padded.encode("ascii"))
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise KeyMaterialError("not valid base64") from exc


def b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def check_secret_key(key: str, *, source: str) -> str:
    if len(key.strip()) < SECRET_KEY_MIN_CHARS:
        raise KeyMaterialError(
            f"{source}: a secret key must have at least {SECRET_KEY_MIN_CHARS} characters"
        )
    return key.strip()


def parse_encryption_key(entry: str, *, source: str) -> EncryptionKey:
    """``id:base64`` with 32 bytes of key material."""
    key_id, sep, encoded = entry.strip().partition(":")
    if not sep or not key_id or not key_id.isalnum() or len(key_id) > 16:
        raise KeyMaterialError(
            f"{source}: each encryption key is written ID:BASE64 (ID letters/digits)"
        )
    material = b64decode(encoded)
    if len(material) != ENCRYPTION_KEY_BYTES:
        raise KeyMaterialError(
            f"{source}: encryption key {key_id!r} must be {ENCRYPTION_KEY_BYTES} bytes"
        )
    return EncryptionKey(key_id=key_id, material=material)


def parse_encryption_keys(entries: list[str], *, source: str) -> list[EncryptionKey]:
    keys = [parse_encryption_key(entry, source=source) for entry in entries if entry.strip()]
    if not keys:
        raise KeyMaterialError(f"{source}: no encryption key given")
    ids = [key.key_id for key in keys]
    if len(set(ids)) != len(ids):
        raise KeyMaterialError(f"{source}: encryption key ids must be unique")
    return keys


def parse_hash_key(encoded: str, *, source: str) -> bytes:
    material = b64decode(encoded)
    if len(material) < HASH_KEY_MIN_BYTES:
        raise KeyMaterialError(
            f"{source}: the hash key must be at least {HASH_KEY_MIN_BYTES} bytes"
        )
    return material


def new_encryption_key_entry() -> str:
    return f"k{secrets.token_hex(4)}:{b64encode(secrets.token_bytes(ENCRYPTION_KEY_BYTES))}"


def new_hash_key() -> str:
    return b64encode(secrets.token_bytes(HASH_KEY_MIN_BYTES))


def new_secret_key() -> str:
    return secrets.token_urlsafe(48)


def read_or_create(path: Path, make: Callable[[], str]) -> str:
    """The file's content, creating it (atomically, mode 0600) with ``make()`` if absent."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(make() + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            # Fails if another process won the race; then its key is the one to use.
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
    content = path.read_text().strip()
    if not content:
        raise KeyMaterialError(f"{path}: the key file is empty; restore it from your key backup")
    return content
