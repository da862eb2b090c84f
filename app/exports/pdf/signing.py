"""The step every finished PDF passes through before it is stored and hashed.

Without a signing certificate configured it returns the document unchanged. (The digital
signature, PAdES with pyHanko, replaces this function's body; the SHA-256 printed on the verify
page is taken after this step, so it covers the signed file.)
"""

from __future__ import annotations

from app.config import Settings


def sign_pdf(data: bytes, *, settings: Settings) -> bytes:
    """The document as it will be delivered: signed when a certificate is configured."""
    del settings  # used once signing exists
    return data
