"""The whole way, with real parts: an organiser starts PDF letters on the dashboard, the job
worker renders, merges and signs them (with a certificate from `make-signing-cert`), the
progress page shows them done, the download is the file whose SHA-256 the public verify page
shows, pyHanko validates its signature, and the verify page recognises it."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from pyhanko.keys import load_cert_from_pemder
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from sqlalchemy import Engine
from starlette.testclient import TestClient

from app.config import Settings
from app.exports.pdf.certificates import make_signing_certificate
from app.jobs.worker import JobWorker
from app.mail.sender import SMTPSender
from app.main import create_app
from tests.exports.test_csv import organise
from tests.helpers import add_signature, csrf_from
from tests.html import parse
from tests.organisers.helpers import add_organiser, sign_in
from tests.smtp import SMTPServer


@pytest.fixture
def signing_settings(settings: Settings, tmp_path: Path) -> Settings:
    made = make_signing_certificate(tmp_path / "cert", name="Undersigned Test Signer")
    return settings.model_copy(
        update={
            "signing_pkcs12_file": made.pkcs12_file,
            "signing_pkcs12_passphrase": made.passphrase,
            "signing_reason": "Delivery of the open letter",
        }
    )


def test_from_the_dashboard_to_a_verified_signed_file(
    signing_settings: Settings, engine: Engine, smtp: SMTPServer, letter_slug: str, tmp_path: Path
) -> None:
    add_signature(engine, letter_slug, name="Мария Иванова", email="m@example.org", country="RU")
    add_signature(engine, letter_slug, name="Jane Public", email="j@example.org", country="GB")
    worker = JobWorker(
        engine=engine,
        settings=signing_settings,
        sender=SMTPSender(signing_settings),
        recurring=(),
    )
    app = create_app(signing_settings)
    with TestClient(app, base_url="http://testserver") as client:  # type: ignore[arg-type]
        add_organiser(engine, "maker@example.org")
        organise(engine, "maker@example.org", 1)
        sign_in(client, "maker@example.org", worker, smtp)
        dashboard = client.get("/organise/letters/1/dashboard")
        started = client.post(
            "/organise/letters/1/pdf",
            data={"recipient": "3", "csrf_token": csrf_from(dashboard.text)},
        )
        assert started.status_code == 200
        assert "Waiting for a worker" in parse(started.text).text()

        worker.run_until_idle(max_passes=500)

        done = client.get(str(started.url))
        page = parse(done.text)
        assert "Done" in page.text(), page.text()
        [link] = [a.attrs["href"] for a in page.find_all("a") if "/files/" in a.attrs["href"]]
        [verify] = [a.attrs["href"] for a in page.find_all("a") if "/verify/" in a.attrs["href"]]
        pdf = client.get(link)
        assert pdf.status_code == 200
        data = pdf.content

        verify_page = parse(client.get(verify).text).text()
        assert hashlib.sha256(data).hexdigest() in verify_page
        assert "Yes, signed by Undersigned Test Signer." in verify_page
        assert "António Costa" in verify_page
        upload = client.post(
            f"{verify}/file",
            data={"csrf_token": csrf_from(client.get(verify).text)},
            files={"file": ("letter.pdf", data, "application/pdf")},
        )
        assert "It matches" in upload.text
    app.state.engine.dispose()

    [embedded] = PdfFileReader(io.BytesIO(data), strict=False).embedded_signatures
    root = load_cert_from_pemder(str(tmp_path / "cert" / "certificate.pem"))
    status = validate_pdf_signature(embedded, ValidationContext(trust_roots=[root]))
    assert status.bottom_line, status.pretty_print_details()
