"""The sign form: parsing, validation with per-field messages, and public views of signers."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from babel import Locale
from pydantic import BaseModel, ConfigDict

from app.kit.i18n import N_
from app.kit.text import NAME_MAX as NAME_MAX  # re-exported
from app.kit.text import check_affiliation, check_name, clean_line
from app.signatures.addresses import EMAIL_MAX, normalise_email
from app.signatures.models import SignatureState, Visibility

AFFILIATION_MAX = 160
CITY_MAX = 80
HONEYPOT_FIELD = "website"


# CLDR names more than ISO 3166-1's countries: pseudo-locales' test regions, exceptionally
# reserved sub-territories (Ascension, Canary Islands...), groupings and the unknown region.
# Kosovo (XK) is not in ISO 3166-1 yet is a country its people will look for.
NOT_COUNTRIES = frozenset(
    {"XA", "XB", "AC", "CP", "CQ", "DG", "EA", "IC", "TA", "EU", "EZ", "UN", "QO", "ZZ"}
)


def collation_key(text: str) -> str:
    """Sorts as a reader expects: accents and case ignored ("Åland" among the A's)."""
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char)).casefold()


@lru_cache(maxsize=8)
def country_names(locale: str = "en") -> dict[str, str]:
    """Two-letter country codes and their names in ``locale``, sorted by name (CLDR data)."""
    territories = Locale.parse(locale).territories
    codes = {
        code: name
        for code, name in territories.items()
        if re.fullmatch(r"[A-Z]{2}", code) and code not in NOT_COUNTRIES
    }
    return dict(sorted(codes.items(), key=lambda item: (collation_key(item[1]), item[1])))


@dataclass(frozen=True, slots=True)
class SignatureInput:
    name: str
    email: str
    affiliation: str
    city: str
    country: str
    visibility: Visibility
    may_contact: bool = False


@dataclass(slots=True)
class SignForm:
    """What was typed (kept for redisplay), and what is wrong with it, field by field."""

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    honeypot_filled: bool = False

    @property
    def valid(self) -> bool:
        return not self.errors

    def valid_email(self) -> str:
        email = normalise_email(self.values["email"]) if not self.errors.get("email") else None
        if email is None:
            raise ValueError("no valid address in the form")
        return email

    def to_input(self) -> SignatureInput:
        if self.errors:
            raise ValueError("form has errors")
        email = normalise_email(self.values["email"])
        assert email is not None
        return SignatureInput(
            name=clean_line(self.values["name"]),
            email=email,
            affiliation=clean_line(self.values["affiliation"]),
            city=clean_line(self.values["city"]),
            country=self.values["country"],
            visibility=Visibility(self.values["visibility"]),
            may_contact=self.values["may_contact"] == CHECKED,
        )


FORM_FIELDS = ("name", "email", "affiliation", "city", "country", "visibility", "may_contact")
DETAIL_FIELDS = ("name", "affiliation", "city", "country", "visibility", "may_contact")
CHECKED = "yes"  # a ticked checkbox's value in SignForm.values; unticked is ""


def empty_form() -> SignForm:
    return SignForm(values={name: "" for name in FORM_FIELDS} | {"visibility": "counted_only"})


def parse_sign_form(data: Mapping[str, str]) -> SignForm:
    # Keep what was typed, capped so a huge post cannot be echoed back at length.
    values = {name: str(data.get(name, ""))[:1000] for name in FORM_FIELDS}
    values["visibility"] = values["visibility"] or "counted_only"
    # A checkbox sends its value when ticked, nothing otherwise; any value counts as ticked.
    values["may_contact"] = CHECKED if values["may_contact"] else ""
    form = SignForm(values=values, honeypot_filled=bool(str(data.get(HONEYPOT_FIELD, "")).strip()))

    if error := check_name(values["name"]):
        form.errors["name"] = error

    if not values["email"].strip():
        form.errors["email"] = N_("Please enter your email address.")
    elif len(values["email"].strip()) > EMAIL_MAX:
        form.errors["email"] = N_("This email address is too long.")
    elif normalise_email(values["email"]) is None:
        form.errors["email"] = N_("Please enter a valid email address, like name@example.org.")

    for name_, limit in (("affiliation", AFFILIATION_MAX), ("city", CITY_MAX)):
        if error := check_affiliation(values[name_], limit):
            form.errors[name_] = error

    if values["country"] and values["country"] not in country_names():
        form.errors["country"] = N_("Please choose a country from the list.")
    if values["visibility"] not in {v.value for v in Visibility}:
        form.errors["visibility"] = N_("Please choose how your name may be shown.")
    return form


