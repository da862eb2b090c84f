"""What a copy of the database, or of the data folder, would reveal: no address, and after
withdrawing, not even the name. Keys rotate without losing a signature."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, select, text, update
from starlette.testclient import TestClient

from app.cli import main
from app.config import Settings
from app.db import open_session
from app.jobs.worker import JobWorker
from app.mail.sender import SMTPSender
from app.organisers.models import Organiser
from app.privacy.keys import new_encryption_key_entry
from app.privacy.rotation import reencrypt_everything
from app.signatures.models import Signature
from app.webhooks import service as webhooks
from app.webhooks.models import Webhook
from tests.helpers import TEST_KEYRING, links, new_mail, press_button, sign, signatures
from tests.organisers.helpers import add_organiser
from tests.smtp import SMTPServer

ADDRESS = "Zhanna.Withdrawn+letters@Example.org"
SPELLINGS = [
    ADDRESS,
    ADDRESS.lower(),
    "zhanna.withdrawn@example.org",
    "Zhanna.Withdrawn",
    "zhanna.withdrawn",
]
NAME = "Zhanna Unfindable"
PENDING_NAME = "Pyotr Neverconfirmed"


def _files_under(*folders: Path) -> dict[Path, bytes]:
    found = {}
    for folder in folders:
        for path in folder.rglob("*"):
            if path.is_file():
                found[path] = path.read_bytes()
    return found


def _every_text_value(engine: Engine) -> str:
    """Every value of every table, as text: what a dump of the database would show."""
    values: list[str] = []
    with engine.connect() as connection:
        for table in inspect(connection).get_table_names():
            for row in connection.execute(text(f'SELECT * FROM "{table}"')):
                values += [str(value) for value in row]
    return "\n".join(values)


def _sign_confirm_withdraw(
    client: TestClient, slug: str, worker: JobWorker, smtp: SMTPServer
) -> None:
    assert sign(client, slug, name=NAME, email=ADDRESS, city="Unfindable City").status_code == 200
    assert sign(client, slug, name=PENDING_NAME, email="pyotr@example.net").status_code == 200
    confirmed_mail, pending_mail = new_mail(worker, smtp)
    assert press_button(client, links(confirmed_mail)["confirm"]).status_code == 200
    assert press_button(client, links(confirmed_mail)["withdraw"]).status_code == 200
    assert press_button(client, links(pending_mail)["withdraw"]).status_code == 200


def test_a_live_signature_is_stored_without_its_address(
    client: TestClient, engine: Engine, worker: JobWorker, smtp: SMTPServer, letter_slug: str
) -> None:
    assert sign(client, letter_slug, name=NAME, email=ADDRESS).status_code == 200
    dump = _every_text_value(engine).lower()
    for spelling in SPELLINGS:
        assert spelling.lower() not in dump
    assert "example.org" not in dump  # not even the domain
    [stored] = signatures(engine)
    assert stored.email_encrypted is not None and stored.email_encrypted.startswith("t1:")
    assert len(stored.email_hash or "") == 64
    # Only the mail job decrypts it, to send the mail.
    [mail] = new_mail(worker, smtp)
    assert mail["To"] == "Zhanna.Withdrawn+letters@example.org"


def test_after_withdrawing_nothing_about_the_signer_is_left(
    client: TestClient, engine: Engine, worker: JobWorker, smtp: SMTPServer, letter_slug: str
) -> None:
    _sign_confirm_withdraw(client, letter_slug, worker, smtp)
    dump = _every_text_value(engine).lower()
    for needle in [*SPELLINGS, NAME, PENDING_NAME, "Unfindable City", "pyotr"]:
        assert needle.lower() not in dump
    # Only the fact that a signature once counted is kept; the unconfirmed one is gone.
    [kept] = signatures(engine)
    assert kept.confirmed_at is not None and kept.withdrawn_at is not None
    assert (kept.email_encrypted, kept.email_hash, kept.email_domain_hash) == (None, None, None)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_sqlite_files_and_data_folder_hold_no_trace_while_serving(
    client: TestClient,
    engine: Engine,
    worker: JobWorker,
    smtp: SMTPServer,
    letter_slug: str,
    settings: Settings,
) -> None:
    """A file-level check, with the service still running (found in an attack: the old pages
    stayed in SQLite's write-ahead log). On PostgreSQL the tables are checked, above."""
    _sign_confirm_withdraw(client, letter_slug, worker, smtp)
    worker.run_until_idle()  # the scrub the withdrawals queued
    database_file = Path(settings.database_url.removeprefix("sqlite:///"))
    files = _files_under(database_file.parent, settings.data_dir)
    assert database_file in files
    needles = [s.encode() for s in (*SPELLINGS, NAME, PENDING_NAME, "Unfindable City")]
    needles += [s.lower().encode() for s in (*SPELLINGS, NAME)]
    for path, content in files.items():
        for needle in needles:
            assert needle not in content, f"{needle!r} found in {path.name}"


def test_keys_rotate_without_losing_a_signature(
    client: TestClient,
    engine: Engine,
    settings: Settings,
    smtp: SMTPServer,
    letter_slug: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    addresses = [f"rotating{n}@example.org" for n in range(5)]
    for address in addresses:
        assert sign(client, letter_slug, email=address).status_code == 200
    # An organiser with an authenticator: their address and secret are encrypted too.
    add_organiser(engine, "rotating-organiser@example.org")
    with open_session(engine, write=True) as session:
        session.execute(
            update(Organiser).values(totp_secret_encrypted=TEST_KEYRING.encrypt_secret("SECRETKEY"))
        )
        # A webhook's secret (which signs its deliveries) is encrypted too.
        _, hook_secret = webhooks.add_webhook(
            session,
            letter_id=1,
            url="https://93.184.215.14/hook",
            keyring=TEST_KEYRING,
            allow_private=False,
        )
        session.commit()
    new_key = new_encryption_key_entry()
    new_id = new_key.split(":")[0]

    # The command reads its settings from the environment, as in production.
    for name, value in {
        "DATABASE_URL": settings.database_url,
        "DATA_DIR": str(settings.data_dir),
        "BASE_URL": settings.base_url,
        "SECRET_KEYS": settings.secret_keys[0],
        "ENCRYPTION_KEYS": f"{new_key},{settings.encryption_keys[0]}",
        "HASH_KEY": settings.hash_key,
        "SMTP_HOST": "127.0.0.1",
    }.items():
        monkeypatch.setenv(f"UNDERSIGNED_{name}", value)
    assert main(["rotate-keys", "--batch-size", "2"]) == 0
    stored = signatures(engine)
    assert {s.email_encrypted.split(":")[0] for s in stored if s.email_encrypted} == {new_id}
    # A second run has nothing left to do.
    rotated = settings.model_copy(update={"encryption_keys": [new_key]})
    assert reencrypt_everything(engine, keyring=rotated.keyring(), batch_size=2) == 0
    with open_session(engine) as session:
        [organiser] = session.scalars(select(Organiser)).all()
    assert rotated.keyring().decrypt_email(organiser.email_encrypted) == (
        "rotating-organiser@example.org"
    )
    assert organiser.totp_secret_encrypted is not None
    assert rotated.keyring().decrypt_secret(organiser.totp_secret_encrypted) == "SECRETKEY"
    with open_session(engine) as session:
        [hook] = session.scalars(select(Webhook)).all()
    assert hook.secret_encrypted.startswith(f"{new_id}:")
    assert rotated.keyring().decrypt_secret(hook.secret_encrypted) == hook_secret

    # The old key can now be retired: mail still reaches every signer, found by the same hash.
    worker = JobWorker(engine=engine, settings=rotated, sender=SMTPSender(rotated), recurring=())
    assert worker.run_until_idle() == len(addresses)
    assert sorted(m["To"] for m in smtp.messages) == sorted(addresses)
    assert sign(client, letter_slug, email="ROTATING0@example.org").status_code == 200
    with engine.connect() as connection:
        assert connection.execute(select(Signature.id)).all().__len__() == len(addresses)
