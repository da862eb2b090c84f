"""Every workspace route, tried as nobody and as the wrong organiser: none may show or change
another organiser's letter. The routes are read from the app, so a new one is covered too."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from starlette.routing import Route
from starlette.testclient import TestClient

from app.jobs.worker import JobWorker
from app.organisers.dashboard import router as dashboard_router
from app.organisers.exports import router as exports_router
from app.organisers.sign_in import router as sign_in_router
from app.organisers.workspace import router as workspace_router
from tests.helpers import csrf_from
from tests.organisers.helpers import add_organiser, sign_in
from tests.smtp import SMTPServer

PUBLIC = {"/organise/sign-in", "/organise/sign-in/sent", "/organise/sign-in/{token}"}
FORM = {
    "title": "Hijacked",
    "slug": "hijacked",
    "body_markdown": "Words put in our mouth.",
    "language": "en",
    "to": "closed",
    "email": "intruder@example.org",
}


def workspace_routes(client: TestClient) -> list[tuple[str, str]]:
    found = []
    for route in [
        *sign_in_router.routes,
        *workspace_router.routes,
        *exports_router.routes,
        *dashboard_router.routes,
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
    return [letters, sorted(owners), audit]


def test_nobody_reaches_any_workspace_route(
    client: TestClient, engine: Engine, letter_slug: str
) -> None:
    token = csrf_from(client.get(f"/letters/{letter_slug}").text)
    before = snapshot(engine)
    for method, path in workspace_routes(client):
        url = path.replace("{letter_id}", "1")
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


def test_the_wrong_organiser_sees_and_changes_nothing(intruder: TestClient, engine: Engine) -> None:
    token = csrf_from(intruder.get("/organise").text)
    assert "All for all" not in intruder.get("/organise").text
    before = snapshot(engine)
    checked = 0
    for method, path in workspace_routes(intruder):
        if "{letter_id}" not in path:
            continue
        for letter_id in ("1", "999999"):
            url = path.replace("{letter_id}", letter_id)
            response = intruder.request(
                method, url, data=FORM | {"csrf_token": token}, follow_redirects=False
            )
            assert response.status_code == 404, (method, url, response.status_code)
            assert "All for all" not in response.text
            checked += 1
    assert checked >= 12
    assert snapshot(engine) == before
