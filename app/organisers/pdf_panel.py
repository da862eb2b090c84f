"""The "PDF letters" part of a letter's dashboard: the form that starts an export (all
recipients or one) and the latest exports, read through the PDF feature's service."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session

from app.exports.pdf.service import ExportProgress, latest_exports
from app.letters.recipients import list_items

ALL = "all"


@dataclass
class PdfForm:
    values: dict[str, str] = field(default_factory=lambda: {"recipient": ALL})
    errors: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RecipientChoice:
    id: int
    label: str


@dataclass(frozen=True, slots=True)
class PdfPanel:
    form: PdfForm
    recipients: list[RecipientChoice]
    exports: list[ExportProgress]


def recipient_choices(session: Session, *, letter_id: int) -> list[RecipientChoice]:
    choices = []
    for item in list_items(session, kind="recipients", letter_id=letter_id):
        title = item.values.get("title", "")
        label = f"{item.values['name']}, {title}" if title else item.values["name"]
        choices.append(RecipientChoice(id=item.id, label=label))
    return choices


def pdf_panel(session: Session, *, letter_id: int, form: PdfForm | None = None) -> PdfPanel:
    return PdfPanel(
        form=form or PdfForm(),
        recipients=recipient_choices(session, letter_id=letter_id),
        exports=latest_exports(session, letter_id=letter_id, limit=5),
    )
