"""Webhooks: unsafe addresses refused, events delivered once, signed so that the README's
check verifies them, retried when the endpoint fails, redirects not followed, over real
HTTP and HTTPS to a receiver in the test; the workspace page and the command line."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import select
from starlette.testclient import TestClient

from app import cli
from app.config import Settings
from app.counters.service import fold_pending
from app.db import open_session, utcnow
from app.jobs.models import Job, JobState
from app.jobs.registry import HANDLERS, RECURRING
from app.jobs.worker import JobWorker
from app.letters.models import LetterStatus
from app.organisers.service import add_to_letter, find_organiser_id
from app.webhooks import service
from app.webhooks.http import WebhookUrlRefused, resolve
from app.webhooks.models import WebhookDelivery
from tests.conftest import TEST_ENCRYPTION_KEY, TEST_HASH_KEY, TEST_SECRET_KEY
from tests.helpers import TEST_KEYRING, add_signature, csrf_from, update_letter
from tests.organisers.helpers import add_organiser, sign_in
from tests.smtp import SMTPServer
from tests.webhooks.receiver import Receiver, receiver, self_signed

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Loopback endpoints allowed (the receiver is on 127.0.0.1), retries due at once."""
    return settings.model_copy(
        update={"webhook_allow_private": True, "job_backoff_base_seconds": 0.0}
    )


def readme_verify() -> Callable[[str, str, bytes], bool]:
    """The verification example from the README, run as a receiver would run it."""
    [code] = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)
    namespace: dict[str, object] = {}
    exec(code, namespace)
    return namespace["verify"]  # type: ignore[return-value]


def add_hook(engine: Engine, slug: str, url: str) -> tuple[int, str]:
    """Registered once the counts caught up: it starts from the count the public sees."""
    fold_pending(engine)
    with open_session(engine, write=True) as session:
        from app.letters.models import Letter

        letter_id = session.exec(select(Letter.id).where(Letter.slug == slug)).one()
        assert letter_id is not None
        found = service.add_webhook(
            session, letter_id=letter_id, url=url, keyring=TEST_KEYRING, allow_private=True
        )
        session.commit()
        return found


def scan(engine: Engine, settings: Settings) -> int:
    """The scan, once the counts' fold (which runs more often) caught up."""
    fold_pending(engine)
    with open_session(engine, write=True) as session:
        queued = service.scan(session, settings=settings)
        session.commit()
        return queued


def deliveries(engine: Engine) -> list[WebhookDelivery]:
    with open_session(engine) as session:
        return list(session.exec(select(WebhookDelivery).order_by(WebhookDelivery.id)).all())  # type: ignore[arg-type]


def events(hook: Receiver) -> list[tuple[str, dict]]:  # type: ignore[type-arg]
    return [(r.headers["undersigned-event"], json.loads(r.body)["data"]) for r in hook.received]


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://93.184.215.14/hook", "https://"),
        ("https://127.0.0.1/hook", "private or local"),
        ("https://localhost:8443/hook", "private or local"),
        ("https://10.1.2.3/hook", "private or local"),
        ("https://192.168.0.1/hook", "private or local"),
        ("https://169.254.169.254/latest/meta-data", "private or local"),
        ("https://100.64.0.1/hook", "private or local"),
        ("https://[::1]/hook", "private or local"),
        ("https://[::ffff:127.0.0.1]/hook", "private or local"),
        ("https://[fe80::1]/hook", "private or local"),
        ("https://0.0.0.0/hook", "private or local"),
        ("https://user:pass@93.184.215.14/hook", "user name"),
        ("https:///hook", "no host"),
        ("javascript:alert(1)", "https://"),
        ("https://93.184.215.14/a b", "spaces"),
        ("https://93.184.215.14:99999/", "not a web address"),
        ("https://no-such-host.invalid/hook", "could not be found"),
        ("https://93.184.215.14/" + "a" * 500, "longer than"),
    ],
)
def test_unsafe_addresses_are_refused(url: str, why: str) -> None:
    with pytest.raises(WebhookUrlRefused, match=re.escape(why)):
        resolve(url, allow_private=False)


def test_a_public_https_address_is_accepted() -> None:
    target = resolve("https://93.184.215.14:8443/hook?x=1", allow_private=False)
    assert (target.host, target.port, target.path) == ("93.184.215.14", 8443, "/hook?x=1")
    assert target.addresses == ("93.184.215.14",)


