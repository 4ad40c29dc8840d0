"""Lists folded from the whole event log: every customer, package, invoice, payment, credit
note or export decision, built from one paged read of their events.

They are not the read side (that is the read models, adapters/queries): the audit, reconcile,
the flat-file export, the demo and the fallbacks for a stopped read model use them, and the
commands never do. They live apart from the ledger's commands so no module holds both.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID

from eventsourcing.utils import get_topic

from domain.aggregate import Aggregate
from domain.credit_note import CreditNote
from domain.customer import Customer
from domain.export_resolution import ExportResolution
from domain.invoice import Invoice
from domain.package import Package
from domain.payment import Payment

if TYPE_CHECKING:
    from adapters.ledger.application import Ledger

A = TypeVar("A", bound=Aggregate)


class LogFolds:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def _every(self, cls: type[A]) -> list[A]:
        """Every aggregate of a class, in the order they were created, folded from one paged
        read of their events (the repository reads one aggregate per query: a thousand
        customers were a thousand round trips)."""
        topics = [get_topic(kind) for kind in cls.declared_events()]
        found: dict[UUID, Any] = {}
        for _, event in self.ledger.all_events(topics=topics):
            found[event.originator_id] = event.mutate(found.get(event.originator_id))
        return [aggregate for aggregate in found.values() if isinstance(aggregate, cls)]

    def customers(self) -> list[Customer]:
        return self._every(Customer)

    def packages(self) -> list[Package]:
        return self._every(Package)

    def invoices(self, customer_ref: str | UUID | None = None) -> list[Invoice]:
        """Every invoice (of one customer), in the order they were drafted."""
        customer_id = self.ledger.customer(customer_ref).id if customer_ref is not None else None
        return [i for i in self._every(Invoice) if customer_id in (None, i.customer_id)]

    def payments(self, customer_ref: str | UUID | None = None) -> list[Payment]:
        """Every payment (of one customer), in the order they were received."""
        customer_id = self.ledger.customer(customer_ref).id if customer_ref is not None else None
        return [p for p in self._every(Payment) if customer_id in (None, p.details.customer_id)]

    def credit_notes(self, invoice_ref: str | UUID | None = None) -> list[CreditNote]:
        """Every credit note (of one invoice), in the order they were issued."""
        invoice_id = self.ledger.invoice_id(invoice_ref) if invoice_ref is not None else None
        return [n for n in self._every(CreditNote) if invoice_id in (None, n.invoice_id)]

    def export_resolutions(self) -> list[ExportResolution]:
        """Every recorded decision on a dead letter, oldest first."""
        return self._every(ExportResolution)
