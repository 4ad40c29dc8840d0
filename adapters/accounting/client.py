"""What the exporter needs from an accounting system; one implementation per system."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal, Protocol, runtime_checkable

from adapters.accounting import documents as docs


@dataclass(frozen=True)
class ExportKey:
    """The idempotency key of one export: the same ledger event always sends the same key.

    ``retrying`` is true when a person re-sends a dead letter: the remote may have kept the
    first answer for this key, so clients look the document up by its number first.
    """

    value: str
    anchor: str = ""  # the same for every attempt at this event: for remote external ids
    retrying: bool = False

    @property
    def stable(self) -> str:
        return self.anchor or self.value


@dataclass(frozen=True)
class Sent:
    """What the remote system answered: its id, and the total it computed for a document.

    ``nothing_sent`` says in words why a correction needed nothing in this system (e.g. a
    refund of credit the system never held); ``export status`` and the run report show it.
    """

    remote_id: str
    remote_total: Decimal | None = None
    nothing_sent: str = ""


def nothing_to_refund(system: str, refund: docs.Refund) -> str:
    """Why a refund needs nothing in a system that is sent payments only as their allocations
    to invoices: the money refunded was never allocated, so the system never held it."""
    return (
        f"refund: nothing to send - {system} never held the unallocated credit"
        f" ({refund.amount} {refund.currency} of payment {refund.payment_id} refunded in the"
        " ledger; it is sent payments only as their allocations to invoices)"
    )


@dataclass(frozen=True)
class RemoteDocument:
    """A document as the remote system holds it now, in its own words."""

    remote_id: str
    number: str
    currency: str
    total: Decimal
    amount_due: Decimal
    status: str  # the remote system's own status word, e.g. AUTHORISED, PAID, VOIDED
    due_date: date | None = None  # an invoice's, where the system reads it back


@runtime_checkable
class ReadsBack(Protocol):
    """A system whose documents can be read back for ``tollbook export reconcile``: every
    accounting client (``AccountingClient`` requires it, so mypy holds each system to it)."""

    def read_back(
        self, kind: Literal["invoice", "credit_note"], remote_id: str
    ) -> RemoteDocument: ...


class AccountingClient(ReadsBack, Protocol):
    system: str

    def contact(self, contact: docs.Contact, known_id: str | None, key: ExportKey) -> Sent:
        """Find the contact (external id, then account number) or create it; update details."""
        ...

    def invoice(self, invoice: docs.SalesInvoice, contact_id: str, key: ExportKey) -> Sent: ...

    def credit_note(
        self, note: docs.CreditNote, contact_id: str, invoice_id: str, key: ExportKey
    ) -> Sent: ...

    def payment(
        self, payment: docs.PaymentAllocation, contact_id: str, invoice_id: str, key: ExportKey
    ) -> Sent: ...

    def void(self, void: docs.Void, invoice_id: str, key: ExportKey) -> Sent: ...

    def due_date(self, change: docs.DueDateChange, invoice_id: str, key: ExportKey) -> Sent:
        """Give the remote invoice the new due date, or say in ``Sent.nothing_sent`` why the
        system cannot take it (it stays a difference that ``export reconcile`` shows)."""
        ...

    def unallocate(
        self, unallocation: docs.Unallocation, contact_id: str, invoice_id: str, key: ExportKey
    ) -> Sent:
        """Take ``amount`` of this payment back off the remote invoice; the remote payments
        this payment made to that invoice end at ``unallocation.remaining``."""
        ...

    def refund(self, refund: docs.Refund, contact_id: str, key: ExportKey) -> Sent:
        """Replay a refund of unallocated credit as the system documents it, or say in
        ``Sent.nothing_sent`` why it needs nothing."""
        ...

    def expected_total(self, lines: tuple[docs.Line, ...], currency: str) -> Decimal:
        """The document total as this system will compute it from what we send."""
        ...
