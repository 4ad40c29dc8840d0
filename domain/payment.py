"""Payments: money received from a customer, allocated to invoices, the rest kept as credit."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Literal
from uuid import NAMESPACE_URL, UUID, uuid5

from domain import limits
from domain.aggregate import Aggregate, Created, Event, Stamp
from domain.errors import InvalidInput, InvalidState, OverAllocation, PaymentNotCompleted
from domain.values import CurrencyCode, Dec, Frozen

PaymentStatus = Literal["pending", "completed", "cancelled"]


def payment_id_for_key(idempotency_key: str) -> UUID:
    """The same idempotency key always names the same payment, so it is recorded once."""
    return uuid5(NAMESPACE_URL, f"tollbook:payment:{idempotency_key}")


class PaymentDetails(Frozen):
    customer_id: UUID
    customer_account: str
    currency: CurrencyCode
    amount: Dec
    received_on: date
    method: str = "bank transfer"
    reference: str = ""
    fee: Dec = Decimal(0)  # reference only: never changes what the customer is credited
    idempotency_key: str | None = None


class Payment(Aggregate):
    """A customer payment. Only a completed payment counts toward the balance or is allocated."""

    details: PaymentDetails
    status: PaymentStatus
    allocations: dict[UUID, Decimal]
    refunded: Decimal

    class Received(Created):
        """A payment was recorded (pending until completed, unless recorded as completed)."""

        details: PaymentDetails
        status: PaymentStatus

        def apply(self, aggregate: Any) -> None:
            aggregate.details = self.details
            aggregate.status = self.status
            aggregate.allocations = {}
            aggregate.refunded = Decimal(0)

    class Completed(Event):
        """The money arrived: the payment now counts and can be allocated."""

        currency: CurrencyCode
        amount: Dec

        def apply(self, aggregate: Any) -> None:
            aggregate.status = "completed"

    class Cancelled(Event):
        """The payment will not arrive (or was reversed before any use)."""

        currency: CurrencyCode
        amount: Dec
        previous_status: PaymentStatus

        def apply(self, aggregate: Any) -> None:
            aggregate.status = "cancelled"

    class Allocated(Event):
        """``amount`` of this payment was allocated to an invoice."""

        invoice_id: UUID
        invoice_number: str
        currency: CurrencyCode
        amount: Dec

        def apply(self, aggregate: Any) -> None:
            current = aggregate.allocations.get(self.invoice_id, Decimal(0))
            aggregate.allocations[self.invoice_id] = current + self.amount

    class Unallocated(Event):
        """``amount`` allocated to an invoice was taken back; it is customer credit again."""

        invoice_id: UUID
        invoice_number: str
        currency: CurrencyCode
        amount: Dec

        def apply(self, aggregate: Any) -> None:
            remaining = aggregate.allocations[self.invoice_id] - self.amount
            if remaining:
                aggregate.allocations[self.invoice_id] = remaining
            else:
                del aggregate.allocations[self.invoice_id]

    class Refunded(Event):
        """Unallocated credit of this payment was paid back to the customer."""

        currency: CurrencyCode
        amount: Dec
        method: str
        reference: str

        def apply(self, aggregate: Any) -> None:
            aggregate.refunded += self.amount

    @classmethod
    def receive(
        cls, payment_id: UUID, details: PaymentDetails, status: PaymentStatus, stamp: Stamp
    ) -> Payment:
        if details.amount <= 0:
            raise InvalidInput(
                f"payment amount must be greater than zero, got {limits.shown(details.amount)}",
                field="amount",
            )
        limits.check_money(details.amount, details.currency, what="payment amount", field="amount")
        limits.check_money(details.fee, details.currency, what="payment fee", field="fee")
        if details.fee < 0:
            raise InvalidInput(f"payment fee must not be negative, got {details.fee}", field="fee")
        limits.check_date(details.received_on, what="payment date", field="received_on")
        limits.check_text(details.method, limits.PAYMENT_METHOD, field="method")
        limits.check_text(details.reference, limits.REFERENCE, field="reference")
        limits.check_optional_text(
            details.idempotency_key, limits.IDEMPOTENCY_KEY, field="idempotency_key"
        )
        if status == "cancelled":
            raise InvalidInput("a payment cannot be recorded as cancelled", field="status")
        return cls._start(cls.Received, payment_id, stamp, details=details, status=status)

    @property
    def currency(self) -> str:
        return self.details.currency

    @property
    def amount(self) -> Decimal:
        return self.details.amount

    @property
    def allocated(self) -> Decimal:
        return sum(self.allocations.values(), Decimal(0))

    @property
    def unallocated(self) -> Decimal:
        """Customer credit left on this payment (zero unless completed)."""
        if self.status != "completed":
            return Decimal(0)
        return self.amount - self.allocated - self.refunded

    def complete(self, stamp: Stamp) -> None:
        if self.status != "pending":
            raise InvalidState(f"payment is {self.status}: only a pending payment completes")
        self._trigger(self.Completed, stamp, currency=self.currency, amount=self.amount)

    def cancel(self, stamp: Stamp) -> None:
        if self.status == "cancelled":
            raise InvalidState("payment is already cancelled")
        if self.allocated or self.refunded:
            raise InvalidState(
                "payment has allocations or refunds: unallocate them before cancelling"
            )
        self._trigger(
            self.Cancelled,
            stamp,
            currency=self.currency,
            amount=self.amount,
            previous_status=self.status,
        )

    def refund(self, amount: Decimal, method: str, reference: str, stamp: Stamp) -> None:
        self.require_completed("refunded")
        if amount <= 0:
            raise InvalidInput(
                f"refund amount must be greater than zero, got {limits.shown(amount)}"
            )
        limits.check_money(amount, self.currency, what="refund")
        limits.check_text(method, limits.PAYMENT_METHOD)
        limits.check_text(reference, limits.REFERENCE)
        if amount > self.unallocated:
            raise OverAllocation(
                f"refund of {amount} {self.currency} exceeds the {self.unallocated}"
                f" {self.currency} unallocated on this payment"
            )
        self._trigger(
            self.Refunded,
            stamp,
            currency=self.currency,
            amount=amount,
            method=method,
            reference=reference,
        )

    def allocate(
        self, invoice_id: UUID, invoice_number: str, amount: Decimal, stamp: Stamp
    ) -> None:
        """Record an allocation; the invoice side is recorded by domain.allocation.allocate."""
        self.require_completed("allocated")
        limits.check_money(amount, self.currency, what="allocation", field="amount")
        if invoice_id not in self.allocations:
            limits.check_count(
                len(self.allocations) + 1, limits.MAX_ALLOCATIONS, what="invoices per payment"
            )
        if amount > self.unallocated:
            raise OverAllocation(
                f"allocation of {amount} {self.currency} exceeds the {self.unallocated}"
                f" {self.currency} unallocated on the payment",
                field="amount",
            )
        self._trigger(
            self.Allocated,
            stamp,
            invoice_id=invoice_id,
            invoice_number=invoice_number,
            currency=self.currency,
            amount=amount,
        )

    def unallocate(
        self, invoice_id: UUID, invoice_number: str, amount: Decimal, stamp: Stamp
    ) -> None:
        limits.check_money(amount, self.currency)
        allocated = self.allocations.get(invoice_id, Decimal(0))
        if amount > allocated:
            raise OverAllocation(
                f"only {allocated} {self.currency} of this payment is allocated to {invoice_number}"
            )
        self._trigger(
            self.Unallocated,
            stamp,
            invoice_id=invoice_id,
            invoice_number=invoice_number,
            currency=self.currency,
            amount=amount,
        )

    def require_completed(self, action: str) -> None:
        if self.status != "completed":
            raise PaymentNotCompleted(
                f"payment is {self.status}: only a completed payment can be {action}",
                field="payment",
            )
