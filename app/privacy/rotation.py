"""Key rotation: re-encrypt stored addresses with the current key, in batches."""

from __future__ import annotations

from sqlalchemy import Engine, update
from sqlmodel import col, select

from app.db import open_session
from app.privacy.crypto import Keyring
from app.signatures.models import Signature


def reencrypt_everything(engine: Engine, *, keyring: Keyring, batch_size: int = 500) -> int:
    """Signers' addresses, then organisers' addresses and authenticator secrets, and webhook
    secrets: everything
    encrypted, so the old key can be dropped afterwards."""
    from app.organisers import service as organisers
    from app.webhooks import service as webhooks

    changed = reencrypt_addresses(engine, keyring=keyring, batch_size=batch_size)
    with open_session(engine, write=True) as session:
        changed += organisers.reencrypt(session, keyring=keyring)
        changed += webhooks.reencrypt(session, keyring=keyring)
        session.commit()
    return changed


def reencrypt_addresses(engine: Engine, *, keyring: Keyring, batch_size: int = 500) -> int:
    """Every address not yet under the current key is decrypted and encrypted again. Each batch
    is its own transaction, so a large table never holds a long lock and a stopped run resumes."""
    current_prefix = f"{keyring.current_key_id}:"
    changed = 0
    last_id = 0
    while True:
        with open_session(engine, write=True) as session:
            rows = session.exec(
                select(Signature.id, Signature.email_encrypted)
                .where(col(Signature.id) > last_id)
                .where(col(Signature.email_encrypted).is_not(None))
                .order_by(col(Signature.id))
                .limit(batch_size)
            ).all()
            if not rows:
                return changed
            for signature_id, stored in rows:
                assert signature_id is not None and stored is not None
                last_id = signature_id
                if stored.startswith(current_prefix):
                    continue
                fresh = keyring.encrypt_email(keyring.decrypt_email(stored))
                session.execute(
                    update(Signature)
                    .where(col(Signature.id) == signature_id)
                    .where(col(Signature.email_encrypted) == stored)
                    .values(email_encrypted=fresh)
                )
                changed += 1
            session.commit()
