"""The step every finished PDF passes through before it is stored and hashed: a digital
signature (PAdES baseline B-B, with pyHanko) when a signing certificate is configured.

Without one the document passes unchanged. The SHA-256 printed on the verify page is taken
after this step, so it covers the signed file. The key is read from the settings' files once
per process; a key that cannot be read stops the worker at start (``check_signing``), not at
the end of a long export.
"""

from __future__ import annotations

import asyncio
import io
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from app.config import ConfigurationError, Settings

if TYPE_CHECKING:
    from pyhanko.sign.signers import SimpleSigner

log = logging.getLogger(__name__)

FIELD_NAME = "UndersignedSignature"
# The visible box (points; PDF user space, origin bottom left): low on the last page, in the
# bottom margin's left half, clear of the running footer's centre.
VISIBLE_BOX = (36, 52, 260, 100)


@dataclass(frozen=True, slots=True)
class _KeySource:
    pkcs12_file: Path | None
    pkcs12_passphrase: str
    key_file: Path | None
    cert_file: Path | None
    key_passphrase: str


def _source(settings: Settings) -> _KeySource | None:
    """Which key the settings name; None when signing is off. Half a configuration is refused."""
    if settings.signing_pkcs12_file and (settings.signing_key_file or settings.signing_cert_file):
        raise ConfigurationError(
            "Set either UNDERSIGNED_SIGNING_PKCS12_FILE or UNDERSIGNED_SIGNING_KEY_FILE with "
            "UNDERSIGNED_SIGNING_CERT_FILE, not both."
        )
    if bool(settings.signing_key_file) != bool(settings.signing_cert_file):
        raise ConfigurationError(
            "UNDERSIGNED_SIGNING_KEY_FILE and UNDERSIGNED_SIGNING_CERT_FILE go together."
        )
    if not settings.signing_pkcs12_file and not settings.signing_key_file:
        return None
    return _KeySource(
        pkcs12_file=settings.signing_pkcs12_file,
        pkcs12_passphrase=settings.signing_pkcs12_passphrase,
        key_file=settings.signing_key_file,
        cert_file=settings.signing_cert_file,
        key_passphrase=settings.signing_key_passphrase,
    )


@lru_cache(maxsize=4)
def _load_signer(source: _KeySource) -> SimpleSigner:
    from cryptography.hazmat.primitives.serialization import pkcs12
    from pyhanko.keys import load_cert_from_pemder, load_private_key_from_pemder
    from pyhanko.sign.signers import SimpleSigner
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    if source.pkcs12_file is not None:
        where = str(source.pkcs12_file)
        try:
            data = source.pkcs12_file.read_bytes()
            # Read once with `cryptography` first: pyHanko only logs why a file would not load.
            pkcs12.load_key_and_certificates(data, source.pkcs12_passphrase.encode() or None)
            signer: SimpleSigner = SimpleSigner.load_pkcs12_data(
                data, other_certs=(), passphrase=source.pkcs12_passphrase.encode() or None
            )
        except (OSError, ValueError, TypeError) as exc:
            raise ConfigurationError(f"Cannot read the signing key in {where}: {exc}") from exc
    else:
        assert source.key_file is not None and source.cert_file is not None
        where = f"{source.key_file} and {source.cert_file}"
        try:
            signer = SimpleSigner(
                signing_cert=load_cert_from_pemder(str(source.cert_file)),  # type: ignore[no-untyped-call]
                signing_key=load_private_key_from_pemder(
                    str(source.key_file), passphrase=source.key_passphrase.encode() or None
                ),
                cert_registry=SimpleCertificateStore(),  # type: ignore[no-untyped-call]
            )
        except (OSError, ValueError, TypeError) as exc:
            raise ConfigurationError(f"Cannot read the signing key in {where}: {exc}") from exc
    if signer.signing_cert is None or signer.signing_key is None:
        raise ConfigurationError(f"No key and certificate found in {where}")
    return _with_kept_key(signer)


