"""A real SMTP server (aiosmtpd) on 127.0.0.1 for the e-mail tests, and what it received."""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


def smtp_settings() -> dict[str, str]:
    """tollbook's SMTP settings for a server on a free port of 127.0.0.1 (no TLS)."""
    return {
        "TOLLBOOK_SMTP_HOST": "127.0.0.1",
        "TOLLBOOK_SMTP_PORT": str(free_port()),
        "TOLLBOOK_SMTP_TLS": "none",
        "TOLLBOOK_SMTP_FROM": "billing@carrier.example",
    }


def smtp_env(monkeypatch: Any) -> int:
    """Point tollbook's SMTP settings at a free port of 127.0.0.1 (no TLS); the port."""
    settings = smtp_settings()
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    return int(settings["TOLLBOOK_SMTP_PORT"])


def free_port() -> int:
    """A port nothing listens on (a server that is down, or one about to start)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Inbox:
    """Messages the server accepted, with the envelope each came in."""

    refuse: set[str] = field(default_factory=set)
    received: list[tuple[str, list[str], EmailMessage]] = field(default_factory=list)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"  # what a real server says (RFC 5321 4.2.3)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"


@contextmanager
def smtp_server(port: int, inbox: Inbox | None = None) -> Iterator[Inbox]:
    inbox = inbox or Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


def attachment(message: EmailMessage) -> tuple[str, bytes]:
    """The one attachment's file name and bytes."""
    (part,) = list(message.iter_attachments())
    data = part.get_content()
    assert isinstance(data, bytes)
    return str(part.get_filename()), data
