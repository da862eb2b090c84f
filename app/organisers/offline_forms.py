"""Reading the offline signatures' forms: the attestation (an existing one, or a new one typed
in), one signature, and the import's upload. Each mistake is kept next to its field, with what
was typed; the upload is read with its size capped before anything is parsed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from fastapi import Request
from pydantic import BaseModel, ConfigDict
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from app.kit.i18n import N_
from app.kit.state import app_settings
from app.kit.text import clean_line, has_control_characters, has_hidden_characters
from app.signatures.models import Visibility
from app.signatures.offline import AttestationInput
from app.signatures.offline_csv import OfflineRow
from app.signatures.schemas import parse_details_form

NEW = "new"
ATTESTATION_FIELDS = (
    "attestation",
    "collector",
    "method",
    "collected_from",
    "collected_until",
    "note",
)
SIGNER_FIELDS = ("name", "affiliation", "city", "country", "visibility")
IMPORT_FIELDS = (*ATTESTATION_FIELDS, "again")
LIMITS = {"collector": 200, "method": 200, "note": 1000}
BAD_DATE = N_("Please enter a date like 2026-03-31.")
FILE_TOO_LARGE = N_("The file is larger than %(limit)s MB. Please split it into smaller files.")
NO_FILE = N_("Please choose a CSV file.")
# Multipart framing and the form's other fields, beyond the file itself.
FORM_OVERHEAD_BYTES = 64 * 1024


def upload_body_cap(max_bytes: int) -> int:
    """The most an import's request body may hold (SecurityMiddleware answers 413 beyond). Up
    to half of it, the form is parsed (the file spooled to disk) and the file measured, so the
    page keeps what was typed; above that, the body is read and dropped unparsed."""
    return 4 * (max_bytes + FORM_OVERHEAD_BYTES)


class SignatureFormData(BaseModel):
    """The one-by-one form's POST body: plain strings, checked by our own rules."""

    model_config = ConfigDict(extra="ignore")

    name: str = ""
    affiliation: str = ""
    city: str = ""
    country: str = ""
    visibility: str = ""
    attestation: str = ""
    collector: str = ""
    method: str = ""
    collected_from: str = ""
    collected_until: str = ""
    note: str = ""
    csrf_token: str = ""


@dataclass
class OfflineForm:
    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return not self.errors


def empty_form(names: tuple[str, ...], *, attestation: str = NEW) -> OfflineForm:
    values = dict.fromkeys(names, "")
    values["attestation"] = attestation
    if "visibility" in values:
        values["visibility"] = Visibility.COUNTED_ONLY.value
    return OfflineForm(values=values)


def _typed(data: Mapping[str, object], names: tuple[str, ...]) -> OfflineForm:
    values = {}
    for name in names:
        raw = data.get(name, "")
        values[name] = raw[:2000] if isinstance(raw, str) else ""
    return OfflineForm(values=values)


def _day(form: OfflineForm, name: str, today: date) -> date | None:
    raw = form.values[name].strip()
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        form.errors[name] = BAD_DATE
        return None
    if day > today:
        form.errors[name] = N_("This date is in the future.")
        return None
    return day


REQUIRED = {
    "collector": N_("Please say who collected these signatures."),
    "method": N_("Please say how they were collected."),
}


def _text(form: OfflineForm, name: str) -> str:
    value = clean_line(form.values[name])
    if name in REQUIRED and not value:
        form.errors[name] = REQUIRED[name]
    elif has_hidden_characters(form.values[name]):
        form.errors[name] = N_("Please remove the special or invisible characters.")
    elif len(value) > LIMITS[name]:
        form.errors[name] = N_("This is too long.")
    return value


def parse_attestation(
    form: OfflineForm, *, known: set[int], today: date
) -> tuple[int | None, AttestationInput | None]:
    """An existing attestation's id, or a new one's details; errors go into ``form``."""
    choice = form.values["attestation"]
    if choice != NEW:
        if choice.isdigit() and int(choice) in known:
            return int(choice), None
        form.errors["attestation"] = N_("Please choose an attestation from the list.")
        return None, None
    collector, method, note = (_text(form, name) for name in ("collector", "method", "note"))
    start = _day(form, "collected_from", today)
    until = _day(form, "collected_until", today)
    if start is None and "collected_from" not in form.errors:
        form.errors["collected_from"] = N_("Please enter the day (or the first day) of collection.")
    if start and until and until < start:
        form.errors["collected_until"] = N_("The last day cannot come before the first.")
    if form.errors or start is None:
        return None, None
    return None, AttestationInput(
        collector=collector,
        method=method,
        collected_from=start,
        collected_until=until if until != start else None,
        note=note,
    )


def parse_signature_form(
    data: Mapping[str, object], *, known: set[int], today: date
) -> tuple[OfflineForm, int | None, AttestationInput | None, OfflineRow | None]:
    """The one-by-one form: the signer's details by the sign form's rules, and the
    attestation."""
    form = _typed(data, (*SIGNER_FIELDS, *ATTESTATION_FIELDS))
    details = parse_details_form({name: form.values[name] for name in SIGNER_FIELDS})
    form.errors.update({k: v for k, v in details.errors.items() if k in SIGNER_FIELDS})
    attestation_id, attestation = parse_attestation(form, known=known, today=today)
    if form.errors:
        return form, None, None, None
    row = OfflineRow(
        name=clean_line(form.values["name"]),
        affiliation=clean_line(form.values["affiliation"]),
        city=clean_line(form.values["city"]),
        country=form.values["country"],
        visibility=Visibility(form.values["visibility"]),
    )
    return form, attestation_id, attestation, row


@dataclass
class Upload:
    """The import form as sent: its fields, and the file's bytes (or why there are none)."""

    fields: dict[str, str]
    file_name: str = ""
    data: bytes = b""
    error: str = ""  # FILE_TOO_LARGE is shown with the limit


def _file_name(upload: UploadFile) -> str:
    """The name as shown back and kept with the import: no folders, nothing invisible."""
    name = (upload.filename or "").replace("\\", "/").rpartition("/")[2]
    return clean_line("".join(char for char in name if not has_control_characters(char)))[:200]


async def read_upload(request: Request) -> Upload:
    """The import form, read before the route runs (a dependency): a file above the limit is
    refused with a message, its bytes read and dropped, never kept."""
    limit = app_settings(request).offline_import_max_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > upload_body_cap(limit) // 2:
        try:
            async for _chunk in request.stream():
                pass
        except ClientDisconnect:
            pass
        return Upload(fields={}, error=FILE_TOO_LARGE)
    try:
        form = await request.form(max_files=1, max_fields=len(IMPORT_FIELDS) + 2)
    except ClientDisconnect:  # a body without a length, cut off at the limit
        return Upload(fields={}, error=FILE_TOO_LARGE)
    except HTTPException:  # a malformed multipart body
        return Upload(fields={}, error=NO_FILE)
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return Upload(fields=fields, error=NO_FILE)
    data = await upload.read(limit + 1)
    await upload.close()
    if len(data) > limit:
        return Upload(fields=fields, error=FILE_TOO_LARGE)
    return Upload(fields=fields, file_name=_file_name(upload), data=data)


def import_form(upload: Upload) -> OfflineForm:
    form = _typed(upload.fields, IMPORT_FIELDS)
    form.values["attestation"] = form.values["attestation"] or NEW
    return form
