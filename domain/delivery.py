"""What one e-mail send request of a document carries into its events (docs/email.md)."""

from __future__ import annotations

from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from domain.values import Frozen

_SENDS = uuid5(NAMESPACE_URL, "https://tollbook.invalid/sends")


def send_id_for(document_id: UUID, key: str) -> UUID:
    """The send request's id: the same document and key always name the same request."""
    return uuid5(_SENDS, f"{document_id}:{key}")


def message_id_for(send_id: UUID, domain: str) -> str:
    """The Message-ID header: derived from the send id, so a retry repeats it exactly."""
    return f"<{send_id}@{domain}>"


class Delivery(Frozen):
    send_id: UUID
    recipients: tuple[str, ...]
    message_id: str
    attachment_name: str
    attachment_sha256: str
    refused: tuple[str, ...] = ()


class SendFailure(Frozen):
    """One failed attempt of a send request, and when the next one is due (None: given up)."""

    delivery: Delivery
    attempt: int
    error: str
    retry_at: datetime | None
