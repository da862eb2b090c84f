"""Reading the moderation forms: the search, one invalidation's reason and a bulk rule. Each
mistake is kept next to its field, with what was typed."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from pydantic import BaseModel, ConfigDict

from app.kit.i18n import N_
from app.letters.languages import code_problem, normal_code
from app.signatures.models import RuleKind, SignatureSource, SignatureState, Visibility
from app.signatures.moderation import BulkRule, SignatureFilter, normal_domain

SEARCH_FIELDS = (
    "name",
    "domain",
    "country",
    "language",
    "state",
    "visibility",
    "source",
    "from",
    "until",
)
RULE_FIELDS = ("kind", "domain", "window_from", "window_until", "pattern", "reason")
HIDDEN = "hidden"  # the visibility choice "hidden by an organiser"
DOMAIN = re.compile(r"^[^\s@/]+\.[^\s@/.]+$")
MIN_PATTERN = 2
MAX_REASON = 200
BAD_DATE = N_("Please enter a date like 2026-03-31.")


class RuleFormData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    kind: str = ""
    domain: str = ""
    window_from: str = ""
    window_until: str = ""
    pattern: str = ""
    reason: str = ""
    csrf_token: str = ""


@dataclass
class TypedForm:
    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return not self.errors


def _typed(data: Mapping[str, str], names: tuple[str, ...]) -> TypedForm:
    return TypedForm(values={name: str(data.get(name, ""))[:300].strip() for name in names})


def _day(form: TypedForm, name: str) -> date | None:
    raw = form.values[name]
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        form.errors[name] = BAD_DATE
        return None


def _start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def parse_search(data: Mapping[str, str]) -> tuple[TypedForm, SignatureFilter]:
    """The search form (GET): an unknown choice or a bad date is marked, the rest still
    filters."""
    form = _typed(data, SEARCH_FIELDS)
    values = form.values
    state = None
    if values["state"]:
        if values["state"] in {s.value for s in SignatureState}:
            state = SignatureState(values["state"])
        else:
            form.errors["state"] = N_("Please choose a state from the list.")
    visibility, hidden = None, None
    if values["visibility"] == HIDDEN:
        hidden = True
    elif values["visibility"] in {v.value for v in Visibility}:
        visibility = Visibility(values["visibility"])
    elif values["visibility"]:
        form.errors["visibility"] = N_("Please choose a visibility from the list.")
    if values["country"] and not re.fullmatch(r"[A-Za-z]{2}", values["country"]):
        form.errors["country"] = N_("Please enter a two-letter country code, like UA.")
    language = normal_code(values["language"])
    if language and code_problem(language):
        form.errors["language"] = N_("Please choose a language from the list.")
        language = ""
    source = None
    if values["source"] in {s.value for s in SignatureSource}:
        source = SignatureSource(values["source"])
    elif values["source"]:
        form.errors["source"] = N_("Please choose online or offline.")
    since, until = _day(form, "from"), _day(form, "until")
    wanted = SignatureFilter(
        name=values["name"],
        domain=values["domain"],
        country=values["country"] if "country" not in form.errors else "",
        language=language,
        state=state,
        visibility=visibility,
        hidden=hidden,
        confirmed_from=_start(since) if since else None,
        confirmed_until=_start(until + timedelta(days=1)) if until else None,
        source=source,
    )
    return form, wanted


def parse_reason(raw: str) -> tuple[str, str | None]:
    """The reason typed for one invalidation, and the error, if any."""
    reason = raw.strip()[:1000]
    if not reason:
        return reason, N_("Please say why this signature is invalid.")
    if len(reason) > MAX_REASON:
        return reason, N_("Please keep the reason under 200 characters.")
    return reason, None


def _moment(form: TypedForm, name: str) -> datetime | None:
    raw = form.values[name]
    try:
        return datetime.fromisoformat(raw).replace(tzinfo=UTC) if raw else None
    except ValueError:
        form.errors[name] = N_("Please enter a date and time like 2026-03-31 14:00.")
        return None


def _check_kind(form: TypedForm, kind: RuleKind) -> tuple[datetime | None, datetime | None]:
    values = form.values
    if kind is RuleKind.DOMAIN and not DOMAIN.match(normal_domain(values["domain"])):
        form.errors["domain"] = N_("Please enter a domain, like example.org.")
    if kind is RuleKind.PATTERN and len(values["pattern"]) < MIN_PATTERN:
        form.errors["pattern"] = N_("Please enter at least two characters of the name.")
    if kind is not RuleKind.WINDOW:
        return None, None
    start, end = _moment(form, "window_from"), _moment(form, "window_until")
    for name, moment in (("window_from", start), ("window_until", end)):
        if moment is None and name not in form.errors:
            form.errors[name] = N_("Please enter a date and time like 2026-03-31 14:00.")
    if start and end and end <= start:
        form.errors["window_until"] = N_("The end must come after the start.")
    return start, end


def parse_rule(data: Mapping[str, str]) -> tuple[TypedForm, BulkRule | None]:
    form = _typed(data, RULE_FIELDS)
    values = form.values
    if values["kind"] not in {kind.value for kind in RuleKind}:
        form.errors["kind"] = N_("Please choose what the rule matches.")
        return form, None
    kind = RuleKind(values["kind"])
    start, end = _check_kind(form, kind)
    reason, error = parse_reason(values["reason"])
    if error:
        form.errors["reason"] = error
    if not form.valid:
        return form, None
    return form, BulkRule(
        kind=kind,
        domain=normal_domain(values["domain"]) if kind is RuleKind.DOMAIN else "",
        window_from=start,
        window_until=end,
        pattern=values["pattern"] if kind is RuleKind.PATTERN else "",
        reason=reason,
    )
