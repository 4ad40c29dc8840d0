"""Hand one message to the SMTP server (standard library ``smtplib``).

Returns the recipients the server refused when it accepted the message for the others; raises
:class:`SendError` when it took the message for nobody (connection, TLS, authentication,
every recipient refused, the data refused).
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from adapters.mail.config import SmtpConfig


class SendError(Exception):
    """The server did not accept the message; the text says why (recorded on the event)."""


def deliver(
    config: SmtpConfig, message: EmailMessage, recipients: tuple[str, ...]
) -> tuple[str, ...]:
    try:
        refused = _send(config, message, recipients)
    except smtplib.SMTPRecipientsRefused as error:
        codes = "; ".join(f"{a}: {c} {m.decode(errors='replace')}" for a, (c, m) in
                          error.recipients.items())  # fmt: skip
        raise SendError(f"every recipient refused: {codes}") from None
    except smtplib.SMTPResponseException as error:
        text = (
            error.smtp_error.decode(errors="replace")
            if isinstance(error.smtp_error, bytes)
            else str(error.smtp_error)
        )
        raise SendError(f"server answered {error.smtp_code} {text}") from None
    except (smtplib.SMTPException, OSError) as error:
        raise SendError(f"{type(error).__name__}: {error}") from None
    return tuple(refused)


def _send(
    config: SmtpConfig, message: EmailMessage, recipients: tuple[str, ...]
) -> dict[str, object]:
    context = ssl.create_default_context()
    if config.tls == "tls":
        client: smtplib.SMTP = smtplib.SMTP_SSL(
            config.host, config.port, timeout=config.timeout, context=context
        )
    else:
        client = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
    with client:
        if config.tls == "starttls":
            client.starttls(context=context)
        if config.user:
            client.login(config.user, config.password)
        return dict(client.send_message(message, config.sender, list(recipients)))
