"""SMTP settings from the environment (the same ``TOLLBOOK_SMTP_*`` keys ``tollbook doctor``
checks): host, port, TLS mode, credentials and the sender address."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from adapters.config_error import ConfigError
from domain.email_address import check_address
from domain.errors import InvalidInput

TlsMode = Literal["none", "starttls", "tls"]
TLS_MODES: tuple[TlsMode, ...] = ("none", "starttls", "tls")
#: the port each TLS mode uses when TOLLBOOK_SMTP_PORT is not set (RFC 8314, RFC 6409)
DEFAULT_PORTS: dict[TlsMode, int] = {"none": 25, "starttls": 587, "tls": 465}
#: seconds a connection or a command may take before the attempt counts as failed
TIMEOUT = 30.0


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    tls: TlsMode
    sender: str
    user: str = ""
    password: str = ""
    timeout: float = TIMEOUT

    @property
    def message_domain(self) -> str:
        """The right-hand side of Message-IDs: the sender's domain."""
        return self.sender.rpartition("@")[2]

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SmtpConfig:
        host = env.get("TOLLBOOK_SMTP_HOST", "").strip()
        if not host:
            raise ConfigError("sending e-mail needs TOLLBOOK_SMTP_HOST (docs/email.md)")
        tls = env.get("TOLLBOOK_SMTP_TLS", "starttls").strip().lower() or "starttls"
        if tls not in TLS_MODES:
            raise ConfigError(f"TOLLBOOK_SMTP_TLS={tls[:20]!r}: use one of {', '.join(TLS_MODES)}")
        mode: TlsMode = tls
        port_text = env.get("TOLLBOOK_SMTP_PORT", "").strip() or str(DEFAULT_PORTS[mode])
        if not (port_text.isascii() and port_text.isdigit() and 0 < int(port_text) < 65536):
            raise ConfigError(f"TOLLBOOK_SMTP_PORT={port_text[:20]!r} is not a port (1-65535)")
        sender = env.get("TOLLBOOK_SMTP_FROM", "").strip()
        if not sender:
            raise ConfigError("sending e-mail needs TOLLBOOK_SMTP_FROM, the sender's address")
        try:
            check_address(sender, "TOLLBOOK_SMTP_FROM")
        except InvalidInput as error:
            raise ConfigError(f"TOLLBOOK_SMTP_FROM: {error}") from None
        user = env.get("TOLLBOOK_SMTP_USER", "")
        password = env.get("TOLLBOOK_SMTP_PASSWORD", "")
        if user and not password:
            raise ConfigError("TOLLBOOK_SMTP_USER is set but TOLLBOOK_SMTP_PASSWORD is not")
        return cls(host, int(port_text), mode, sender, user, password)
