"""Customer balances per currency, folded from the event stream (never stored on aggregates).

A pure fold: feed it events in log order. The same fold backs the CLI's ``balance`` view and
the reconciliation check, and the tracked SQL projection applies the same rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from uuid import UUID

from domain.aggregate import Event
from domain.credit_note import CreditNote
from domain.event_handlers import HandlesEvents, on
from domain.invoice import Invoice
from domain.payment import Payment


@dataclass
class BalanceRow:
    """What one customer owes and holds in one currency."""

    customer_id: UUID
    customer_account: str
    currency: str
    invoiced: Decimal = Decimal(0)
    credited: Decimal = Decimal(0)
    received: Decimal = Decimal(0)
    allocated: Decimal = Decimal(0)
    refunded: Decimal = Decimal(0)

    @property
    def outstanding(self) -> Decimal:
        """Owed on issued invoices: invoiced - credit notes - allocated payments."""
        return self.invoiced - self.credited - self.allocated

    @property
    def unallocated(self) -> Decimal:
        """Customer credit: completed payments not allocated or refunded."""
        return self.received - self.allocated - self.refunded

    @property
    def net_due(self) -> Decimal:
        """Outstanding less credit on account (negative: the customer is in credit)."""
        return self.outstanding - self.unallocated


@dataclass
class Balances(HandlesEvents):
    """Fold of invoice, credit-note and payment events into per-customer balances."""

    rows: dict[tuple[UUID, str], BalanceRow] = field(default_factory=dict)
    invoice_owner: dict[UUID, tuple[UUID, str]] = field(default_factory=dict)
    payment_owner: dict[UUID, tuple[UUID, str]] = field(default_factory=dict)
    payment_status: dict[UUID, str] = field(default_factory=dict)
    payment_amount: dict[UUID, Decimal] = field(default_factory=dict)

    def row(self, owner: tuple[UUID, str], currency: str) -> BalanceRow:
        key = (owner[0], currency)
        if key not in self.rows:
            self.rows[key] = BalanceRow(owner[0], owner[1], currency)
        return self.rows[key]

    def apply(self, event: Event) -> None:
        handle = self.handler_for(event)
        if handle is not None:
            handle(event)

    @on(Invoice.Drafted)
    def _drafted(self, event: Invoice.Drafted) -> None:
        self.invoice_owner[event.originator_id] = (event.customer_id, event.customer_account)

    @on(Invoice.Issued)
    def _issued(self, event: Invoice.Issued) -> None:
        owner = self.invoice_owner[event.originator_id]
        self.row(owner, event.currency).invoiced += event.total

    @on(Invoice.Voided)
    def _voided(self, event: Invoice.Voided) -> None:
        owner = self.invoice_owner[event.originator_id]
        self.row(owner, event.currency).invoiced -= event.total

    @on(CreditNote.Issued)
    def _credited(self, event: CreditNote.Issued) -> None:
        owner = (event.customer_id, event.customer_account)
        self.row(owner, event.currency).credited += event.total

    @on(Payment.Received)
    def _received(self, event: Payment.Received) -> None:
        details = event.details
        owner = (details.customer_id, details.customer_account)
        self.payment_owner[event.originator_id] = owner
        self.payment_status[event.originator_id] = event.status
        self.payment_amount[event.originator_id] = details.amount
        row = self.row(owner, details.currency)
        if event.status == "completed":
            row.received += details.amount

    @on(Payment.Completed)
    def _completed(self, event: Payment.Completed) -> None:
        self.payment_status[event.originator_id] = "completed"
        self._payment_row(event.originator_id, event.currency).received += event.amount

    @on(Payment.Cancelled)
    def _cancelled(self, event: Payment.Cancelled) -> None:
        if self.payment_status[event.originator_id] == "completed":
            row = self._payment_row(event.originator_id, event.currency)
            row.received -= event.amount
        self.payment_status[event.originator_id] = "cancelled"

    @on(Payment.Allocated)
    def _allocated(self, event: Payment.Allocated) -> None:
        self._payment_row(event.originator_id, event.currency).allocated += event.amount

    @on(Payment.Unallocated)
    def _unallocated(self, event: Payment.Unallocated) -> None:
        self._payment_row(event.originator_id, event.currency).allocated -= event.amount

    @on(Payment.Refunded)
    def _refunded(self, event: Payment.Refunded) -> None:
        self._payment_row(event.originator_id, event.currency).refunded += event.amount

    def _payment_row(self, payment_id: UUID, currency: str) -> BalanceRow:
        return self.row(self.payment_owner[payment_id], currency)

    def fold(self, events: Iterable[Event]) -> Balances:
        for event in events:
            self.apply(event)
        return self

    def for_customer(self, customer_id: UUID) -> list[BalanceRow]:
        return [row for (cid, _), row in sorted(self.rows.items(), key=_key) if cid == customer_id]

    def all(self) -> list[BalanceRow]:
        return [row for _, row in sorted(self.rows.items(), key=_key)]


def _key(item: tuple[tuple[UUID, str], BalanceRow]) -> tuple[str, str]:
    return (item[1].customer_account, item[1].currency)
