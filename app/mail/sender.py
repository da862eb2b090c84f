"""Delivering rendered mail: over SMTP (one connection per worker batch), or printed to the
console on the local default. The envelope recipient is always passed explicitly to SMTP: it
is the address we validated, never one read back from a header a library may decode."""

from __future__ import annotations

import email.policy
import re
import smtplib
import ssl
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from typing import Protocol, TextIO

from app.config import Settings
from app.jobs.errors import JobError
from app.mail.service import RenderedMail

_ADDRESS = re.compile(r"[^\s<>@]+@[^\s<>@]+")


def redact_addresses(text: str) -> str:
    """SMTP errors often quote the recipient; we never store or log an address."""
    return _ADDRESS.sub("<address>", text)


class DeliveryError(JobError):
    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(redact_addresses(message), permanent=permanent)


class MailConnection(Protocol):
    def send(self, mail: RenderedMail) -> None: ...


class Sender(Protocol):
    def connect(self) -> AbstractContextManager[MailConnection]: ...


def build_message(mail: RenderedMail, settings: Settings) -> EmailMessage:
    local, _, domain = mail.to.rpartition("@")
    # Headers we add raw (List-Unsubscribe) are written as they are: folding would turn a long
    # address into RFC 2047 encoded words, which no mail client reads as an address.
    message = EmailMessage(policy=email.policy.default.clone(refold_source="none"))
    message["From"] = settings.mail_from
    # Built from parts: the header holds exactly the address we validated.
    message["To"] = Address(addr_spec=f"{local}@{domain}")
    message["Subject"] = mail.subject
    message["Date"] = formatdate(localtime=False)
    # Deterministic per job: if a worker dies between sending and recording it, the resent
    # copy carries the same Message-ID, so mail systems can tell it is the same message.
    message["Message-ID"] = mail.message_id
    message["Auto-Submitted"] = "auto-generated"
    for name, value in mail.headers:
        if "\r" in value or "\n" in value or not value.isascii():
            raise ValueError(f"header {name} must be one line of ASCII")
        message.set_raw(name, value)
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    return message


def _is_permanent(code: int) -> bool:
    return 500 <= code < 600


class SMTPConnection:
    """One SMTP session, opened at the first send and reused; reopened after a disconnect."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.envelope_from = parseaddr(settings.mail_from)[1] or "no-reply@localhost"
        self._smtp: smtplib.SMTP | None = None

    def _open(self) -> smtplib.SMTP:
        settings = self.settings
        smtp_class = smtplib.SMTP_SSL if settings.smtp_port == 465 else smtplib.SMTP
        smtp = smtp_class(
            settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds
        )
        try:
            if settings.smtp_starttls and smtp_class is smtplib.SMTP:
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_username:
                smtp.login(settings.smtp_username, settings.smtp_password)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send(self, mail: RenderedMail) -> None:
        message = build_message(mail, self.settings)
        try:
            if self._smtp is None:
                self._smtp = self._open()
            self._smtp.send_message(message, from_addr=self.envelope_from, to_addrs=[mail.to])
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            permanent = all(_is_permanent(code) for code in codes)
            raise DeliveryError(f"recipient refused: {codes}", permanent=permanent) from exc
        except smtplib.SMTPResponseException as exc:
            detail = (
                exc.smtp_error.decode(errors="replace")
                if isinstance(exc.smtp_error, bytes)
                else str(exc.smtp_error)
            )
            if exc.smtp_code in (421, -1):
                self.close()
            raise DeliveryError(
                f"{exc.smtp_code} {detail}", permanent=_is_permanent(exc.smtp_code)
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            # Server down, connection dropped, timeouts: try again later, on a new connection.
            self.close()
            raise DeliveryError(f"{type(exc).__name__}: {exc}", permanent=False) from exc

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()


class SMTPSender:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @contextmanager
    def connect(self) -> Iterator[MailConnection]:
        connection = SMTPConnection(self.settings)
        try:
            yield connection
        finally:
            connection.close()


class ConsoleConnection:
    def __init__(self, stream: TextIO | None) -> None:
        self.stream = stream

    def send(self, mail: RenderedMail) -> None:
        stream = self.stream or sys.stdout
        rule = "-" * 72
        # The address is left out on purpose: no address ever appears in a log.
        stream.write(f"\n{rule}\nMail (not sent: no SMTP server configured)\n")
        stream.write(f"Subject: {mail.subject}\n\n{mail.text}\n{rule}\n")
        stream.flush()


class ConsoleSender:
    """The local default: print the mail (with its links) instead of sending it."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    @contextmanager
    def connect(self) -> Iterator[MailConnection]:
        yield ConsoleConnection(self.stream)


def make_sender(settings: Settings) -> SMTPSender | ConsoleSender:
    if settings.smtp_host:
        return SMTPSender(settings)
    if not settings.is_local_default:
        # check_startable() refuses this at start; this is the last line of defence.
        raise RuntimeError("printing mail to the console is for the local default only")
    return ConsoleSender()
