"""Email addresses: parsed once into one plain ASCII spelling, and one canonical mailbox key.

An address typed by the public ends up in SMTP envelopes, mail headers and logs. Anything a
mail library might read differently from us (an RFC 2047 encoded word that decodes to another
address, a quoted local part, a non-ASCII local part, whitespace or control characters) is
refused outright rather than interpreted.
"""

from __future__ import annotations

import re

from email_validator import EmailNotValidError, validate_email

from app.kit.text import has_control_characters

EMAIL_MAX = 254
LOCAL_MAX = 64
_GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})
# A top-level domain is letters, or an international one in its xn-- spelling.
_TLD = re.compile(r"[a-z]{2,63}|xn--[a-z0-9-]{1,59}")


def _looks_ambiguous(email: str) -> bool:
    # "=?" opens an RFC 2047 encoded word ("=?utf-8?q?victim=40example.org?=@evil.test"),
    # which a header decoder may turn into another address, a list, or a header break. A real
    # mailbox with "=?" in it is vanishingly rare, so none is let through, encoded word or not.
    return (
        "=?" in email
        or has_control_characters(email)
        or any(char.isspace() for char in email)
        or any(ord(char) > 0x7F for char in email.rpartition("@")[0])
    )


def normalise_email(raw: str) -> str | None:
    """The address in plain ASCII (local part as typed, domain lower-cased and in its IDNA
    2008 / UTS-46 spelling, so ``faß.de`` stays ``xn--fa-hia.de``), or None if it is not one."""
    email = raw.strip()
    if not email or len(email) > EMAIL_MAX or _looks_ambiguous(email):
        return None
    try:
        parsed = validate_email(
            email,
            check_deliverability=False,
            allow_smtputf8=False,
            allow_quoted_local=False,
            allow_domain_literal=False,
            allow_display_name=False,
            allow_empty_local=False,
        )
    except EmailNotValidError:
        return None
    if parsed.ascii_email is None:  # only without allow_smtputf8=False
        return None
    local, _, domain = parsed.ascii_email.rpartition("@")
    domain = domain.lower()
    if not local or len(local) > LOCAL_MAX or not _TLD.fullmatch(domain.rpartition(".")[2]):
        return None
    normalised = f"{local}@{domain}"
    # An international domain grows when spelled in ASCII: check the length again.
    if len(normalised) > EMAIL_MAX or not normalised.isascii():
        return None
    return normalised


def canonical_email(email: str) -> str:
    """One mailbox, one spelling: lower case, ``+tags`` dropped, Gmail's dots dropped."""
    local, _, domain = email.lower().rpartition("@")
    # A local part that starts with "+" has no tag to drop: keep it whole, not empty.
    local = local.split("+", 1)[0] or local
    if domain in _GMAIL_DOMAINS:
        local = local.replace(".", "")
        domain = "gmail.com"
    return f"{local}@{domain}"
