"""A real SMTP server (aiosmtpd) that keeps what it receives and can be told to refuse."""

from __future__ import annotations

import email
import email.policy
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


@dataclass(frozen=True, slots=True)
class Delivery:
    """The SMTP envelope of a message received: what the client said, not the headers."""

    mail_from: str
    rcpt_tos: tuple[str, ...]


@dataclass
class CatchingHandler:
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[Delivery] = field(default_factory=list)
    # Client sessions, counted by their greeting (EHLO or HELO).
    connections: int = 0
    # e.g. "451 4.3.0 Try again later" or "550 5.1.1 No such user"; None accepts.
    refuse_with: str | None = None
    # Hang up on the client, without a reply, when the next message's data arrives.
    drop_next: bool = False
    received: threading.Condition = field(default_factory=threading.Condition)

    async def handle_EHLO(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_HELO(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, hostname: str
    ) -> str:
        self.connections += 1
        session.host_name = hostname
        return f"250 {server.hostname}"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.drop_next:
            self.drop_next = False
            server.transport.close()
            return "421 4.4.2 connection dropped"
        if self.refuse_with:
            return self.refuse_with
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.received:
            self.messages.append(message)
            self.envelopes.append(Delivery(envelope.mail_from, tuple(envelope.rcpt_tos)))
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
