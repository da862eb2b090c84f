"""Moderation as an organiser does it: search, hide a name, invalidate and restore, bulk rules
with a preview, reversal; counts and public lists follow at once, and the audit log says who."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, text
from sqlmodel import select
from starlette.testclient import TestClient

from app.db import open_session, utcnow
from app.jobs.worker import JobWorker
from app.letters.models import Letter
from app.organisers.service import add_to_letter, find_organiser_id
from app.signatures import moderation
from app.signatures.models import RuleKind, Signature, SignatureState, Visibility
from tests.helpers import (
    SAME_ORIGIN,
    TEST_KEYRING,
    add_letter,
    add_signature,
    count,
    csrf_from,
    links,
    new_mail,
    press_button,
    sign,
)
from tests.html import field_errors, parse
from tests.organisers.helpers import add_organiser, sign_in
from tests.smtp import SMTPServer

MODERATOR = "moderator@example.org"
START = datetime(2026, 3, 1, 12, 0, tzinfo=utcnow().tzinfo)


def letter_id_of(engine: Engine, slug: str) -> int:
    with open_session(engine) as session:
        found = session.exec(select(Letter.id).where(Letter.slug == slug)).one()
        assert found is not None
        return found


@pytest.fixture
def moderator(
    client: TestClient, engine: Engine, worker: JobWorker, smtp: SMTPServer, letter_slug: str
) -> TestClient:
    add_organiser(engine, MODERATOR)
    with open_session(engine, write=True) as session:
        organiser_id = find_organiser_id(session, email=MODERATOR, keyring=TEST_KEYRING)
        assert organiser_id is not None
        add_to_letter(
            session, organiser_id=organiser_id, letter_id=letter_id_of(engine, letter_slug)
        )
        session.commit()
    sign_in(client, MODERATOR, worker, smtp)
    return client


@pytest.fixture
def crowd(engine: Engine, letter_slug: str) -> dict[str, int]:
    """Ten signatures with known names, domains, countries and times; name -> id."""
    people = [
        ("Anna Petrova", "anna@mail.example", "RU", 0),
        ("Boris Spam", "b1@spam.example", "RU", 1),
        ("Spamsky One", "b2@spam.example", "UA", 2),
        ("Spamsky Two", "b3@SPAM.example", "UA", 3),
        ("Chloé Martin", "chloe@mail.example", "FR", 30),
        ("Dmytro Koval", "dmytro@post.example", "UA", 31),
        ("Eve Window", "eve@post.example", "DE", 32),
        ("Fred Window", "fred@post.example", "DE", 33),
    ]
    ids = {}
    for name, email, country, minutes in people:
        signature = add_signature(
            engine,
            letter_slug,
            name=name,
            email=email,
            country=country,
            city="Vilnius",
            affiliation="Somewhere",
            confirmed_at=START + timedelta(minutes=minutes),
        )
        assert signature.id is not None
        ids[name] = signature.id
    pending = add_signature(
        engine, letter_slug, name="Paula Pending", email="paula@spam.example",
        state=SignatureState.PENDING,
    )  # fmt: skip
    quiet = add_signature(
        engine, letter_slug, name="Quentin Quiet", email="q@mail.example",
        visibility=Visibility.COUNTED_ONLY, confirmed_at=START + timedelta(days=3),
    )  # fmt: skip
    assert pending.id is not None and quiet.id is not None
    ids["Paula Pending"], ids["Quentin Quiet"] = pending.id, quiet.id
    return ids


def listed(client: TestClient, letter_id: int, query: str = "") -> list[str]:
    page = client.get(f"/organise/letters/{letter_id}/signatures{query}")
    assert page.status_code == 200, page.text
    return [
        row.find("td").text()
        for row in parse(page.text).find_all("tr")
        if row.find("td") is not None
    ]


def audit_actions(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT action, detail FROM audit_entries WHERE letter_id IS NOT NULL ORDER BY id")
        ).all()
    return [(action, detail) for action, detail in rows]


def state_of(engine: Engine, signature_id: int) -> Signature:
    with open_session(engine) as session:
        signature = session.get(Signature, signature_id)
        assert signature is not None
        return signature


def test_search_by_name_domain_country_state_visibility_and_dates(
    moderator: TestClient, engine: Engine, letter_slug: str, crowd: dict[str, int]
) -> None:
    letter_id = letter_id_of(engine, letter_slug)
    everyone = listed(moderator, letter_id)
    assert len(everyone) == len(crowd)
    assert everyone[0] == "Quentin Quiet"  # newest first
    assert listed(moderator, letter_id, "?name=spamsky") == ["Spamsky Two", "Spamsky One"]
    assert listed(moderator, letter_id, "?name=%25") == []  # a wildcard is a plain character
    # The domain is compared through its keyed hash, whatever the case typed or stored.
    assert sorted(listed(moderator, letter_id, "?domain=%40Spam.Example")) == [
        "Boris Spam",
        "Paula Pending",
        "Spamsky One",
        "Spamsky Two",
    ]
    assert listed(moderator, letter_id, "?country=de") == ["Fred Window", "Eve Window"]
    assert listed(moderator, letter_id, "?state=pending") == ["Paula Pending"]
    assert listed(moderator, letter_id, "?visibility=counted_only") == ["Quentin Quiet"]
    assert listed(moderator, letter_id, "?from=2026-03-04&until=2026-03-04") == ["Quentin Quiet"]
    assert len(listed(moderator, letter_id, "?from=2026-03-01&until=2026-03-01")) == 8
    assert listed(moderator, letter_id, "?country=UA&name=koval") == ["Dmytro Koval"]
    # The organiser never sees an address.
    page = moderator.get(f"/organise/letters/{letter_id}/signatures").text
    assert "@spam.example" not in page and "anna@" not in page


def test_a_bad_search_is_marked_next_to_its_field(
    moderator: TestClient, engine: Engine, letter_slug: str, crowd: dict[str, int]
) -> None:
    letter_id = letter_id_of(engine, letter_slug)
    page = moderator.get(f"/organise/letters/{letter_id}/signatures?from=31.03.2026&state=odd")
    assert page.status_code == 400
    doc = parse(page.text)
    [form] = [f for f in doc.find_all("form") if f.attrs.get("role") == "search"]
    errors = field_errors(doc, form)
    assert set(errors) == {"from", "state"}
    assert 'value="31.03.2026"' in page.text


def test_keyset_pages_cover_every_signature_once(
    moderator: TestClient, engine: Engine, letter_slug: str
) -> None:
    letter_id = letter_id_of(engine, letter_slug)
    for number in range(120):
        add_signature(engine, letter_slug, name=f"Signer {number:03}", email=f"s{number}@x.example")
    seen: list[str] = []
    path = f"/organise/letters/{letter_id}/signatures?name=Signer"
    while path:
        page = moderator.get(path)
        assert page.status_code == 200
        doc = parse(page.text)
        seen += [row.find("td").text() for row in doc.find_all("tr") if row.find("td") is not None]
        older = [a for a in doc.find_all("a") if a.attrs.get("rel") == "next"]
        path = older[0].attrs["href"] if older else ""
        assert "after=" in path or not path
    assert seen == [f"Signer {number:03}" for number in reversed(range(120))]


def _post(client: TestClient, path: str, **data: str):  # type: ignore[no-untyped-def]
    token = csrf_from(client.get("/organise").text)
    return client.post(path, data=data | {"csrf_token": token}, follow_redirects=False)


def test_a_hidden_name_still_counts_but_is_not_named(
    moderator: TestClient, engine: Engine, letter_slug: str, crowd: dict[str, int]
) -> None:
    letter_id = letter_id_of(engine, letter_slug)
    before = count(moderator, letter_slug)
    assert "Anna Petrova" in moderator.get(f"/letters/{letter_slug}/signatures").text
    base = f"/organise/letters/{letter_id}/signatures/{crowd['Anna Petrova']}"
    answer = _post(moderator, f"{base}/visibility", hide="1", back="name=anna")
    assert (answer.status_code, answer.headers["location"]) == (
        303,
        f"/organise/letters/{letter_id}/signatures?name=anna",
    )
    assert count(moderator, letter_slug) == before
    assert "Anna Petrova" not in moderator.get(f"/letters/{letter_slug}/signatures").text
    assert "Anna Petrova" not in moderator.get(f"/letters/{letter_slug}").text
    assert listed(moderator, letter_id, "?visibility=hidden") == ["Anna Petrova"]
    _post(moderator, f"{base}/visibility", hide="0")
    assert "Anna Petrova" in moderator.get(f"/letters/{letter_slug}/signatures").text
    assert audit_actions(engine)[-2:] == [
        ("signature.hidden", f"signature {crowd['Anna Petrova']}"),
        ("signature.shown", f"signature {crowd['Anna Petrova']}"),
    ]


def test_invalidate_with_a_reason_then_restore(
    moderator: TestClient, engine: Engine, letter_slug: str, crowd: dict[str, int]
) -> None:
    letter_id = letter_id_of(engine, letter_slug)
    before = count(moderator, letter_slug)
    signature_id = crowd["Boris Spam"]
    base = f"/organise/letters/{letter_id}/signatures/{signature_id}"
    refused = _post(moderator, f"{base}/invalidate", reason="  ")
    assert refused.status_code == 400
    doc = parse(refused.text)
    [form] = [f for f in doc.find_all("form") if f.attrs.get("action") == f"{base}/invalidate"]
    assert field_errors(doc, form) == {"reason": "Please say why this signature is invalid."}
    assert count(moderator, letter_slug) == before

    assert _post(moderator, f"{base}/invalidate", reason="A bot").status_code == 303
    assert count(moderator, letter_slug) == before - 1
    assert "Boris Spam" not in moderator.get(f"/letters/{letter_slug}/signatures").text
    stored = state_of(engine, signature_id)
    assert (stored.state, stored.invalidated_reason) == (SignatureState.INVALIDATED, "A bot")
    overview = moderator.get(f"/organise/letters/{letter_id}").text
    assert f"<dd>{before - 1}" in overview

    assert _post(moderator, f"{base}/restore").status_code == 303
    assert count(moderator, letter_slug) == before
    assert state_of(engine, signature_id).state is SignatureState.CONFIRMED
    assert [action for action, _ in audit_actions(engine)][-2:] == [
        "signature.invalidated",
        "signature.restored",
    ]


def test_a_pending_signature_cannot_be_invalidated_nor_another_letters(
    moderator: TestClient, engine: Engine, letter_slug: str, crowd: dict[str, int]
) -> None:
    letter_id = letter_id_of(engine, letter_slug)
    base = f"/organise/letters/{letter_id}/signatures"
    _post(moderator, f"{base}/{crowd['Paula Pending']}/invalidate", reason="x")
    assert state_of(engine, crowd["Paula Pending"]).state is SignatureState.PENDING
    assert _post(moderator, f"{base}/999999/invalidate", reason="x").status_code == 404
    assert audit_actions(engine) == []


def _rule(client: TestClient, letter_id: int, **fields: str):  # type: ignore[no-untyped-def]
    """Preview a rule, read the count, press the confirm button."""
    base = f"/organise/letters/{letter_id}/signatures/rules"
    page = client.get(base)
    assert page.status_code == 200
    preview = client.post(
        f"{base}/preview", data={"reason": "Flood", **fields, "csrf_token": csrf_from(page.text)}
    )
    assert preview.status_code == 200, preview.text
    doc = parse(preview.text)
    counted = doc.by_id("rule-count")
    assert counted is not None
    shown = int(counted.text())
    [confirm] = [f for f in doc.find_all("form") if f.attrs.get("action") == base]
    data = {
        e.attrs["name"]: e.attrs.get("value", "")
        for e in confirm.find_all("input")
        if e.attrs.get("name")
    }
    return shown, client.post(base, data=data, follow_redirects=False), preview.text


@pytest.mark.parametrize(
    ("fields", "hit"),
    [
        (
            {"kind": "domain", "domain": "spam.example"},
            {"Boris Spam", "Spamsky One", "Spamsky Two"},
        ),
        (
            {
                "kind": "window",
                "window_from": "2026-03-01T12:30",
                "window_until": "2026-03-01T12:33",
            },
            {"Chloé Martin", "Dmytro Koval", "Eve Window"},
        ),
        ({"kind": "pattern", "pattern": "window"}, {"Eve Window", "Fred Window"}),
    ],
)
def test_bulk_rule_preview_count_is_what_it_invalidates_and_reversal_restores_it(
    moderator: TestClient,
    engine: Engine,
    letter_slug: str,
    crowd: dict[str, int],
    fields: dict[str, str],
    hit: set[str],
) -> None:
    letter_id = letter_id_of(engine, letter_slug)
    before = count(moderator, letter_slug)
    # One of them was invalidated by hand first: the rule leaves it, its reversal too.
    by_hand = sorted(hit)[0]
    base = f"/organise/letters/{letter_id}/signatures"
    _post(moderator, f"{base}/{crowd[by_hand]}/invalidate", reason="Known fake")
    shown, done, preview_page = _rule(moderator, letter_id, **fields)
    assert shown == len(hit) - 1
    assert all(name in preview_page for name in hit - {by_hand})
    assert done.status_code == 303
    assert count(moderator, letter_slug) == before - len(hit)
    invalidated = set(listed(moderator, letter_id, "?state=invalidated"))
    assert invalidated == hit
    with engine.connect() as connection:
        rule_id, number = connection.execute(
            text("SELECT id, invalidated FROM invalidation_rules")
        ).one()
    assert number == shown
    described = {
        "domain": "@spam.example",
        "pattern": "“window”",
        "window": "2026-03-01 12:30 to 2026-03-01 12:33 UTC",
    }[fields["kind"]]
    assert audit_actions(engine)[-1] == (
        "rule.applied",
        f"rule {rule_id} ({fields['kind']} {described}): {shown} invalidated",
    )

    assert _post(moderator, f"{base}/rules/{rule_id}/reverse").status_code == 303
    assert count(moderator, letter_slug) == before - 1
    assert listed(moderator, letter_id, "?state=invalidated") == [by_hand]
    assert audit_actions(engine)[-1] == ("rule.reversed", f"rule {rule_id}: {shown} restored")
    # A second press restores nothing more and records nothing.
    _post(moderator, f"{base}/rules/{rule_id}/reverse")
    assert audit_actions(engine)[-1] == ("rule.reversed", f"rule {rule_id}: {shown} restored")
    assert "Reversed" in moderator.get(f"{base}/rules").text


def test_a_rule_form_with_mistakes_changes_nothing(
    moderator: TestClient, engine: Engine, letter_slug: str, crowd: dict[str, int]
) -> None:
    letter_id = letter_id_of(engine, letter_slug)
    base = f"/organise/letters/{letter_id}/signatures/rules"
    token = csrf_from(moderator.get(base).text)
    for fields, wrong in [
        ({"kind": "domain", "domain": "nodot", "reason": "x"}, {"domain"}),
        ({"kind": "pattern", "pattern": "a", "reason": ""}, {"pattern", "reason"}),
        (
            {
                "kind": "window",
                "window_from": "2026-03-02T00:00",
                "window_until": "2026-03-01T00:00",
                "reason": "x",
            },
            {"window_until"},
        ),
    ]:
        for path in (f"{base}/preview", base):
            answer = moderator.post(path, data=fields | {"csrf_token": token})
            assert answer.status_code == 400
            doc = parse(answer.text)
            [form] = [f for f in doc.find_all("form") if f.attrs.get("action") == f"{base}/preview"]
            assert set(field_errors(doc, form)) == wrong
    forged = moderator.post(base, data={"kind": "domain", "domain": "spam.example", "reason": "x"})
    assert forged.status_code == 400
    assert listed(moderator, letter_id, "?state=invalidated") == []
    assert audit_actions(engine) == []


def test_an_invalidated_or_hidden_signer_can_still_withdraw(
    moderator: TestClient,
    engine: Engine,
    letter_slug: str,
    worker: JobWorker,
    smtp: SMTPServer,
) -> None:
    letter_id = letter_id_of(engine, letter_slug)
    sign(moderator, letter_slug, name="Wanda Withdraws", email="wanda@spam.example")
    [mail] = new_mail(worker, smtp)
    assert press_button(moderator, links(mail)["confirm"]).status_code == 200
    with open_session(engine) as session:
        signature_id = session.exec(
            select(Signature.id).where(Signature.name == "Wanda Withdraws")
        ).one()
    assert signature_id is not None
    base = f"/organise/letters/{letter_id}/signatures"
    _post(moderator, f"{base}/{signature_id}/visibility", hide="1")
    _, done, _ = _rule(moderator, letter_id, kind="domain", domain="spam.example")
    assert done.status_code == 303
    assert state_of(engine, signature_id).state is SignatureState.INVALIDATED
    # Asking for fresh links works for an invalidated signature too.
    assert moderator.get(f"/letters/{letter_slug}/manage").status_code == 200
    moderator.post(
        f"/letters/{letter_slug}/manage", data={"email": "wanda@spam.example"}, headers=SAME_ORIGIN
    )
    [again] = new_mail(worker, smtp)
    assert press_button(moderator, links(again)["withdraw"]).status_code == 200
    gone = state_of(engine, signature_id)
    assert (gone.state, gone.name, gone.invalidated_reason, gone.invalidation_rule_id) == (
        SignatureState.WITHDRAWN,
        "",
        "",
        None,
    )
    with engine.connect() as connection:
        rule_id = connection.execute(text("SELECT id FROM invalidation_rules")).scalar_one()
    _post(moderator, f"{base}/rules/{rule_id}/reverse")
    assert state_of(engine, signature_id).state is SignatureState.WITHDRAWN


def test_another_letters_signature_or_rule_is_not_found(
    moderator: TestClient, engine: Engine, letter_slug: str, crowd: dict[str, int]
) -> None:
    """The moderator organises this letter only: its id in the path cannot reach a signature
    or a rule of a letter they do not organise."""
    own = letter_id_of(engine, letter_slug)
    other_slug = "someone-elses"
    add_letter(engine, other_slug)
    stranger = add_signature(engine, other_slug, name="Stranger Danger", email="s@spam.example")
    with open_session(engine, write=True) as session:
        rule_id, _ = moderation.apply_rule(
            session,
            letter_id=stranger.letter_id,
            rule=moderation.BulkRule(kind=RuleKind.DOMAIN, domain="spam.example", reason="x"),
            organiser_id=None,
            keyring=TEST_KEYRING,
        )
        session.commit()
    base = f"/organise/letters/{own}/signatures"
    for path, data in [
        (f"{base}/{stranger.id}/visibility", {"hide": "1"}),
        (f"{base}/{stranger.id}/invalidate", {"reason": "x"}),
        (f"{base}/{stranger.id}/restore", {}),
        (f"{base}/rules/{rule_id}/reverse", {}),
    ]:
        assert _post(moderator, path, **data).status_code == 404, path
    assert listed(moderator, own, "?name=Stranger") == []
    after = state_of(engine, stranger.id or 0)
    assert (after.state, after.hidden_at) == (SignatureState.INVALIDATED, None)
    assert audit_actions(engine) == []
