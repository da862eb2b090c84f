"""The trust side of PDF letters at size: signing a large PDF, reading its signature back for
the verify page, and hashing an upload through the verify route.

    .venv/bin/python bench/pdf_trust.py [--pages 5000] [--upload-mb 50]

Makes a PDF of ``--pages`` pages with ReportLab (text like the signatory list), signs it with a
certificate from ``make-signing-cert`` (PAdES, pyHanko), reads the signature back the way the
verify page does (cold: the first reader of that file), and posts ``--upload-mb`` of a file to
the verify page's upload route through the ASGI app (no network), which hashes it as it streams.
Prints figures; never a test.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reportlab.pdfgen import canvas


def big_pdf(pages: int) -> bytes:
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer)
    for number in range(pages):
        for line in range(60):
            page.drawString(40, 800 - line * 12, f"Signer {number * 60 + line}, Somewhere, XX " * 3)
        page.showPage()
    page.save()
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=5000)
    parser.add_argument("--upload-mb", type=int, default=50)
    args = parser.parse_args()

    from app.config import Settings
    from app.exports.pdf.certificates import make_signing_certificate
    from app.exports.pdf.signing import read_signature, sign_pdf

    tmp = Path(tempfile.mkdtemp())
    made = make_signing_certificate(tmp / "cert", name="Benchmark Signer")
    settings = Settings(
        data_dir=tmp / "data",
        signing_pkcs12_file=made.pkcs12_file,
        signing_pkcs12_passphrase=made.passphrase,
    )
    started = time.perf_counter()
    data = big_pdf(args.pages)
    print(
        f"made {args.pages} pages, {len(data) / 1e6:.1f} MB: {time.perf_counter() - started:.1f} s"
    )

    started = time.perf_counter()
    sign_pdf(big_pdf(1), settings=settings)
    took = time.perf_counter() - started
    print(f"first signature of the process (imports, key read), 1 page: {took:.2f} s")
    for _ in range(2):
        started = time.perf_counter()
        signed = sign_pdf(data, settings=settings)
        print(f"signed: {time.perf_counter() - started:.2f} s (+{len(signed) - len(data)} bytes)")
    path = tmp / "signed.pdf"
    path.write_bytes(signed)
    started = time.perf_counter()
    summary = read_signature(path)
    print(f"signature read back (cold): {time.perf_counter() - started:.2f} s -> {summary}")
    started = time.perf_counter()
    read_signature(path)
    print(f"signature read back (cached): {(time.perf_counter() - started) * 1000:.2f} ms")

    upload_bench(tmp, settings, args.upload_mb)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of this process: {peak:.0f} MB; load {os.getloadavg()}")


def upload_bench(tmp: Path, settings: object, megabytes: int) -> None:
    """The upload route, end to end through the app, with a finished export to check against."""
    import hashlib

    from alembic import command
    from starlette.testclient import TestClient

    from app.cli import alembic_config
    from app.db import make_engine, open_session
    from app.letters.demo import create_demo_letter
    from app.main import create_app
    from tests.exports.pdf_files import exported
    from tests.helpers import csrf_from
    from tests.live import throwaway_settings

    app_settings = throwaway_settings(
        f"sqlite:///{tmp / 'bench.db'}", tmp / "data", verify_upload_max_mb=megabytes + 1
    )
    command.upgrade(alembic_config(app_settings.database_url), "head")
    engine = make_engine(app_settings.database_url)
    with open_session(engine, write=True) as session:
        create_demo_letter(session)
        session.commit()
    payload = os.urandom(megabytes * 1024 * 1024)
    first = 1
    _, [file] = exported(
        engine, app_settings, "all-for-all", recipients=[first], contents={first: payload}
    )
    assert file.sha256 == hashlib.sha256(payload).hexdigest()
    app = create_app(app_settings)
    with TestClient(app, base_url="http://testserver") as client:  # type: ignore[arg-type]
        path = f"/letters/all-for-all/verify/{file.verification_code}"
        token = csrf_from(client.get(path).text)
        started = time.perf_counter()
        response = client.post(
            f"{path}/file", data={"csrf_token": token}, files={"file": ("a.pdf", payload)}
        )
        took = time.perf_counter() - started
    assert "It matches" in response.text, response.status_code
    print(
        f"upload of {megabytes} MB hashed and matched: {took:.2f} s ({megabytes / took:.0f} MB/s)"
    )
    app.state.engine.dispose()
    engine.dispose()


if __name__ == "__main__":
    main()
