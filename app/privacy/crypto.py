"""Encrypting addresses (AES-256-GCM, keys with ids so they rotate) and keyed hashes (HMAC).

A stored address reads ``<key id>:<base64 of nonce + ciphertext>``. The associated data names
the purpose, so a ciphertext cannot be moved into another kind of field unnoticed. Keyed
hashes are per letter: the same mailbox on two letters gives two unrelated hashes, so a copy of
the database cannot even tell that one person signed both.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.privacy.keys import EncryptionKey, b64decode, b64encode

_EMAIL_AAD = b"undersigned/signature-email/v1"
_SECRET_AAD = b"undersigned/organiser-totp-secret/v1"
_NONCE_BYTES = 12


class DecryptionError(Exception):
    """Unknown key id, or a ciphertext that was altered."""


@dataclass(frozen=True)
class Keyring:
    """The encryption keys (the first encrypts, all decrypt) and the hash key."""

    encryption_keys: tuple[EncryptionKey, ...]
    hash_key: bytes

    @property
    def current_key_id(self) -> str:
        return self.encryption_keys[0].key_id

    def _key(self, key_id: str) -> EncryptionKey:
        for key in self.encryption_keys:
            if key.key_id == key_id:
                return key
        raise DecryptionError(f"unknown encryption key id {key_id!r}")

    def _encrypt(self, plain: str, aad: bytes) -> str:
        key = self.encryption_keys[0]
        nonce = os.urandom(_NONCE_BYTES)
        sealed = AESGCM(key.material).encrypt(nonce, plain.encode("utf-8"), aad)
        return f"{key.key_id}:{b64encode(nonce + sealed)}"

    def _decrypt(self, stored: str, aad: bytes) -> str:
        key_id, _, encoded = stored.partition(":")
        key = self._key(key_id)
        try:
            raw = b64decode(encoded)
            plain = AESGCM(key.material).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], aad)
        except (InvalidTag, ValueError) as exc:
            raise DecryptionError("the stored value cannot be decrypted") from exc
        return plain.decode("utf-8")

    def encrypt_email(self, address: str) -> str:
        return self._encrypt(address, _EMAIL_AAD)

    def decrypt_email(self, stored: str) -> str:
        return self._decrypt(stored, _EMAIL_AAD)

    def encrypt_secret(self, secret: str) -> str:
        """An organiser's authenticator secret: useless to whoever copies the database."""
        return self._encrypt(secret, _SECRET_AAD)

    def decrypt_secret(self, stored: str) -> str:
        return self._decrypt(stored, _SECRET_AAD)

    @staticmethod
    def key_id_of(stored: str) -> str:
        return stored.partition(":")[0]

    def _keyed_hash(self, label: str, letter_id: int, value: str) -> str:
        message = f"{label}\x00{letter_id}\x00{value}".encode()
        return hmac.new(self.hash_key, message, hashlib.sha256).hexdigest()

    def email_hash(self, *, letter_id: int, canonical_address: str) -> str:
        return self._keyed_hash("email", letter_id, canonical_address)

    def organiser_hash(self, *, canonical_address: str) -> str:
        """Organisers are found across letters: their hash is not tied to one."""
        return self._keyed_hash("organiser", 0, canonical_address)

    def domain_hash(self, *, letter_id: int, domain: str) -> str:
        return self._keyed_hash("domain", letter_id, domain.lower())
