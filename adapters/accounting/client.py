"""What the exporter needs from an accounting system; one implementation per system."""

from __future__ import annotations

from dataclasses import dataclass
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
    """What the remote system answered: its id, and the total it computed for a document."""

    remote_id: str
    remote_total: Decimal | None = None


class AccountingClient(Protocol):
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

    def expected_total(self, lines: tuple[docs.Line, ...], currency: str) -> Decimal:
        """The document total as this system will compute it from what we send."""
        ...


@runtime_checkable
class ReplaysCorrections(Protocol):
    """A system that replays un-allocations and refunds as its own documents describe.

    A client without these methods gets a note for a person instead (``export status``).
    """

    def unallocate(
        self, unallocation: docs.Unallocation, contact_id: str, invoice_id: str, key: ExportKey
    ) -> Sent:
        """Take ``amount`` of this payment back off the remote invoice; the remote payments
        this payment made to that invoice end at ``unallocation.remaining``."""
        ...

    def refund(self, refund: docs.Refund, contact_id: str, key: ExportKey) -> Sent: ...


@dataclass(frozen=True)
class RemoteDocument:
    """A document as the remote system holds it now, in its own words."""

    remote_id: str
    number: str
    currency: str
    total: Decimal
    amount_due: Decimal
    status: str  # the remote system's own status word, e.g. AUTHORISED, PAID, VOIDED


@runtime_checkable
class ReadsBack(Protocol):
    """A system whose documents can be read back for ``tollbook export reconcile``."""

    def read_back(
        self, kind: Literal["invoice", "credit_note"], remote_id: str
    ) -> RemoteDocument: ...
