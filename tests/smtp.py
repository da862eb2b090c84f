"""A real SMTP server (aiosmtpd) that keeps what it receives and can be told to refuse."""

from __future__ import annotations

import email
import email.policy
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class CatchingHandler:
    messages: list[EmailMessage] = field(default_factory=list)
    # e.g. "451 4.3.0 Try again later" or "550 5.1.1 No such user"; None accepts.
    refuse_with: str | None = None
    received: threading.Condition = field(default_factory=threading.Condition)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.refuse_with:
            return self.refuse_with
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.received:
            self.messages.append(message)
            self.received.notify_all()
        return "250 OK"


class SMTPServer:
    def __init__(self, port: int) -> None:
        self.handler = CatchingHandler()
        self.port = port
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=port)

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()

    @property
    def messages(self) -> list[EmailMessage]:
        return self.handler.messages