def _with_kept_key(loaded: SimpleSigner) -> SimpleSigner:
    """pyHanko parses the private key again for every signature, twice per file (one is a
    dry run to size the signature); for a 3072-bit RSA key that was 0.75 s each on a loaded
    2-core machine, most of the time a small letter took to sign. This signer parses it once."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from pyhanko.sign.signers import SimpleSigner
    from pyhanko_certvalidator.util import get_pyca_cryptography_hash

    key = serialization.load_der_private_key(loaded.signing_key.dump(), password=None)

    class KeptKeySigner(SimpleSigner):
        def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
            mechanism = self.get_signature_mechanism_for_digest(digest_algorithm).signature_algo
            digest = get_pyca_cryptography_hash(digest_algorithm)
            if mechanism == "rsassa_pkcs1v15" and isinstance(key, rsa.RSAPrivateKey):
                return key.sign(data, padding.PKCS1v15(), digest)
            if mechanism == "ecdsa" and isinstance(key, ec.EllipticCurvePrivateKey):
                return key.sign(data, ec.ECDSA(digest))
            return bytes(super().sign_raw(data, digest_algorithm))  # PSS, EdDSA...: pyHanko's

    return KeptKeySigner(
        signing_cert=loaded.signing_cert,
        signing_key=loaded.signing_key,
        cert_registry=loaded.cert_registry,
        signature_mechanism=loaded.signature_mechanism,
        prefer_pss=loaded.prefer_pss,
    )


def check_signing(settings: Settings) -> bool:
    """Whether letters will be signed; raises ConfigurationError, saying what is wrong, if the
    configured key cannot be used."""
    source = _source(settings)
    if source is None:
        return False
    _load_signer(source)
    return True


_lock = threading.Lock()


def sign_pdf(data: bytes, *, settings: Settings) -> bytes:
    """The document as it will be delivered: signed when a certificate is configured."""
    source = _source(settings)
    if source is None:
        return data
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko.stamp import TextStampStyle

    signer = _load_signer(source)
    metadata = signers.PdfSignatureMetadata(
        field_name=FIELD_NAME,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,  # PAdES, not the older adbe.pkcs7.detached
        name=settings.signing_name or None,
        reason=settings.signing_reason or None,
        location=settings.signing_location or None,
    )
    # An invisible field hangs on the first page: pyHanko finds a page by reading every page
    # before it (qpdf writes flat page trees), which on the last page of a 5,000-page letter
    # took 6 of the 8 seconds signing took. A visible box goes on the last page all the same.
    field_spec = fields.SigFieldSpec(
        sig_field_name=FIELD_NAME,
        on_page=-1 if settings.signing_visible else 0,
        box=VISIBLE_BOX if settings.signing_visible else None,  # no box: an invisible field
    )
    stamp = TextStampStyle(
        # pyHanko's built-in stamp font is Courier, Latin only (an embedded font would need
        # HarfBuzz); a name it cannot draw stays in the signature, just not in the box.
        stamp_text=(
            "Digitally signed by %(signer)s\n%(ts)s"
            if _drawable(settings.signing_name or signer_name(signer))
            else "Digitally signed\n%(ts)s"
        ),
        timestamp_format="%Y-%m-%d %H:%M %Z",
    )
    pdf_signer = signers.PdfSigner(metadata, signer, new_field_spec=field_spec, stamp_style=stamp)

    def sign() -> bytes:
        output = io.BytesIO()
        writer = IncrementalPdfFileWriter(io.BytesIO(data), strict=False)
        with _lock:  # a signer object is not documented as safe to share between threads
            pdf_signer.sign_pdf(writer, output=output)
        return output.getvalue()

    # pyHanko's sign_pdf runs asyncio.run() inside, which fails in a thread whose event loop
    # is running (a worker driven from async code, a script using Playwright): sign in a
    # thread of its own then.
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return sign()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="pdf-signing") as pool:
        return pool.submit(sign).result()


def signer_name(signer: SimpleSigner) -> str:
    certificate = signer.signing_cert
    assert certificate is not None
    return str(certificate.subject.native.get("common_name") or certificate.subject.human_friendly)


def _drawable(text: str) -> bool:
    return all(32 <= ord(char) < 127 or 160 <= ord(char) < 256 for char in text)


@dataclass(frozen=True, slots=True)
class SignatureSummary:
    """What the verify page says about a stored file's digital signature."""

    signer: str
    signed_at: datetime | None
    covers_whole_file: bool


class SignatureUnreadable(Exception):
    """The stored file could not be read as a PDF (it was changed or cut short on disk)."""


def read_signature(path: Path) -> SignatureSummary | None:
    """The file's digital signature as embedded (not validated against any trust root), or None
    when it carries none. Cached per file: a finished file never changes."""
    stat = path.stat()
    try:
        return _read_signature(str(path), stat.st_size, stat.st_mtime_ns)
    except Exception as exc:  # whatever pyHanko's parser meets in a damaged file
        log.warning("cannot read the signature of %s: %s", path.name, type(exc).__name__)
        raise SignatureUnreadable(path.name) from exc


@lru_cache(maxsize=256)
def _read_signature(path: str, size: int, mtime_ns: int) -> SignatureSummary | None:
    from pyhanko.pdf_utils.reader import PdfFileReader

    del mtime_ns  # part of the cache key only
    with open(path, "rb") as file:
        reader = PdfFileReader(file, strict=False)
        embedded = reader.embedded_signatures
        if not embedded:
            return None
        last = embedded[-1]
        certificate = last.signer_cert
        byte_range = list(last.sig_object["/ByteRange"])
        return SignatureSummary(
            signer=str(certificate.subject.native.get("common_name") or "")
            or certificate.subject.human_friendly,
            signed_at=last.self_reported_timestamp,
            covers_whole_file=byte_range[0] == 0 and byte_range[2] + byte_range[3] == size,
        )
