"""Names that are names, through the sign form: refused ones come back with the message next
to the field and what was typed kept; accepted ones are stored as typed (cleaned)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from app.kit.text import HIDDEN, LINK, SHORT_NAME
from tests.helpers import queued_jobs, sign, signatures
from tests.html import field_errors, form_values, parse

PERSIAN = "مهرداد می\u200cخواهد"  # noqa: RUF001 - Persian, with a non-joiner

REFUSED = [
    ({"name": "\u2800\u2800\u2800"}, "name", HIDDEN),
    ({"name": "\u3164\u3164\u3164"}, "name", HIDDEN),
    ({"name": "\u0301\u0301\u0301"}, "name", SHORT_NAME),
    ({"name": "evil.app"}, "name", LINK),
    ({"name": "\uff45\uff56\uff49\uff4c\uff0e\uff43\uff4f\uff4d"}, "name", LINK),
    ({"name": "evil\u3002com"}, "name", LINK),
    ({"name": "x@y.z"}, "name", LINK),
    ({"name": "Anna http:"}, "name", LINK),
    ({"affiliation": "https://booking.com"}, "affiliation", LINK),
    ({"affiliation": "www.booking.com"}, "affiliation", LINK),
    ({"affiliation": "booking.com/careers"}, "affiliation", LINK),
    ({"city": "evil\u3002com/x"}, "city", LINK),
    ({"city": "\u2800\u2800"}, "city", HIDDEN),
]


@pytest.mark.parametrize(("fields", "field", "message"), REFUSED)
def test_refused_next_to_the_field_with_what_was_typed(
    client: TestClient,
    engine: Engine,
    letter_slug: str,
    fields: dict[str, str],
    field: str,
    message: str,
) -> None:
    response = sign(client, letter_slug, **fields)

    assert response.status_code == 400
    doc = parse(response.text)
    [form] = [f for f in doc.find_all("form") if f.attrs.get("action", "").endswith("/sign")]
    errors = field_errors(doc, form)
    assert set(errors) == {field}
    assert message in errors[field]
    assert form_values(form)[field] == fields[field]
    assert signatures(engine) == []
    assert queued_jobs(engine) == []


def test_a_persian_name_with_a_non_joiner_is_stored(
    client: TestClient, engine: Engine, letter_slug: str
) -> None:
    response = sign(client, letter_slug, name=PERSIAN, affiliation="Booking.com", city="Tehran")

    assert response.status_code == 200
    [stored] = signatures(engine)
    assert stored.name == PERSIAN
    assert stored.affiliation == "Booking.com"
