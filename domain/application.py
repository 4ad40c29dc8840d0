"""The ledger's use cases: one application service over the event store.

Every use case is get -> command -> save. Saves that touch several aggregates (issue: invoice +
sequence; allocation: payment + invoices; credit note: note + invoice + sequence) are one
``save()`` call, which the library writes in one transaction. The use cases live in
``ledger_base`` (plumbing, audit reads), ``ledger_parties``, ``ledger_invoices`` and
``ledger_payments``; this module composes them.
"""

from __future__ import annotations

from domain.ledger_base import MAX_ATTEMPTS, utc_now
from domain.ledger_payments import PaymentUseCases

__all__ = ["MAX_ATTEMPTS", "Ledger", "utc_now"]


class Ledger(PaymentUseCases):
    """tollbook's application service: customers, packages, invoices, credit notes, payments."""

    name = "tollbook"