def test_events_are_delivered_once_signed_with_counts_only(
    engine: Engine, settings: Settings, worker: JobWorker, letter_slug: str
) -> None:
    update_letter(engine, letter_slug, goal=3)
    add_signature(engine, letter_slug, name="Before Hook", email="before@example.org")
    verify = readme_verify()
    with receiver() as hook:
        webhook_id, secret = add_hook(engine, letter_slug, hook.url)
        assert secret.startswith("whsec_") and len(secret) > 40
        assert scan(engine, settings) == 0  # what happened before it was added is not news
        for n in range(3):
            add_signature(
                engine, letter_slug, name=f"Pat Signer{chr(65 + n)}", email=f"p{n}@example.org"
            )
        assert scan(engine, settings) == 2
        assert scan(engine, settings) == 0  # each event once
        assert worker.run_until_idle() == 2
        update_letter(engine, letter_slug, status=LetterStatus.CLOSED)
        assert scan(engine, settings) == 1
        worker.run_until_idle()

    assert events(hook) == [
        ("signatures.confirmed", {"signatures": 4, "new": 3, "goal": 3}),
        ("goal.reached", {"signatures": 4, "goal": 3}),
        ("letter.closed", {"signatures": 4, "goal": 3}),
    ]
    for request in hook.received:
        assert request.path == "/hook"
        assert request.headers["content-type"] == "application/json"
        signature = request.headers["undersigned-signature"]
        assert verify(secret, signature, request.body)
        assert not verify("whsec_wrong", signature, request.body)
        assert not verify(secret, signature, request.body + b" ")
        body = json.loads(request.body)
        assert body["letter"] == {
            "slug": letter_slug,
            "title": body["letter"]["title"],
            "url": f"http://undersigned.test/letters/{letter_slug}",
        }
        assert str(body["id"]) == request.headers["undersigned-delivery"]
        assert "Signer" not in request.body.decode() and "@" not in request.body.decode()
    # An old signature (a replay an hour later) fails the README's check.
    old = service.sign_body(secret, int(utcnow().timestamp()) - 3600, hook.received[0].body)
    assert not verify(secret, old, hook.received[0].body)
    assert all(d.delivered_at is not None and d.last_status == 200 for d in deliveries(engine))
    assert webhook_id >= 1


def test_a_failing_endpoint_is_retried_with_the_same_delivery(
    engine: Engine, settings: Settings, worker: JobWorker, letter_slug: str
) -> None:
    verify = readme_verify()
    with receiver([500, 503, 200]) as hook:
        _, secret = add_hook(engine, letter_slug, hook.url)
        add_signature(engine, letter_slug, name="Pat Public", email="pat@example.org")
        assert scan(engine, settings) == 1
        worker.run_due()
        [delivery] = deliveries(engine)
        assert (delivery.attempts, delivery.last_status, delivery.delivered_at) == (1, 500, None)
        assert "HTTP 500" in delivery.last_error
        with open_session(engine) as session:
            [job] = session.exec(select(Job).where(Job.kind == service.DELIVER)).all()
            assert job.state is JobState.PENDING and job.attempts == 1
        worker.run_due()
        worker.run_due()
    [delivery] = deliveries(engine)
    assert delivery.attempts == 3 and delivery.last_status == 200
    assert delivery.delivered_at is not None and delivery.last_error == ""
    assert len(hook.received) == 3
    assert len({r.headers["undersigned-delivery"] for r in hook.received}) == 1
    assert len({r.body for r in hook.received}) == 1  # the very same bytes each time
    assert all(verify(secret, r.headers["undersigned-signature"], r.body) for r in hook.received)


def test_an_unreachable_endpoint_is_retried_later(
    engine: Engine, settings: Settings, worker: JobWorker, letter_slug: str
) -> None:
    with receiver() as hook:
        url = hook.url
    add_hook(engine, letter_slug, url)  # the receiver is gone: nothing listens there
    add_signature(engine, letter_slug, name="Pat Public", email="pat@example.org")
    scan(engine, settings)
    worker.run_due()
    [delivery] = deliveries(engine)
    assert delivery.delivered_at is None
    assert delivery.last_status is None and "no answer" in delivery.last_error


def test_redirects_are_not_followed(
    engine: Engine, settings: Settings, worker: JobWorker, letter_slug: str
) -> None:
    with receiver() as elsewhere, receiver([302]) as hook:
        hook.location = elsewhere.url
        add_hook(engine, letter_slug, hook.url)
        add_signature(engine, letter_slug, name="Pat Public", email="pat@example.org")
        scan(engine, settings)
        worker.run_due()
    assert len(hook.received) == 1
    assert elsewhere.received == []
    [delivery] = deliveries(engine)
    assert delivery.delivered_at is None and delivery.last_status == 302


def test_https_with_a_certificate_checked_against_the_ca_file(
    engine: Engine, settings: Settings, worker: JobWorker, letter_slug: str, tmp_path: Path
) -> None:
    cert, key = self_signed(tmp_path)
    with receiver(tls=(cert, key)) as hook:
        add_hook(engine, letter_slug, hook.url)
        add_signature(engine, letter_slug, name="Pat Public", email="pat@example.org")
        scan(engine, settings)
        worker.run_due()  # the self-signed certificate is not trusted: refused
        assert hook.received == []
        assert "no answer" in deliveries(engine)[0].last_error
        trusting = JobWorker(
            engine=engine,
            settings=settings.model_copy(update={"webhook_ca_file": str(cert)}),
            sender=worker.sender,
            recurring=(),
        )
        trusting.run_due()
    assert [event for event, _ in events(hook)] == ["signatures.confirmed"]
    assert deliveries(engine)[0].delivered_at is not None


