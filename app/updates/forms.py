"""Reading the update forms (the original, and a version in another language): each mistake
next to its field, with what was typed kept."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict

from app.kit.i18n import N_
from app.kit.text import has_control_characters
from app.letters.forms import LANGUAGE

UPDATE_FIELDS = ("subject", "language", "body_markdown")
SUBJECT_MAX = 200
BODY_MAX = 50_000
REQUIRED = N_("This is required.")
TOO_LONG = N_("This is too long.")
HIDDEN = N_("Please remove the special or invisible characters.")
BAD_LANGUAGE = N_("Use a language code such as en, ru or uk.")
ORIGINAL_LANGUAGE = N_("The update itself is written in this language: choose another.")
VERSION_EXISTS = N_("There is a version in this language already: edit that one.")


class UpdateFormData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    subject: str = ""
    language: str = ""
    body_markdown: str = ""
    action: str = "save"
    csrf_token: str = ""


@dataclass
class UpdateForm:
    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return not self.errors


def update_form(values: Mapping[str, str]) -> UpdateForm:
    return UpdateForm(values={name: str(values.get(name, "")) for name in UPDATE_FIELDS})


def parse_update_form(data: Mapping[str, str]) -> UpdateForm:
    """The subject is one line (it becomes a mail header); the body is Markdown."""
    form = update_form({name: str(data.get(name, ""))[: BODY_MAX + 1] for name in UPDATE_FIELDS})
    values = form.values
    values["subject"] = values["subject"].strip()
    values["language"] = values["language"].strip()
    values["body_markdown"] = values["body_markdown"].replace("\r\n", "\n").strip("\n")
    subject = values["subject"]
    if not subject:
        form.errors["subject"] = REQUIRED
    elif len(subject) > SUBJECT_MAX:
        form.errors["subject"] = TOO_LONG
    elif has_control_characters(subject):
        form.errors["subject"] = HIDDEN  # line breaks included: no header injection
    body = values["body_markdown"]
    if not body.strip():
        form.errors["body_markdown"] = REQUIRED
    elif len(body) > BODY_MAX:
        form.errors["body_markdown"] = TOO_LONG
    elif has_control_characters(body.replace("\n", " ").replace("\t", " ")):
        form.errors["body_markdown"] = HIDDEN
    if not LANGUAGE.fullmatch(values["language"]):
        form.errors["language"] = BAD_LANGUAGE
    return form
