"""A letter's recipients, first signatories and supporting statements: their rules, and adding,
changing, ordering and removing them. The workspace's forms and letter files (app/letters/files.py)
share the rules."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, cast

from sqlmodel import Session, col, select

from app.kit.i18n import N_
from app.kit.text import has_control_characters
from app.letters.forms import LANGUAGE
from app.letters.models import FirstSignatory, Recipient, SupportingStatement
from app.signatures.schemas import country_names

Kind = Literal["recipients", "first_signatories", "statements"]
Row = Recipient | FirstSignatory | SupportingStatement

# Each kind's fields, in the order forms and files show them: (name, limit, required).
FIELDS: dict[Kind, tuple[tuple[str, int, bool], ...]] = {
    "recipients": (
        ("name", 200, True),
        ("title", 200, False),
        ("organisation", 200, False),
        ("country", 2, False),
        ("postal_address", 1000, False),
        ("language", 12, True),
    ),
    "first_signatories": (("name", 200, True), ("description", 200, False)),
    # Who backs the letter, who they are, and their message (short: it is printed with it).
    "statements": (("name", 200, True), ("description", 200, False), ("body", 2000, True)),
}
MULTI_LINE = frozenset({"postal_address", "body"})
DEFAULTS: dict[Kind, dict[str, str]] = {
    "recipients": {"language": "en"},
    "first_signatories": {},
    "statements": {},
}
MODELS: dict[Kind, type[Row]] = {
    "recipients": Recipient,
    "first_signatories": FirstSignatory,
    "statements": SupportingStatement,
}


class ItemNotFound(Exception):
    """No such recipient, first signatory or statement on this letter."""


def field_names(kind: Kind) -> list[str]:
    return [name for name, _, _ in FIELDS[kind]]


def cleaned(kind: Kind, values: Mapping[str, str]) -> dict[str, str]:
    """The values as they are stored: trimmed, one kind of line break."""
    result = {}
    for name in field_names(kind):
        value = str(values.get(name, "")).replace("\r\n", "\n").replace("\r", "\n")
        if name in MULTI_LINE:
            value = "\n".join(line.strip() for line in value.strip().split("\n"))
        else:
            value = value.strip()
        result[name] = value.upper() if name == "country" else value
    return result


def problems(kind: Kind, values: Mapping[str, str]) -> dict[str, str]:
    """Field name -> what is wrong with it, for values already cleaned."""
    errors: dict[str, str] = {}
    for name, limit, required in FIELDS[kind]:
        value = values.get(name, "")
        if required and not value:
            errors[name] = N_("This is required.")
        elif len(value) > limit and name != "country":
            errors[name] = N_("This is too long.")
        elif has_control_characters(value.replace("\n", " ").replace("\t", " ")):
            errors[name] = N_("Please remove the special or invisible characters.")
    country = values.get("country", "")
    if "country" in values and country and country not in country_names():
        errors["country"] = N_("Use a two-letter country code such as DE, or leave it empty.")
    language = values.get("language")
    if language is not None and "language" not in errors and not LANGUAGE.fullmatch(language):
        errors["language"] = N_("Use a language code such as en, ru or uk.")
    return errors


@dataclass(frozen=True, slots=True)
class Item:
    """A recipient, first signatory or statement as the workspace and letter files see it."""

    id: int
    values: dict[str, str]

    @property
    def name(self) -> str:
        return self.values["name"]


def _rows(session: Session, kind: Kind, letter_id: int) -> Sequence[Row]:
    model = MODELS[kind]
    # One query for the three tables; mypy sees the union's common base, hence the cast.
    return cast(
        Sequence[Row],
        session.exec(
            select(model)
            .where(model.letter_id == letter_id)
            .order_by(col(model.position), col(model.id))
        ).all(),
    )


def list_items(session: Session, *, kind: Kind, letter_id: int) -> list[Item]:
    names = field_names(kind)
    return [
        Item(id=row.id, values={name: getattr(row, name) for name in names})
        for row in _rows(session, kind, letter_id)
        if row.id is not None
    ]


def get_item(session: Session, *, kind: Kind, letter_id: int, item_id: int) -> Item:
    for item in list_items(session, kind=kind, letter_id=letter_id):
        if item.id == item_id:
            return item
    raise ItemNotFound(str(item_id))


def add_item(session: Session, *, kind: Kind, letter_id: int, values: Mapping[str, str]) -> int:
    rows = _rows(session, kind, letter_id)
    row = MODELS[kind].model_validate(
        {**cleaned(kind, values), "letter_id": letter_id, "position": len(rows)}
    )
    session.add(row)
    session.flush()
    assert row.id is not None
    return row.id


def _row(session: Session, kind: Kind, letter_id: int, item_id: int) -> Row:
    row = cast(Row | None, session.get(MODELS[kind], item_id))
    if row is None or row.letter_id != letter_id:  # another letter's: not found from here
        raise ItemNotFound(str(item_id))
    return row


def update_item(
    session: Session, *, kind: Kind, letter_id: int, item_id: int, values: Mapping[str, str]
) -> list[str]:
    """Save the values; returns the names of the fields that changed."""
    row = _row(session, kind, letter_id, item_id)
    changed = []
    for name, value in cleaned(kind, values).items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed.append(name)
    session.add(row)
    session.flush()
    return changed


def delete_item(session: Session, *, kind: Kind, letter_id: int, item_id: int) -> str:
    """Remove it and close the gap; returns its name."""
    row = _row(session, kind, letter_id, item_id)
    session.delete(row)
    session.flush()
    _renumber(session, [r for r in _rows(session, kind, letter_id) if r.id != item_id])
    return row.name


def move_item(
    session: Session, *, kind: Kind, letter_id: int, item_id: int, up: bool
) -> str | None:
    """Swap it with its neighbour; returns its name, or None when it is at that end already."""
    _row(session, kind, letter_id, item_id)
    rows = list(_rows(session, kind, letter_id))
    index = next(i for i, row in enumerate(rows) if row.id == item_id)
    other = index - 1 if up else index + 1
    if not 0 <= other < len(rows):
        return None
    rows[index], rows[other] = rows[other], rows[index]
    _renumber(session, rows)
    return rows[other].name


def replace_items(
    session: Session, *, kind: Kind, letter_id: int, items: Sequence[Mapping[str, str]]
) -> None:
    """The whole list at once (a letter file): the old rows go, these come in this order."""
    for row in _rows(session, kind, letter_id):
        session.delete(row)
    session.flush()
    for position, values in enumerate(items):
        session.add(
            MODELS[kind].model_validate(
                {**cleaned(kind, values), "letter_id": letter_id, "position": position}
            )
        )
    session.flush()


def _renumber(session: Session, rows: Sequence[Row]) -> None:
    for position, row in enumerate(rows):
        if row.position != position:
            row.position = position
            session.add(row)
    session.flush()
