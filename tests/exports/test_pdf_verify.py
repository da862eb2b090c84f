"""The public verify page of a PDF letter: what was exported under a code, and whether a file
(uploaded, hashed as it streams) or a pasted SHA-256 is exactly that file. Unknown codes get
one and the same 404, whatever was wrong."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from app.config import Settings
from app.db import open_session
from app.exports.pdf.certificates import make_signing_certificate
from app.exports.pdf.service import start_export
from app.exports.pdf.signing import sign_pdf
from app.main import create_app
from tests.exports.pdf_files import (
    exported,
    files_of,
    letter_id_of,
    recipient_ids,
    small_pdf,
    stored_path,
)
from tests.helpers import add_letter, csrf_from
from tests.html import parse

PDF_BYTES = small_pdf("To the President of the European Council: 1,234 signatures.")


def _page_text(html: str) -> str:
    return parse(html).text()


@pytest.fixture
def export_file(engine: Engine, settings: Settings, letter_slug: str):  # type: ignore[no-untyped-def]
    first = recipient_ids(engine, letter_slug)[2]  # António Costa
    _, [file] = exported(
        engine, settings, letter_slug, recipients=[first], contents={first: PDF_BYTES}
    )
    return file


def _verify_path(slug: str, code: str) -> str:
    return f"/letters/{slug}/verify/{code}"


def _upload(client: TestClient, path: str, data: bytes, *, token: str | None = None):  # type: ignore[no-untyped-def]
    page = client.get(path)
    fields = {"csrf_token": token if token is not None else csrf_from(page.text)}
    return client.post(
        f"{path}/file", data=fields, files={"file": ("letter.pdf", data, "application/pdf")}
    )


def test_page_shows_what_was_exported_and_nothing_personal(
    client: TestClient, letter_slug: str, export_file
) -> None:  # type: ignore[no-untyped-def]
    response = client.get(_verify_path(letter_slug, export_file.verification_code))
    assert response.status_code == 200
    text = _page_text(response.text)
    assert export_file.verification_code in text
    assert "António Costa" in text
    assert "President of the European Council" in text
    assert "1,234" in text
    assert hashlib.sha256(PDF_BYTES).hexdigest() in text
    assert "No: this site had no signing certificate" in text
    assert "Rue de la Loi" not in text  # the recipient's postal address stays with organisers
    assert "@" not in text
    assert response.headers["cache-control"] == "no-store"


def test_codes_are_read_as_people_type_them(
    client: TestClient, letter_slug: str, export_file
) -> None:  # type: ignore[no-untyped-def]
    typed = export_file.verification_code.lower().replace("-", " ").replace("0", "o")
    response = client.get(_verify_path(letter_slug, typed))
    assert response.status_code == 200
    assert export_file.verification_code in response.text
    redirect = client.get(
        f"/letters/{letter_slug}/verify", params={"code": typed}, follow_redirects=False
    )
    assert redirect.status_code == 303
    assert redirect.headers["location"] == _verify_path(letter_slug, export_file.verification_code)


def test_unknown_codes_all_get_the_same_404(
    client: TestClient, engine: Engine, settings: Settings, letter_slug: str, export_file
) -> None:  # type: ignore[no-untyped-def]
    add_letter(engine, "other-letter")
    code = export_file.verification_code
    flipped = ("1" if code[0] != "1" else "2") + code[1:]
    with open_session(engine, write=True) as session:
        pending_id = start_export(
            session,
            letter_id=letter_id_of(engine, letter_slug),
            recipient_ids=None,
            requested_by=None,
        )
        session.commit()
    pending_code = files_of(engine, pending_id)[0].verification_code
    tries = [
        _verify_path(letter_slug, flipped),  # a code nobody was given
        _verify_path("other-letter", code),  # a real code, another letter
        _verify_path("no-such-letter", code),
        _verify_path(letter_slug, "not-a-code"),
        _verify_path(letter_slug, "x" * 5000),
        _verify_path(letter_slug, pending_code),  # an export not finished yet
    ]
    bodies = set()
    for path in tries:
        response = client.get(path)
        assert response.status_code == 404, path
        bodies.add(response.text)
    assert len(bodies) == 1
    assert "No letter with this code" in bodies.pop()


def test_upload_of_the_file_matches_and_a_changed_byte_does_not(
    client: TestClient, letter_slug: str, export_file
) -> None:  # type: ignore[no-untyped-def]
    path = _verify_path(letter_slug, export_file.verification_code)
    same = _upload(client, path, PDF_BYTES)
    assert same.status_code == 200
    assert "It matches" in same.text

    altered = PDF_BYTES.replace(b"1,234", b"9,234")
    assert altered != PDF_BYTES
    different = _upload(client, path, altered)
    assert different.status_code == 200
    assert "It does not match" in different.text
    assert "It matches" not in different.text
    assert hashlib.sha256(altered).hexdigest() in different.text

    not_pdf = _upload(client, path, b"hello")
    assert "does not even start like a PDF" in not_pdf.text


def test_upload_refusals_are_explained_next_to_the_field(
    client: TestClient, letter_slug: str, export_file
) -> None:  # type: ignore[no-untyped-def]
    path = _verify_path(letter_slug, export_file.verification_code)
    forged = _upload(client, path, PDF_BYTES, token="x" * 43)
    assert forged.status_code == 400
    assert "The form had expired" in forged.text
    assert "It matches" not in forged.text

    token = csrf_from(client.get(path).text)
    empty = client.post(f"{path}/file", data={"csrf_token": token}, files={"file": ("", b"")})
    assert empty.status_code == 400
    assert "Choose the PDF file to check first" in _page_text(empty.text)

    urlencoded = client.post(f"{path}/file", data={"csrf_token": token})
    assert urlencoded.status_code == 400


@pytest.fixture
def small_limit_client(settings: Settings):  # type: ignore[no-untyped-def]
    app = create_app(settings.model_copy(update={"verify_upload_max_mb": 1}))
    with TestClient(app, base_url="http://testserver") as client:  # type: ignore[arg-type]
        yield client
    app.state.engine.dispose()


def test_uploads_past_the_limit_are_refused_with_a_way_out(
    small_limit_client: TestClient, letter_slug: str, export_file
) -> None:  # type: ignore[no-untyped-def]
    path = _verify_path(letter_slug, export_file.verification_code)
    # Just past the limit: read until the limit, then refused while streaming.
    just_over = _upload(small_limit_client, path, b"%PDF-" + b"0" * (1024 * 1024))
    assert just_over.status_code == 413
    assert "larger than 1 MB" in _page_text(just_over.text)
    assert "Paste its SHA-256" in _page_text(just_over.text)
    # Far past it: refused from its declared length, before reading.
    far_over = _upload(small_limit_client, path, b"0" * (3 * 1024 * 1024))
    assert far_over.status_code == 413
    # Every other route keeps the small limit.
    token = csrf_from(small_limit_client.get(path).text)
    pasted = small_limit_client.post(path, data={"csrf_token": token, "sha256": "a" * 200_000})
    assert pasted.status_code == 413


def test_pasted_fingerprints_in_every_usual_shape(
    client: TestClient, letter_slug: str, export_file
) -> None:  # type: ignore[no-untyped-def]
    path = _verify_path(letter_slug, export_file.verification_code)
    digest = hashlib.sha256(PDF_BYTES).hexdigest()
    token = csrf_from(client.get(path).text)
    shapes = [
        digest,
        digest.upper(),
        f"{digest}  letter.pdf\n",  # sha256sum
        "SHA256 hash of letter.pdf:\n" + " ".join(digest[i : i + 2] for i in range(0, 64, 2)),
    ]
    for shape in shapes:
        response = client.post(path, data={"csrf_token": token, "sha256": shape})
        assert response.status_code == 200, shape
        assert "It matches" in response.text, shape

    wrong = client.post(path, data={"csrf_token": token, "sha256": "0" * 64})
    assert "It does not match" in wrong.text

    garbage = client.post(path, data={"csrf_token": token, "sha256": "<b>12345</b>"})
    assert garbage.status_code == 400
    assert "64 characters" in garbage.text
    assert 'value="&lt;b&gt;12345&lt;/b&gt;"' in garbage.text  # kept as typed, escaped
    assert "It matches" not in garbage.text

    expired = client.post(path, data={"csrf_token": "nope", "sha256": digest})
    assert expired.status_code == 400
    assert "It matches" not in expired.text


def test_a_signed_file_says_who_signed_it(
    client: TestClient,
    engine: Engine,
    settings: Settings,
    letter_slug: str,
    tmp_path: Path,
) -> None:
    made = make_signing_certificate(tmp_path / "cert", name="Letters Team Ünterschrift")
    signing = settings.model_copy(
        update={
            "signing_pkcs12_file": made.pkcs12_file,
            "signing_pkcs12_passphrase": made.passphrase,
        }
    )
    first = recipient_ids(engine, letter_slug)[0]
    signed = sign_pdf(PDF_BYTES, settings=signing)
    _, [file] = exported(
        engine, settings, letter_slug, recipients=[first], contents={first: signed}
    )
    path = _verify_path(letter_slug, file.verification_code)

    text = _page_text(client.get(path).text)
    assert "Yes, signed by Letters Team Ünterschrift." in text
    assert "added to the file after it was signed" not in text
    assert "It matches" in _upload(client, path, signed).text

    stored_path(settings, file).unlink()  # the file is no longer kept: the page still answers
    text = _page_text(client.get(path).text)
    assert "Not known: the file is no longer kept" in text
    assert file.sha256 in text


def test_a_file_larger_than_any_form_is_still_checked(
    client: TestClient, engine: Engine, settings: Settings, letter_slug: str
) -> None:
    big = PDF_BYTES + b"%" + b"padding " * 100_000 + b"\n"  # 800 kB, far past the forms' 64 KiB
    first = recipient_ids(engine, letter_slug)[1]
    _, [file] = exported(engine, settings, letter_slug, recipients=[first], contents={first: big})
    response = _upload(client, _verify_path(letter_slug, file.verification_code), big)
    assert response.status_code == 200
    assert "It matches" in response.text
    # pyHanko cannot read a file with so much after its end: the page says so, and goes on.
    assert "Not known: the copy kept on this site could not be read" in parse(response.text).text()


def test_odd_uploads_are_measured_honestly(
    client: TestClient, letter_slug: str, export_file
) -> None:  # type: ignore[no-untyped-def]
    path = _verify_path(letter_slug, export_file.verification_code)
    token = csrf_from(client.get(path).text)
    # Two files: only the first is measured (not both glued together) ...
    two = client.post(
        f"{path}/file",
        data={"csrf_token": token},
        files=[
            ("file", ("letter.pdf", PDF_BYTES, "application/pdf")),
            ("file", ("more.pdf", b"more bytes", "application/pdf")),
        ],
    )
    assert "It matches" in two.text
    # ... the CSRF field after the file counts too, and thousands of other fields are ignored.
    boundary = "b0undary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="f{n}"\r\n\r\nx\r\n'.encode()
        for n in range(20_000)
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n".encode()
        + PDF_BYTES
        + b"\r\n"
    )
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n'
        f"--{boundary}--\r\n".encode()
    )
    many = client.post(
        f"{path}/file",
        content=b"".join(parts),
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert many.status_code == 200
    assert "It matches" in many.text
    # A body cut off before its closing boundary is not measured as if whole.
    cut = client.post(
        f"{path}/file",
        content=b"".join(parts[-2:])[:-30],
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert cut.status_code == 400
    assert "did not arrive whole" in cut.text


def test_the_code_form_redirects_only_within_the_site(client: TestClient) -> None:
    response = client.get(
        "/letters/%5Cevil.example/verify", params={"code": "x"}, follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"].startswith("/letters/")
