"""Settings: the only place that reads the environment (prefix ``UNDERSIGNED_``)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = PROJECT_ROOT / "templates"
MIGRATIONS_DIR = PROJECT_ROOT / "migrations"
STATIC_DIR = Path(__file__).resolve().parent / "static"
LOCALES_DIR = Path(__file__).resolve().parent / "locales"


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
    # How many "you already signed" mails one signature may cause.
    duplicate_notice_limit: int = 3

    mail_poll_seconds: float = 1.0
    mail_max_attempts: int = 12
    mail_backoff_base_seconds: float = 30.0
    mail_backoff_max_seconds: float = 3600.0

    signatures_page_size: int = 50

    # Requests worked on at once; the rest wait in line, in order, without holding a thread or
    # a database connection. The database pool is sized from it, and the thread pool kept larger.
    max_active_requests: int = Field(default=10, ge=1)
    # Past this many waiting, or after waiting this long, a request is refused at once: 503.
    max_queued_requests: int = Field(default=1000, ge=0)
    max_queue_seconds: float = Field(default=15.0, gt=0)

    @field_validator("secret_keys", mode="before")
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

    def resolved_secret_keys(self) -> list[str]:
        """The configured keys, or one kept in the data folder so links survive restarts."""
        if self.secret_keys:
            return self.secret_keys
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key_file = self.data_dir / "secret_key"
        try:
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
        return [key_file.read_text().strip()]

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")
