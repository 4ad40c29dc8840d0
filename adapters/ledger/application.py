"""The ledger's use cases: one application service over the event store.

Every use case is get -> command -> save. Saves that touch several aggregates (issue: invoice +
sequence; allocation: payment + invoices; credit note: note + invoice + sequence) are one
``save()`` call, which the library writes in one transaction. The use cases live in
``ledger_base`` (plumbing, audit reads), ``ledger_parties``, ``ledger_invoices`` and
``ledger_payments``; this module composes them.
"""

from __future__ import annotations

from uuid import UUID

from adapters.ledger.base import MAX_ATTEMPTS, utc_now
from adapters.ledger.payments import PaymentUseCases
from domain.errors import NotFound
from domain.export_resolution import Action, ExportResolution, record_resolution, resolution_id

__all__ = ["MAX_ATTEMPTS", "Ledger", "utc_now"]


class Ledger(PaymentUseCases):
    """tollbook's application service: customers, packages, invoices, credit notes, payments."""

    name = "tollbook"

    def record_export_resolution(
        self,
        actor: str,
        reason: str,
        *,
        connection: str,
        system: str,
        event_key: str,
        attempt: int,
        kind: str,
        label: str,
        customer_id: UUID,
        action: Action,
        remote_id: str = "",
    ) -> UUID:
        """Record a person's decision on a dead letter; the same decision twice is one event."""
        resolution = resolution_id(connection, event_key, attempt)
        try:
            self._get(ExportResolution, resolution, "export resolution")
            return resolution
        except NotFound:
            pass
        note = record_resolution(
            resolution,
            self.stamp(actor, reason),
            connection=connection,
            system=system,
            event_key=event_key,
            kind=kind,
            label=label,
            customer_id=customer_id,
            action=action,
            remote_id=remote_id,
        )
        self._save("export resolution recorded", note)
        return resolution
