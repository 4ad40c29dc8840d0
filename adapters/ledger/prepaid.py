"""Prepaid credit inside the ledger's commands: credit applied to an invoice as it is issued
(``auto_apply_credit``), and the low prepaid balance notice (``Customer.PrepaidBalanceLow``)
recorded in the same save as the command that takes the balance below the threshold."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from uuid import UUID

from adapters.ledger.parties import PartyUseCases
from domain.aggregate import Stamp
from domain.customer import Customer
from domain.payment import Payment
from domain.prepaid import prepaid_balance


class PrepaidUseCases(PartyUseCases):
    """What the commands that move customer credit share."""

    def customer_payments(self, customer_id: UUID) -> list[Payment]:
        """The customer's completed payments, in the order they were recorded (from the
        payment read model's index; a scan of the log on a store without read models)."""
        if self.references is not None:
            ids = self.references.customer_payments(customer_id)
        else:
            ids = [
                event.originator_id
                for _, event in self._ids_of(Payment.Received)
                if isinstance(event, Payment.Received) and event.details.customer_id == customer_id
            ]
        payments = [self._get(Payment, payment_id, "payment") for payment_id in ids]
        return [payment for payment in payments if payment.status == "completed"]

    def prepaid_balance(self, customer_ref: str | UUID) -> Decimal:
        """The customer's credit now: Σ unallocated of its completed payments."""
        return prepaid_balance(self.customer_payments(self.customer(customer_ref).id))

    def _low_balance_watch(
        self,
        customer: Customer,
        before: Mapping[UUID, Decimal],
        changed: Sequence[Payment],
        stamp: Stamp,
    ) -> list[Customer]:
        """The customer, with ``PrepaidBalanceLow`` recorded, when ``changed`` payments (whose
        credit was ``before``, by id) took its balance from at or above its threshold to
        below it; else nothing to save. Costs a read of its payments only when it has a
        threshold."""
        if customer.profile_on(stamp.at.date()).low_balance_threshold is None:
            return []
        ids = {payment.id for payment in changed}
        rest = prepaid_balance(p for p in self.customer_payments(customer.id) if p.id not in ids)
        was = rest + sum(before.values(), Decimal(0))
        now = rest + prepaid_balance(changed)
        return [customer] if customer.watch_prepaid_balance(was, now, stamp) else []
