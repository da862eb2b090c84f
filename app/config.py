"""Settings: the only place that reads the environment (prefix ``UNDERSIGNED_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.privacy.crypto import Keyring
from app.privacy.keys import (
    check_secret_key,
    new_encryption_key_entry,
    new_hash_key,
    new_secret_key,
    parse_encryption_keys,
    parse_hash_key,
    read_or_create,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _shipped(name: str) -> Path:
    """``app/<name>`` in an installed wheel (pyproject.toml force-includes it there), else the
    checkout's top-level ``<name>`` (editable installs, tests)."""
    packaged = Path(__file__).resolve().parent / name
    return packaged if packaged.is_dir() else PROJECT_ROOT / name


TEMPLATES_DIR = _shipped("templates")
MIGRATIONS_DIR = _shipped("migrations")
STATIC_DIR = Path(__file__).resolve().parent / "static"
LOCALES_DIR = Path(__file__).resolve().parent / "locales"


class ConfigurationError(Exception):
    """The service must not start with these settings; the message says what to set."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="UNDERSIGNED_", extra="ignore")

    data_dir: Path = Path("data")
    # Empty means SQLite in ``data_dir``.
    database_url: str = ""
    base_url: str = "http://127.0.0.1:8000"
    site_name: str = "Undersigned"
    # Comma-separated; the first signs, all verify (key rotation). Empty means a key kept in
    # ``data_dir/secret_key``, created on first use.
    secret_keys: Annotated[list[str], NoDecode] = []
    # Comma-separated ``ID:BASE64`` (32 bytes each); the first encrypts addresses, all decrypt.
    # Empty means keys kept in ``data_dir/encryption_keys`` (local default only).
    encryption_keys: Annotated[list[str], NoDecode] = []
    # Base64, at least 32 bytes: keys the hashes that find duplicate signatures without the
    # address. Empty means ``data_dir/hash_key`` (local default only). Never change it.
    hash_key: str = ""

    # Empty SMTP host means mail is printed to the console instead of sent.
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    smtp_timeout_seconds: float = 30.0
    mail_from: str = "Undersigned <no-reply@localhost>"

    confirm_token_max_age_days: float = 7.0
    # A signer may change their mind long after signing, so the withdraw link lives longer.
    withdraw_token_max_age_days: float = 365.0
    # Unsubscribe links in updates must keep working for as long as updates may come.
    unsubscribe_token_max_age_days: float = 3650.0
    # Mails one signature may cause (confirmation links, reminders) per window, so nobody can
    # flood a mailbox or use up its links.
    signer_mail_limit: int = 3
    signer_mail_window_hours: float = 24.0
    # Unconfirmed signatures, and the jobs that mention them, are deleted after this.
    unconfirmed_retention_days: float = 7.0

    # The job queue (mail, purges): polling, leases, batches, retries.
    job_poll_seconds: float = 1.0
    job_lease_seconds: float = 120.0
    job_batch_size: int = 20
    job_backoff_base_seconds: float = 30.0
    job_backoff_max_seconds: float = 3600.0
    # Signers an update's fan-out job queues mails for before it hands on to the next job.
    update_fanout_batch: int = 500

    signatures_page_size: int = 50
    # Offline signatures imported from a CSV file: the largest file and the most rows at once.
    offline_import_max_bytes: int = Field(default=20_000_000, ge=1000)
    offline_import_max_rows: int = Field(default=200_000, ge=1)

    # Webhooks: endpoints must be https on public addresses. ``webhook_allow_private`` also
    # allows http and loopback/private addresses: for tests and local development, never in
    # production (it would let an organiser make the server call its own network).
    webhook_allow_private: bool = False
    webhook_timeout_seconds: float = Field(default=5.0, gt=0, le=30)
    # Extra CA certificates (PEM) trusted for webhook endpoints, e.g. a private CA's.
    webhook_ca_file: str = ""

    # PDF letters: files and cached list chunks live under this folder (default
    # ``data_dir/pdf``). A chunk holds this many places of the list order; rendering one runs
    # in a child process limited to this much time and address space.
    pdf_storage_dir: Path | None = None
    pdf_chunk_size: int = Field(default=4000, ge=1)
    pdf_render_timeout_seconds: float = Field(default=600.0, gt=0)
    pdf_render_memory_mb: int = Field(default=2048, ge=64)
    # Finished files are deleted this many days after their export (failed exports' parts at
    # once), and cached chunks once no kept file or running export uses them: a withdrawn
    # name leaves new exports at once and stored files when they expire.
    pdf_keep_days: float = Field(default=30.0, gt=0)
    # `serve --workers N`: a web process silent this long (hung) is killed and replaced.
    web_heartbeat_seconds: float = Field(default=30.0, ge=1)
    # Digital signatures on PDF letters (PAdES, app/exports/pdf/signing.py): a PKCS#12 file
    # and its passphrase, or a private key and certificate in PEM (key passphrase optional).
    # None set: letters are not signed. The name, reason and location go into the signature;
    # ``signing_visible`` also draws a box saying who signed on the last page.
    signing_pkcs12_file: Path | None = None
    signing_pkcs12_passphrase: str = ""
    signing_key_file: Path | None = None
    signing_cert_file: Path | None = None
    signing_key_passphrase: str = ""
    signing_name: str = ""
    signing_reason: str = "Delivery of an open letter and its signatures"
    signing_location: str = ""
    signing_visible: bool = False
    # The public verify page hashes an uploaded PDF as it arrives (never stored); larger files
    # are checked by pasting their SHA-256. Uploads hashed at once, per process.
    verify_upload_max_mb: int = Field(default=100, ge=1)
    verify_uploads_at_once: int = Field(default=2, ge=1)
    # Organisers download finished PDF letters through links that expire after this.
    pdf_download_link_minutes: float = Field(default=60.0, gt=0)

    # Public counts (count.json, badge, embed, pages) lag the signatures by at most about this
    # much: the job that folds new signatures into the counts runs every 0.3 of it, each web
    # process re-reads the counts every 0.2 of it; HTTP caches may keep a counter this long.
    count_freshness_seconds: float = Field(default=5.0, ge=0.5, le=3600)
    # Public pages (letter, lists, API) kept in each process's memory this long; 0 turns it off.
    page_cache_seconds: float = Field(default=2.0, ge=0, le=60)

    # Organisers: how long an emailed sign-in link and a signed-in session last, and how many
    # sign-in links one account may be sent per hour.
    sign_in_link_minutes: float = 15.0
    organiser_session_hours: float = 12.0
    sign_in_links_per_hour: int = 5

    # Requests worked on at once; the rest wait in line, in order, without holding a thread or
    # a database connection. The database pool is sized from it, and the thread pool kept larger.
    max_active_requests: int = Field(default=10, ge=1)
    # Past this many waiting, or after waiting this long, a request is refused at once: 503.
    max_queued_requests: int = Field(default=1000, ge=0)
    max_queue_seconds: float = Field(default=15.0, gt=0)

    @field_validator("secret_keys", "encryption_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{(self.data_dir / 'undersigned.db').resolve()}"

    @property
    def is_local_default(self) -> bool:
        """SQLite in the data folder, with no database configured: a developer's machine."""
        return not self.database_url

    def resolved_secret_keys(self) -> list[str]:
        """The configured keys, or one kept in the data folder so links survive restarts."""
        if self.secret_keys:
            source = "UNDERSIGNED_SECRET_KEYS"
            return [check_secret_key(key, source=source) for key in self.secret_keys]
        path = self.data_dir / "secret_key"
        return [check_secret_key(read_or_create(path, new_secret_key), source=str(path))]

    def keyring(self) -> Keyring:
        """Encryption and hash keys: from the environment, or from the data folder locally."""
        return _load_keyring(tuple(self.encryption_keys), self.hash_key, self.data_dir.resolve())

    def missing_for_production(self) -> list[str]:
        """What a deployment on a real database must set; empty on the local default."""
        if self.is_local_default:
            return []
        required = {
            "UNDERSIGNED_SECRET_KEYS": bool(self.secret_keys),
            "UNDERSIGNED_ENCRYPTION_KEYS": bool(self.encryption_keys),
            "UNDERSIGNED_HASH_KEY": bool(self.hash_key),
            "UNDERSIGNED_BASE_URL": "base_url" in self.model_fields_set,
            "UNDERSIGNED_SMTP_HOST": bool(self.smtp_host),
        }
        return [name for name, present in required.items() if not present]

    def check_startable(self) -> None:
        """Refuse to run a deployment that would lose keys, print mail or link to localhost."""
        missing = self.missing_for_production()
        if missing:
            raise ConfigurationError(
                "With UNDERSIGNED_DATABASE_URL set, these must be set too: " + ", ".join(missing)
            )
        self.resolved_secret_keys()
        self.keyring()

    @property
    def pdf_storage_path(self) -> Path:
        return self.pdf_storage_dir or self.data_dir / "pdf"

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")


@lru_cache(maxsize=16)
def _load_keyring(encryption_keys: tuple[str, ...], hash_key: str, data_dir: Path) -> Keyring:
    if encryption_keys:
        keys = parse_encryption_keys(list(encryption_keys), source="UNDERSIGNED_ENCRYPTION_KEYS")
    else:
        path = data_dir / "encryption_keys"
        keys = parse_encryption_keys(
            read_or_create(path, new_encryption_key_entry).split(","), source=str(path)
        )
    if hash_key:
        material = parse_hash_key(hash_key, source="UNDERSIGNED_HASH_KEY")
    else:
        path = data_dir / "hash_key"
        material = parse_hash_key(read_or_create(path, new_hash_key), source=str(path))
    return Keyring(encryption_keys=tuple(keys), hash_key=material)