def test_a_removed_endpoint_gets_nothing_more(
    engine: Engine, settings: Settings, worker: JobWorker, letter_slug: str
) -> None:
    with receiver() as hook:
        webhook_id, _ = add_hook(engine, letter_slug, hook.url)
        add_signature(engine, letter_slug, name="Pat Public", email="pat@example.org")
        scan(engine, settings)
        with open_session(engine, write=True) as session:
            from app.webhooks.models import Webhook

            hook_row = session.get_one(Webhook, webhook_id)
            assert (
                service.remove_webhook(
                    session, letter_id=hook_row.letter_id + 1, webhook_id=webhook_id
                )
                is None
            )
            assert (
                service.remove_webhook(session, letter_id=hook_row.letter_id, webhook_id=webhook_id)
                == hook.url
            )
            session.commit()
        worker.run_until_idle()
    assert hook.received == []
    assert deliveries(engine) == []


def test_the_scan_is_a_recurring_job() -> None:
    assert HANDLERS[service.SCAN] is service.run_scan
    assert HANDLERS[service.DELIVER] is service.deliver
    [scan_job] = [r for r in RECURRING if r.kind == service.SCAN]
    assert scan_job.every == timedelta(minutes=1)


def test_the_workspace_page_adds_shows_the_secret_once_and_removes(
    client: TestClient,
    engine: Engine,
    settings: Settings,
    worker: JobWorker,
    smtp: SMTPServer,
    letter_slug: str,
) -> None:
    add_organiser(engine, "owner@example.org")
    with open_session(engine, write=True) as session:
        organiser_id = find_organiser_id(session, email="owner@example.org", keyring=TEST_KEYRING)
        assert organiser_id is not None
        add_to_letter(session, organiser_id=organiser_id, letter_id=1)
        session.commit()
    sign_in(client, "owner@example.org", worker, smtp)
    base = "/organise/letters/1/webhooks"
    assert 'href="/organise/letters/1/webhooks"' in client.get("/organise/letters/1").text
    page = client.get(base)
    assert page.status_code == 200 and "No webhooks yet" in page.text

    bad = client.post(base, data={"url": "ftp://example.org/", "csrf_token": csrf_from(page.text)})
    assert bad.status_code == 400
    assert "must start with https://" in bad.text
    assert 'value="ftp://example.org/"' in bad.text  # what was typed is kept
    forged = client.post(base, data={"url": "https://93.184.215.14/hook", "csrf_token": "x"})
    assert forged.status_code == 400 and "expired" in forged.text

    added = client.post(
        base, data={"url": "https://93.184.215.14/hook/s3cret", "csrf_token": csrf_from(page.text)}
    )
    assert added.status_code == 200
    assert added.headers["cache-control"] == "no-store"
    [secret] = re.findall(r"whsec_[A-Za-z0-9_-]+", added.text)
    later = client.get(base).text
    assert "https://93.184.215.14/hook/s3cret" in later
    assert secret not in later  # shown once
    with open_session(engine) as session:
        from app.webhooks.models import Webhook

        [row] = session.exec(select(Webhook)).all()
        assert secret not in row.secret_encrypted
        assert TEST_KEYRING.decrypt_secret(row.secret_encrypted) == secret
    audit = client.get("/organise/letters/1/audit").text
    assert "webhook.added" in audit and "s3cret" not in audit

    removed = client.post(
        f"{base}/{row.id}/delete", data={"csrf_token": csrf_from(later)}, follow_redirects=False
    )
    assert removed.status_code == 303
    assert "No webhooks yet" in client.get(base).text
    assert "webhook.removed" in client.get("/organise/letters/1/audit").text


def test_the_command_line_adds_lists_and_removes(
    engine: Engine,
    settings: Settings,
    letter_slug: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in {
        "DATABASE_URL": settings.resolved_database_url(),
        "DATA_DIR": str(settings.data_dir),
        "SECRET_KEYS": TEST_SECRET_KEY,
        "ENCRYPTION_KEYS": TEST_ENCRYPTION_KEY,
        "HASH_KEY": TEST_HASH_KEY,
    }.items():
        monkeypatch.setenv(f"UNDERSIGNED_{name}", value)
    assert cli.main(["webhooks", "add", letter_slug, "http://93.184.215.14/hook"]) == 1
    assert "must start with https://" in capsys.readouterr().err
    assert cli.main(["webhooks", "add", letter_slug, "https://93.184.215.14/hook"]) == 0
    out = capsys.readouterr().out
    [secret] = re.findall(r"whsec_[A-Za-z0-9_-]+", out)
    assert cli.main(["webhooks", "list", letter_slug]) == 0
    listed = capsys.readouterr().out
    assert "https://93.184.215.14/hook" in listed and secret not in listed
    webhook_id = listed.split("\t")[0]
    assert cli.main(["webhooks", "remove", letter_slug, "999"]) == 1
    assert cli.main(["webhooks", "remove", letter_slug, webhook_id]) == 0
    assert cli.main(["webhooks", "list", "no-such-letter"]) == 1
    capsys.readouterr()
    assert cli.main(["webhooks", "list", letter_slug]) == 0
    assert capsys.readouterr().out == ""
