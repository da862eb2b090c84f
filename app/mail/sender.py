"""Delivering one rendered mail: over SMTP, or printed to the console in development."""

from __future__ import annotations

import re
import smtplib
import ssl
import sys
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Protocol, TextIO
from urllib.parse import urlsplit

from app.config import Settings
from app.mail.service import RenderedMail

_ADDRESS = re.compile(r"[^\s<>@]+@[^\s<>@]+")


def redact_addresses(text: str) -> str:
    """SMTP errors often quote the recipient; we never store or log an address."""
    return _ADDRESS.sub("<address>", text)


class DeliveryError(Exception):
    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(redact_addresses(message))
        self.permanent = permanent


class Sender(Protocol):
    def send(self, mail: RenderedMail) -> None: ...


def build_message(mail: RenderedMail, settings: Settings) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = formatdate(localtime=False)
    domain = urlsplit(settings.base_url).hostname or "localhost"
    message["Message-ID"] = make_msgid(domain=domain)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    return message


def _is_permanent(code: int) -> bool:
    return 500 <= code < 600


class SMTPSender:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def send(self, mail: RenderedMail) -> None:
        message = build_message(mail, self.settings)
        settings = self.settings
        try:
            smtp_class = smtplib.SMTP_SSL if settings.smtp_port == 465 else smtplib.SMTP
            with smtp_class(
                settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds
            ) as smtp:
                if settings.smtp_starttls and smtp_class is smtplib.SMTP:
                    smtp.starttls(context=ssl.create_default_context())
                if settings.smtp_username:
                    smtp.login(settings.smtp_username, settings.smtp_password)
                smtp.send_message(message)
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
            raise DeliveryError(
                f"{exc.smtp_code} {detail}", permanent=_is_permanent(exc.smtp_code)
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            # Server down, connection dropped, timeouts: try again later.
            raise DeliveryError(f"{type(exc).__name__}: {exc}", permanent=False) from exc


class ConsoleSender:
    """Development mode: print the mail (with its links) instead of sending it."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    def send(self, mail: RenderedMail) -> None:
        stream = self.stream or sys.stdout
        rule = "-" * 72
        # The address is left out on purpose: no address ever appears in a log.
        stream.write(f"\n{rule}\nMail (not sent: no SMTP server configured)\n")
        stream.write(f"Subject: {mail.subject}\n\n{mail.text}\n{rule}\n")
        stream.flush()


def make_sender(settings: Settings) -> Sender:
    return SMTPSender(settings) if settings.smtp_host else ConsoleSender()
