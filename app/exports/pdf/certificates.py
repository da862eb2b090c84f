"""``undersigned make-signing-cert``: a self-signed certificate for trying digital signatures.

Nobody's PDF reader trusts a self-signed certificate: a letter signed with it shows as signed
but "of unknown validity" until the reader is told to trust ``certificate.pem``. For real
letters use a certificate from a provider that readers trust (an AATL or eIDAS one)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from app.db import utcnow

VALID_DAYS = 365
PKCS12_NAME = "signing.p12"
PASSPHRASE_NAME = "signing-passphrase"  # noqa: S105 (a file name)
CERTIFICATE_NAME = "certificate.pem"


class CertificateRefused(Exception):
    """The folder already holds such files, or cannot be written."""


@dataclass(frozen=True, slots=True)
class MadeCertificate:
    pkcs12_file: Path
    passphrase_file: Path
    certificate_file: Path
    passphrase: str
    fingerprint_sha256: str


def _write_new(path: Path, data: bytes, *, mode: int) -> None:
    """Create the file (never overwrite one: it may be the key real letters are signed with)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)


def make_signing_certificate(out: Path, *, name: str) -> MadeCertificate:
    out.mkdir(parents=True, exist_ok=True)
    targets = [out / PKCS12_NAME, out / PASSPHRASE_NAME, out / CERTIFICATE_NAME]
    existing = [str(path) for path in targets if path.exists()]
    if existing:
        raise CertificateRefused("Not overwriting " + ", ".join(existing))
    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, name),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Self-signed, for trying only"),
        ]
    )
    now = utcnow()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,  # non-repudiation: what document signatures use
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    passphrase = secrets.token_urlsafe(24)
    bundle = pkcs12.serialize_key_and_certificates(
        name=name.encode(),
        key=key,
        cert=certificate,
        cas=None,
        encryption_algorithm=serialization.BestAvailableEncryption(passphrase.encode()),
    )
    _write_new(targets[0], bundle, mode=0o600)
    _write_new(targets[1], passphrase.encode() + b"\n", mode=0o600)
    _write_new(targets[2], certificate.public_bytes(serialization.Encoding.PEM), mode=0o644)
    return MadeCertificate(
        pkcs12_file=targets[0].resolve(),
        passphrase_file=targets[1].resolve(),
        certificate_file=targets[2].resolve(),
        passphrase=passphrase,
        fingerprint_sha256=certificate.fingerprint(hashes.SHA256()).hex(),
    )
