"""Hashing an uploaded PDF as it streams in: nothing is kept, spooled to disk or rendered.

The verify page's upload is the one request allowed a large body. Its multipart body is parsed
here with python-multipart's streaming parser: the file part goes straight into SHA-256, the
small fields (the CSRF token) are kept up to a few hundred bytes, and reading stops as soon as
the body passes the limit.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

FILE_FIELD = "file"
MAX_FIELD_BYTES = 256
# The only other field read: a body of a million little fields must not become a dict.
KEPT_FIELDS = frozenset({"csrf_token"})


class UploadRefused(Exception):
    """Not a form upload we can read; the message is for the person who sent it."""


@dataclass
class UploadedFile:
    sha256: str
    size: int
    filename_given: bool
    starts_like_pdf: bool


@dataclass
class _Part:
    headers: dict[str, bytes] = field(default_factory=dict)
    name: str = ""
    filename: str | None = None


@dataclass
class UploadResult:
    fields: dict[str, str]
    file: UploadedFile | None
    too_large: bool = False


class _Collector:
    def __init__(self, max_file_bytes: int) -> None:
        self.max_file_bytes = max_file_bytes
        self.fields: dict[str, bytearray] = {}
        self.part = _Part()
        self.header_field = bytearray()
        self.header_value = bytearray()
        self.hasher = hashlib.sha256()
        self.head = bytearray()
        self.file_size = 0
        self.file_seen = False
        self.filename_given = False
        self.too_large = False
        self.ended = False
        self.hashing = False

    def on_end(self) -> None:
        self.ended = True

    def on_part_begin(self) -> None:
        self.part = _Part()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        name = bytes(self.header_field).decode("latin-1").strip().lower()
        self.part.headers[name] = bytes(self.header_value)
        self.header_field.clear()
        self.header_value.clear()

    def on_headers_finished(self) -> None:
        disposition = self.part.headers.get("content-disposition", b"")
        _, params = parse_options_header(disposition)
        self.part.name = params.get(b"name", b"").decode("utf-8", "replace")
        filename = params.get(b"filename")
        self.part.filename = None if filename is None else filename.decode("utf-8", "replace")
        # Only the first file part is hashed: two would otherwise be measured as one.
        self.hashing = self.part.name == FILE_FIELD and not self.file_seen
        if self.hashing:
            self.file_seen = True
            self.filename_given = bool(self.part.filename)

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if self.hashing:
            self.file_size += len(chunk)
            if self.file_size > self.max_file_bytes:
                self.too_large = True
                return
            self.hasher.update(chunk)
            if len(self.head) < 5:
                self.head += chunk[: 5 - len(self.head)]
        elif self.part.name in KEPT_FIELDS:
            value = self.fields.setdefault(self.part.name, bytearray())
            if len(value) + len(chunk) <= MAX_FIELD_BYTES:
                value += chunk


async def hash_upload(request: Request, *, max_file_bytes: int) -> UploadResult:
    """Read the request's multipart body, hashing its ``file`` part; stops past the limit."""
    media_type, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if media_type != b"multipart/form-data" or not boundary:
        raise UploadRefused("Please choose the file with the form on this page.")
    collector = _Collector(max_file_bytes)
    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": collector.on_part_begin,
            "on_header_field": collector.on_header_field,
            "on_header_value": collector.on_header_value,
            "on_header_end": collector.on_header_end,
            "on_headers_finished": collector.on_headers_finished,
            "on_part_data": collector.on_part_data,
            "on_end": collector.on_end,
        },
    )
    try:
        async for chunk in request.stream():
            parser.write(chunk)
            if collector.too_large:
                break
    except ClientDisconnect as exc:
        raise UploadRefused("The upload did not arrive whole. Please try again.") from exc
    except ValueError as exc:  # python-multipart's errors derive from ValueError
        raise UploadRefused("The upload could not be read. Please try again.") from exc
    fields = {
        name: bytes(value).decode("utf-8", "replace") for name, value in collector.fields.items()
    }
    if collector.too_large:
        return UploadResult(fields=fields, file=None, too_large=True)
    if not collector.ended:  # the body stopped before its closing boundary
        raise UploadRefused("The upload did not arrive whole. Please try again.")
    if not collector.file_seen or collector.file_size == 0:
        return UploadResult(fields=fields, file=None)
    return UploadResult(
        fields=fields,
        file=UploadedFile(
            sha256=collector.hasher.hexdigest(),
            size=collector.file_size,
            filename_given=collector.filename_given,
            starts_like_pdf=bytes(collector.head) == b"%PDF-",
        ),
    )