def details_form(details: SignatureDetails) -> SignForm:
    """The confirm page's form, filled with what is stored."""
    return SignForm(
        values={
            "name": details.name,
            "affiliation": details.affiliation,
            "city": details.city,
            "country": details.country,
            "visibility": details.visibility.value,
            "may_contact": CHECKED if details.may_contact else "",
        }
    )


def parse_details_form(data: Mapping[str, str]) -> SignForm:
    """The confirm page's form: the sign form's rules, without the address."""
    form = parse_sign_form({**data, "email": "details@example.org"})
    form.values.pop("email", None)
    form.errors.pop("email", None)
    return form


def details_from(form: SignForm) -> SignatureDetails:
    if form.errors:
        raise ValueError("form has errors")
    return SignatureDetails(
        name=clean_line(form.values["name"]),
        affiliation=clean_line(form.values["affiliation"]),
        city=clean_line(form.values["city"]),
        country=form.values["country"],
        visibility=Visibility(form.values["visibility"]),
        may_contact=form.values["may_contact"] == CHECKED,
    )


def parse_email_only(data: Mapping[str, str]) -> SignForm:
    """The "manage my signature" form: one address."""
    raw = str(data.get("email", ""))[:1000]
    form = SignForm(values={"email": raw})
    if not raw.strip():
        form.errors["email"] = N_("Please enter your email address.")
    elif normalise_email(raw) is None:
        form.errors["email"] = N_("Please enter a valid email address, like name@example.org.")
    return form


@dataclass(frozen=True, slots=True)
class SignerPublic:
    """A confirmed signer who chose to be named publicly."""

    name: str
    affiliation: str
    city: str
    country: str
    confirmed_at: datetime | None


@dataclass(frozen=True, slots=True)
class SignatureDetails:
    """What a signature may publish, and to whom: shown to the signer before confirming."""

    name: str
    affiliation: str
    city: str
    country: str
    visibility: Visibility
    may_contact: bool = False


@dataclass(frozen=True, slots=True)
class TokenSignature:
    """What a token page may show: the letter, and to the link's holder the signature's
    details (never the address). ``details`` is None once withdrawn: nothing is left."""

    letter_id: int
    letter_slug: str
    letter_title: str
    letter_accepting: bool
    state: SignatureState
    details: SignatureDetails | None
    # The language the signature was made in (its pages and mails use it; the title is in it)
    # and the letter's own.
    language: str = "en"
    letter_language: str = "en"

    @property
    def lang_query(self) -> str:
        return "" if self.language == self.letter_language else f"?lang={self.language}"


@dataclass(frozen=True, slots=True)
class SignersPage:
    signers: list[SignerPublic]
    page: int
    pages: int
    total: int
    first_number: int


class SignFormData(BaseModel):
    """The raw POST body. Everything is a plain string so that our own checks, not a 422,
    decide what is wrong and the page can say so next to each field."""

    model_config = ConfigDict(extra="ignore")

    name: str = ""
    email: str = ""
    affiliation: str = ""
    city: str = ""
    country: str = ""
    visibility: str = ""
    may_contact: str = ""
    language: str = ""  # the language of the text shown with the form
    website: str = ""  # the honeypot


class ButtonFormData(BaseModel):
    """A button's POST. On the public pages it carries nothing (the token in the address says
    what it acts on, the cross-origin check in app.kit.security that our page sent it); the
    workspace's buttons, which reuse it, also carry their CSRF token."""

    model_config = ConfigDict(extra="ignore")

    csrf_token: str = ""


class DetailsFormData(BaseModel):
    """The confirm page's POST: the details as the signer corrected them."""

    model_config = ConfigDict(extra="ignore")

    name: str = ""
    affiliation: str = ""
    city: str = ""
    country: str = ""
    visibility: str = ""
    may_contact: str = ""
    details_form: str = ""  # set by the page's form: the fields above are what was typed


class EmailFormData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    email: str = ""
    website: str = ""  # the honeypot
    csrf_token: str = ""  # read by the workspace's sign-in forms only
