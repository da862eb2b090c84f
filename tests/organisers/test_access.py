"""Every workspace route, tried as nobody and as the wrong organiser: none may show or change
another organiser's letter. The routes are read from the app, so a new one is covered too."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import Engine, text
from starlette.routing import Route
from starlette.testclient import TestClient

from app.config import Settings
from app.db import open_session
from app.jobs.worker import JobWorker
from app.organisers.dashboard import router as dashboard_router
from app.organisers.exports import router as exports_router
from app.organisers.moderation import router as moderation_router
from app.organisers.offline import router as offline_router
from app.organisers.pdf_letters import router as pdf_letters_router
from app.organisers.recipients import router as recipients_router
from app.organisers.second_factor import router as second_factor_router
from app.organisers.sign_in import router as sign_in_router
from app.organisers.translations import router as translations_router
from app.organisers.workspace import router as workspace_router
from app.signatures import moderation, offline
from app.signatures.models import RuleKind, Visibility
from app.signatures.offline_csv import OfflineRow
from app.updates.forms import parse_update_form
from app.updates.service import add_version, create_update
from app.updates.versions import router as update_versions_router
from app.updates.workspace import router as updates_router
from app.webhooks import service as webhooks
from app.webhooks.routes import router as webhooks_router
from tests.exports.pdf_files import exported
from tests.helpers import TEST_KEYRING, add_signature, csrf_from
from tests.organisers.helpers import add_organiser, sign_in
from tests.smtp import SMTPServer

# Reachable without a session (each tested on its own in test_sign_in / test_second_factor).
PUBLIC = {
    "/organise/sign-in",
    "/organise/sign-in/sent",
    "/organise/sign-in/{token}",
    "/organise/sign-in/code",
}
FORM = {
    "title": "Hijacked",
    "slug": "hijacked",
    "body_markdown": "Words put in our mouth.",
    "language": "de",
    "to": "closed",
    "email": "intruder@example.org",
    "name": "Someone else",
    "direction": "down",
    "hide": "1",
    "reason": "Taken over",
    "kind": "pattern",
    "pattern": "Anna",
    "subject": "Words put in our mouth",
    "url": "https://93.184.215.15/taken",
    "attestation": "new",
    "collector": "Intruder",
    "method": "Made up",
    "collected_from": "2026-01-01",
    "again": "yes",
    "recipient": "all",
}


def concrete(path: str, letter_id: str) -> str:
    """A route's path with its letter and with signature, rule, recipient, update, update
    version, webhook, import, PDF export or file 1 (which exist in the tests), and the demo
    letter's Russian translation."""
    for other in (
        "{signature_id}",
        "{rule_id}",
        "{item_id}",
        "{update_id}",
        "{version_id}",
        "{webhook_id}",
        "{import_id}",
        "{export_id}",
        "{file_id}",
    ):
        path = path.replace(other, "1")
    return path.replace("{language}", "ru").replace("{letter_id}", letter_id)


def workspace_routes(client: TestClient) -> list[tuple[str, str]]:
    found = []
    for route in [
        *sign_in_router.routes,
        *second_factor_router.routes,
        *workspace_router.routes,
        *recipients_router.routes,
        *moderation_router.routes,
        *exports_router.routes,
        *dashboard_router.routes,
        *translations_router.routes,
        *updates_router.routes,
        *update_versions_router.routes,
        *webhooks_router.routes,
        *offline_router.routes,
        *pdf_letters_router.routes,
    ]:
        if isinstance(route, Route):
            if route.path in PUBLIC:
                continue
            for method in sorted(route.methods or ()):
                if method != "HEAD":
                    found.append((method, route.path))
    assert len(found) >= 10, found  # the workspace is really being enumerated
    return found


