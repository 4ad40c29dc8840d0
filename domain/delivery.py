"""What one e-mail send request of a document carries into its events (docs/email.md)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import NAMESPACE_URL, UUID, uuid5

from domain import limits
from domain.aggregate import Event, Stamp
from domain.errors import InvalidState
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


class DocumentSent(Event):
    """The fields of ``Invoice.Sent`` and ``CreditNote.Sent`` (docs/email.md)."""

    send_id: UUID
    recipients: tuple[str, ...]
    message_id: str
    attachment_name: str
    attachment_sha256: str
    refused: tuple[str, ...] = ()  # recipients the server refused while accepting the rest

    def apply(self, aggregate: Any) -> None:
        aggregate.sends = {**getattr(aggregate, "sends", {}), self.send_id: "sent"}


class DocumentSendFailed(Event):
    """The fields of ``Invoice.SendFailed`` and ``CreditNote.SendFailed`` (docs/email.md)."""

    send_id: UUID
    recipients: tuple[str, ...]
    message_id: str
    attempt: int
    error: str
    retry_at: datetime | None

    def apply(self, aggregate: Any) -> None:
        aggregate.sends = {**getattr(aggregate, "sends", {}), self.send_id: "failed"}


class Sendable:
    """Send requests on a document aggregate: which were sent, which failed, and recording
    either. The aggregate declares ``Sent``, ``SendFailed``, ``label`` and ``check_sendable``."""

    Sent: type[DocumentSent]
    SendFailed: type[DocumentSendFailed]

    if TYPE_CHECKING:  # provided by the aggregate (and domain.aggregate.Aggregate)

        @property
        def label(self) -> str: ...

        def check_sendable(self) -> None: ...

        def _trigger(self, event_class: type[Event], stamp: Stamp, **fields: Any) -> None: ...

    @property
    def send_states(self) -> dict[UUID, str]:
        """Each send request's state, ``sent`` or ``failed`` (documents from before: none)."""
        sends: dict[UUID, str] = getattr(self, "sends", {})
        return sends

    def send_state(self, send_id: UUID) -> str | None:
        """``sent``, ``failed`` or None (never attempted) for one send request."""
        return self.send_states.get(send_id)

    def record_sent(self, delivery: Delivery, stamp: Stamp) -> bool:
        """Record an accepted message; False (nothing recorded) when already recorded. Not
        refused on a document voided meanwhile: the message went out, so the fact is kept."""
        if self.send_state(delivery.send_id) == "sent":
            return False
        self._trigger(self.Sent, stamp, **delivery.model_dump())
        return True

    def record_send_failed(self, failure: SendFailure, stamp: Stamp) -> None:
        delivery = failure.delivery
        if self.send_state(delivery.send_id) == "sent":
            raise InvalidState(f"send {delivery.send_id} of {self.label} already succeeded")
        self._trigger(
            self.SendFailed,
            stamp,
            send_id=delivery.send_id,
            recipients=delivery.recipients,
            message_id=delivery.message_id,
            attempt=failure.attempt,
            error=failure.error[: limits.REASON.max_length],
            retry_at=failure.retry_at,
        )
