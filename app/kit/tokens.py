"""Signed, expiring tokens: one salt per purpose, opaque ids only, key rotation."""

from __future__ import annotations

from enum import StrEnum

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer


class Purpose(StrEnum):
    CONFIRM = "signature-confirm"
    WITHDRAW = "signature-withdraw"
    ORGANISER_SIGN_IN = "organiser-sign-in"
    ORGANISER_SESSION = "organiser-session"
    ORGANISER_SECOND_FACTOR = "organiser-second-factor"
    TOTP_ENROLMENT = "organiser-totp-enrolment"
    UNSUBSCRIBE = "signature-unsubscribe"
    PDF_DOWNLOAD = "organiser-pdf-download"


class TokenError(Exception):
    """A token that is tampered with, expired, or made for another purpose."""

    def __init__(self, *, expired: bool) -> None:
        super().__init__("expired" if expired else "invalid")
        self.expired = expired


class Tokens:
    def __init__(self, secret_keys: list[str]) -> None:
        if not secret_keys:
            raise ValueError("at least one secret key is required")
        # itsdangerous signs with the last key and verifies with all; our setting lists the
        # signing key first, so reverse it.
        self._keys = list(reversed(secret_keys))

    def _serializer(self, purpose: Purpose) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self._keys, salt=purpose.value)

    def make(self, purpose: Purpose, opaque_id: str) -> str:
        return self._serializer(purpose).dumps(opaque_id)

    def read(self, purpose: Purpose, token: str, *, max_age_seconds: float) -> str:
        try:
            value = self._serializer(purpose).loads(token, max_age=int(max_age_seconds))
        except SignatureExpired as exc:
            raise TokenError(expired=True) from exc
        except BadSignature as exc:
            raise TokenError(expired=False) from exc
        if not isinstance(value, str):
            raise TokenError(expired=False)
        return value