def snapshot(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        letters = connection.execute(text("SELECT * FROM letters ORDER BY id")).all()
        owners = connection.execute(
            text("SELECT letter_id, organiser_id FROM letter_organisers")
        ).all()
        audit = connection.execute(
            text("SELECT action FROM audit_entries WHERE letter_id IS NOT NULL")
        ).all()
        people = [
            connection.execute(text(f"SELECT * FROM {table} ORDER BY id")).all()
            for table in (
                "recipients",
                "first_signatories",
                "supporting_statements",
                "letter_translations",
                "letter_versions",
            )
        ]
        signatures = connection.execute(text("SELECT * FROM signatures ORDER BY id")).all()
        rules = connection.execute(text("SELECT * FROM invalidation_rules ORDER BY id")).all()
        updates = [
            connection.execute(text(f"SELECT * FROM {table} ORDER BY id")).all()
            for table in ("updates", "update_versions", "update_deliveries")
        ]
        jobs = connection.execute(text("SELECT kind, ref_id FROM jobs ORDER BY id")).all()
        hooks = connection.execute(text("SELECT * FROM webhooks ORDER BY id")).all()
        paper = [
            connection.execute(text(f"SELECT * FROM {table} ORDER BY id")).all()
            for table in ("attestations", "offline_imports")
        ]
        exports = connection.execute(text("SELECT * FROM pdf_exports ORDER BY id")).all()
    return [
        letters, sorted(owners), audit, people, signatures, rules, updates, jobs, hooks, paper,
        exports,
    ]  # fmt: skip


@pytest.fixture
def moderated(engine: Engine, settings: Settings, letter_slug: str) -> None:
    """Signature 1 (named Anna, public), rule 1 (already run), update 1, webhook 1 and offline
    import 1 (Olga, under attestation 1) on the demo letter, letter 1; and PDF export 1 of it,
    finished, with file 1."""
    exported(engine, settings, letter_slug)
    signature = add_signature(engine, letter_slug, name="Anna Victim", email="anna@example.org")
    add_signature(engine, letter_slug, name="Bob Spam", email="bob@spam.example")
    with open_session(engine, write=True) as session:
        moderation.apply_rule(
            session,
            letter_id=signature.letter_id,
            rule=moderation.BulkRule(kind=RuleKind.DOMAIN, domain="spam.example", reason="x"),
            organiser_id=None,
            keyring=TEST_KEYRING,
        )
        # Update 1, a draft with version 1, on letter 1.
        form = parse_update_form({"subject": "Ours", "body_markdown": "Text.", "language": "en"})
        update_id = create_update(session, letter_id=1, organiser_id=None, form=form)
        form.values["language"] = "ru"
        add_version(session, letter_id=1, update_id=update_id, form=form)
        hook_id, _ = webhooks.add_webhook(
            session,
            letter_id=signature.letter_id,
            url="https://93.184.215.14/hook",
            keyring=TEST_KEYRING,
            allow_private=False,
        )
        attestation_id = offline.create_attestation(
            session,
            letter_id=1,
            data=offline.AttestationInput(
                collector="Anna Victim", method="paper", collected_from=date(2026, 1, 1),
                collected_until=None,
            ),
            organiser_id=None,
        )  # fmt: skip
        row = OfflineRow("Olga Prisoner", "", "", "", Visibility.LETTER_ONLY)
        import_id, _ = offline.import_rows(
            session, letter_id=1, attestation_id=attestation_id, rows=[row], language="en",
            file_name="olga.csv", file_sha256="0" * 64, organiser_id=None,
        )  # fmt: skip
        session.commit()
    assert (signature.id, signature.letter_id, update_id, hook_id) == (1, 1, 1, 1)
    assert (attestation_id, import_id) == (1, 1)


def test_nobody_reaches_any_workspace_route(
    client: TestClient, engine: Engine, letter_slug: str, moderated: None
) -> None:
    token = csrf_from(client.get("/organise/sign-in").text)
    before = snapshot(engine)
    for method, path in workspace_routes(client):
        url = concrete(path, "1")
        response = client.request(
            method, url, data=FORM | {"csrf_token": token}, follow_redirects=False
        )
        if method == "GET":
            assert (response.status_code, response.headers.get("location")) == (
                303,
                "/organise/sign-in",
            ), (method, url)
        else:
            assert response.status_code == 403, (method, url, response.status_code)
    assert snapshot(engine) == before


@pytest.fixture
def intruder(
    client: TestClient, engine: Engine, worker: JobWorker, smtp: SMTPServer, letter_slug: str
) -> TestClient:
    """Signed in, organising nothing; the demo letter belongs to someone else."""
    add_organiser(engine, "intruder@example.org")
    sign_in(client, "intruder@example.org", worker, smtp)
    return client


def test_the_wrong_organiser_sees_and_changes_nothing(
    intruder: TestClient, engine: Engine, moderated: None
) -> None:
    token = csrf_from(intruder.get("/organise").text)
    assert "All for all" not in intruder.get("/organise").text
    before = snapshot(engine)
    checked = 0
    for method, path in workspace_routes(intruder):
        if "{letter_id}" not in path:
            continue
        for letter_id in ("1", "999999"):
            url = concrete(path, letter_id)
            response = intruder.request(
                method, url, data=FORM | {"csrf_token": token}, follow_redirects=False
            )
            assert response.status_code == 404, (method, url, response.status_code)
            assert "All for all" not in response.text
            assert "Anna Victim" not in response.text
            assert "Olga Prisoner" not in response.text
            checked += 1
    assert checked >= 12
    assert snapshot(engine) == before
