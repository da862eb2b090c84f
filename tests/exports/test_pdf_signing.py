"""Digital signatures on PDF letters: `undersigned make-signing-cert` makes a key for trying,
`sign_pdf` signs with it (PAdES), and pyHanko's own validator, trusting that certificate, judges
the result valid; one changed byte, or another trust root, and it does not."""

from __future__ import annotations

import asyncio
import io
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from pyhanko.keys import load_cert_from_pemder
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import PdfSignatureStatus, SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from reportlab.pdfgen import canvas

from app.cli import main
from app.config import ConfigurationError, Settings
from app.exports.pdf.signing import FIELD_NAME, check_signing, read_signature, sign_pdf

NAME = "Campaign for Testing Signatures"


def _document() -> bytes:
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pageCompression=0)
    page.drawString(72, 720, "To the President: this letter is signed by 412,337 people.")
    page.showPage()
    page.drawString(72, 720, "Anna Example, Boris Example")
    page.save()
    return buffer.getvalue()


@pytest.fixture(scope="module")
def certificate_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cert") / "signing"
    assert main(["make-signing-cert", "--out", str(out), "--name", NAME]) == 0
    return out


def _settings(certificate_dir: Path, **changes: object) -> Settings:
    passphrase = (certificate_dir / "signing-passphrase").read_text().strip()
    values: dict[str, object] = {
        "signing_pkcs12_file": certificate_dir / "signing.p12",
        "signing_pkcs12_passphrase": passphrase,
        "signing_name": "Letters Team",
        "signing_reason": "Delivery of the letter",
        "signing_location": "Brussels",
    }
    return Settings(**(values | changes))  # type: ignore[arg-type]


def _validate(data: bytes, root: Path) -> PdfSignatureStatus:
    [embedded] = PdfFileReader(io.BytesIO(data), strict=False).embedded_signatures
    context = ValidationContext(trust_roots=[load_cert_from_pemder(str(root))])
    return validate_pdf_signature(embedded, context)


def test_make_signing_cert_writes_private_files_and_never_overwrites(
    certificate_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("signing.p12", "signing-passphrase"):
        assert stat.S_IMODE((certificate_dir / name).stat().st_mode) == 0o600
    before = (certificate_dir / "signing.p12").read_bytes()
    assert main(["make-signing-cert", "--out", str(certificate_dir)]) == 1
    assert "Not overwriting" in capsys.readouterr().err
    assert (certificate_dir / "signing.p12").read_bytes() == before


def test_signed_pdf_validates_and_a_changed_byte_breaks_it(certificate_dir: Path) -> None:
    original = _document()
    signed = sign_pdf(original, settings=_settings(certificate_dir))

    assert signed.startswith(original)  # an incremental update: the letter itself untouched
    status = _validate(signed, certificate_dir / "certificate.pem")
    assert status.bottom_line, status.pretty_print_details()
    assert status.intact and status.valid and status.trusted
    assert status.coverage is SignatureCoverageLevel.ENTIRE_FILE
    [embedded] = PdfFileReader(io.BytesIO(signed), strict=False).embedded_signatures
    assert embedded.field_name == FIELD_NAME
    assert str(embedded.sig_object["/SubFilter"]) == "/ETSI.CAdES.detached"  # PAdES
    assert str(embedded.sig_object["/Name"]) == "Letters Team"
    assert str(embedded.sig_object["/Reason"]) == "Delivery of the letter"
    assert str(embedded.sig_object["/Location"]) == "Brussels"

    tampered = signed.replace(b"412,337", b"912,337")
    assert tampered != signed
    broken = _validate(tampered, certificate_dir / "certificate.pem")
    assert not broken.intact
    assert not broken.bottom_line


def test_another_trust_root_is_not_trusted(certificate_dir: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    assert main(["make-signing-cert", "--out", str(other), "--name", "Someone Else"]) == 0
    signed = sign_pdf(_document(), settings=_settings(certificate_dir))
    status = _validate(signed, other / "certificate.pem")
    assert status.intact  # the bytes are as signed ...
    assert not status.trusted  # ... but not by anyone this reader trusts
    assert not status.bottom_line


def test_without_a_certificate_nothing_changes() -> None:
    original = _document()
    settings = Settings()
    assert check_signing(settings) is False
    assert sign_pdf(original, settings=settings) is original


def test_pem_key_and_certificate_sign_visibly(certificate_dir: Path, tmp_path: Path) -> None:
    passphrase = (certificate_dir / "signing-passphrase").read_text().strip()
    key, certificate, _ = pkcs12.load_key_and_certificates(
        (certificate_dir / "signing.p12").read_bytes(), passphrase.encode()
    )
    assert key is not None and certificate is not None
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"pem secret"),
        )
    )
    (tmp_path / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    settings = Settings(
        signing_key_file=tmp_path / "key.pem",
        signing_cert_file=tmp_path / "cert.pem",
        signing_key_passphrase="pem secret",
        signing_visible=True,
    )
    assert check_signing(settings)
    signed = sign_pdf(_document(), settings=settings)
    assert _validate(signed, certificate_dir / "certificate.pem").bottom_line
    [embedded] = PdfFileReader(io.BytesIO(signed), strict=False).embedded_signatures
    left, bottom, right, top = (float(n) for n in embedded.sig_field["/Rect"])
    assert right - left > 100 and top - bottom > 20  # a visible box, not an empty rectangle
    path = tmp_path / "signed.pdf"
    path.write_bytes(signed)
    summary = read_signature(path)
    assert summary is not None
    assert summary.signer == NAME
    assert summary.covers_whole_file
    path.write_bytes(signed + b"\n% appended after signing\n")
    changed = read_signature(path)
    assert changed is not None and not changed.covers_whole_file
    path.write_bytes(_document())
    assert read_signature(path) is None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"signing_pkcs12_passphrase": "wrong"}, "Cannot read the signing key"),
        ({"signing_pkcs12_file": Path("/nonexistent/signing.p12")}, "Cannot read the signing key"),
        ({"signing_cert_file": Path("/etc/hostname")}, "not both"),
    ],
)
def test_a_key_that_cannot_be_used_is_refused_clearly(
    certificate_dir: Path, changes: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        check_signing(_settings(certificate_dir, **changes))


def test_key_file_without_certificate_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="go together"):
        check_signing(Settings(signing_key_file=tmp_path / "key.pem"))


def test_signing_works_where_an_event_loop_is_running(certificate_dir: Path) -> None:
    """pyHanko's sync API starts an event loop of its own; a worker driven from async code (or
    a script using Playwright's sync API) already has one running in its thread."""

    async def inside_a_loop() -> bytes:
        return sign_pdf(_document(), settings=_settings(certificate_dir))

    signed = asyncio.run(inside_a_loop())
    assert _validate(signed, certificate_dir / "certificate.pem").bottom_line
