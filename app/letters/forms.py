"""The organiser's letter form: parsing and per-field messages, keeping what was typed."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time

from pydantic import BaseModel, ConfigDict

from app.kit.i18n import N_
from app.kit.text import has_control_characters
from app.letters.languages import code_problem, normal_code

LETTER_FIELDS = (
    "title",
    "slug",
    "summary",
    "body_markdown",
    "language",
    "goal",
    "closes_on",
    "publisher_name",
    "publisher_contact",
    "delivery_plan",
)
SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{1,78}[a-z0-9])")
LANGUAGE = re.compile(r"[a-z]{2,3}(?:-[A-Z]{2})?")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
BODY_MAX = 50_000


class LetterFormData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    title: str = ""
    slug: str = ""
    summary: str = ""
    body_markdown: str = ""
    language: str = "en"
    goal: str = ""
    closes_on: str = ""
    publisher_name: str = ""
    publisher_contact: str = ""
    delivery_plan: str = ""
    action: str = "save"  # or "preview"
    csrf_token: str = ""


@dataclass(frozen=True, slots=True)
class LetterInput:
    title: str
    slug: str
    summary: str
    body_markdown: str
    language: str
    goal: int | None
    closes_at: datetime | None
    publisher_name: str
    publisher_contact: str
    delivery_plan: str


@dataclass(slots=True)
class LetterForm:
    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return not self.errors

    def to_input(self) -> LetterInput:
        if self.errors:
            raise ValueError("form has errors")
        v = self.values
        closes = date.fromisoformat(v["closes_on"]) if v["closes_on"] else None
        return LetterInput(
            title=v["title"].strip(),
            slug=v["slug"].strip(),
            summary=v["summary"].strip(),
            body_markdown=v["body_markdown"].replace("\r\n", "\n").strip() + "\n",
            language=normal_code(v["language"]),
            goal=int(v["goal"]) if v["goal"].strip() else None,
            # Open until the end of that day, UTC.
            closes_at=datetime.combine(closes, time.max, tzinfo=UTC) if closes else None,
            publisher_name=v["publisher_name"].strip(),
            publisher_contact=v["publisher_contact"].strip(),
            delivery_plan=v["delivery_plan"].strip(),
        )


def letter_form(values: Mapping[str, str]) -> LetterForm:
    return LetterForm(values={name: str(values.get(name, "")) for name in LETTER_FIELDS})


def line_error(value: str, *, limit: int, required: bool) -> str | None:
    if required and not value.strip():
        return N_("This is required.")
    if len(value) > limit:
        return N_("This is too long.")
    if has_control_characters(value.replace("\t", " ")):
        return N_("Please remove the special or invisible characters.")
    return None


def parse_letter_form(
    data: Mapping[str, str], *, today: date, stored_closes_on: str = ""
) -> LetterForm:
    """``stored_closes_on``: the date already saved; a date in the past is refused only when it
    is being set, so a letter whose closing date has passed can still be corrected."""
    form = letter_form({name: str(data.get(name, ""))[: BODY_MAX + 1] for name in LETTER_FIELDS})
    v = form.values
    for name, limit, required in (
        ("title", 200, True),
        ("summary", 500, False),
        ("publisher_name", 200, False),
        ("publisher_contact", 254, False),
        ("delivery_plan", 500, False),
    ):
        if error := line_error(v[name], limit=limit, required=required):
            form.errors[name] = error
    body = v["body_markdown"].replace("\r\n", "\n").replace("\n", " ")
    if error := line_error(body, limit=BODY_MAX, required=True):
        form.errors["body_markdown"] = error
    if not SLUG.fullmatch(v["slug"].strip()):
        form.errors["slug"] = N_(
            "Use 3 to 80 lower-case letters, digits and hyphens, like all-for-all."
        )
    if error := code_problem(normal_code(v["language"])):
        form.errors["language"] = error
    goal = v["goal"].strip()
    if goal and (not (goal.isascii() and goal.isdigit()) or not 1 <= int(goal) <= 100_000_000):
        form.errors["goal"] = N_("Use a whole number of signatures, or leave it empty.")
    closes = v["closes_on"].strip()
    if closes:
        try:
            if closes != stored_closes_on and date.fromisoformat(closes) < today:
                form.errors["closes_on"] = N_("This date has passed.")
        except ValueError:
            form.errors["closes_on"] = N_("Use a date such as 2027-03-31.")
    return form


class DeliveryFormData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    delivered_on: str = ""
    recipient: str = ""
    method: str = ""
    csrf_token: str = ""


@dataclass(frozen=True, slots=True)
class DeliveryInput:
    delivered_on: date
    recipient: str
    method: str


DELIVERY_FIELDS = ("delivered_on", "recipient", "method")


def parse_delivery_form(
    data: Mapping[str, str], *, today: date, earliest: date
) -> tuple[dict[str, str], dict[str, str]]:
    """What was typed, and what is wrong with it, field by field."""
    values = {name: str(data.get(name, ""))[:400] for name in DELIVERY_FIELDS}
    errors: dict[str, str] = {}
    typed = values["delivered_on"].strip()
    if not ISO_DATE.fullmatch(typed):
        errors["delivered_on"] = N_("Use a date such as 2027-03-31.")
    else:
        try:
            delivered = date.fromisoformat(typed)
        except ValueError:
            errors["delivered_on"] = N_("Use a date such as 2027-03-31.")
        else:
            if delivered > today:
                errors["delivered_on"] = N_("A delivery is recorded once it has happened.")
            elif delivered < earliest:
                errors["delivered_on"] = N_("The letter was not yet published then.")
    for name in ("recipient", "method"):
        if error := line_error(values[name], limit=300, required=True):
            errors[name] = error
    return values, errors


def delivery_input(values: Mapping[str, str]) -> DeliveryInput:
    return DeliveryInput(
        delivered_on=date.fromisoformat(values["delivered_on"].strip()),
        recipient=values["recipient"].strip(),
        method=values["method"].strip(),
    )
