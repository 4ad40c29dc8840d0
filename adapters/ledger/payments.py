"""Use cases for payments: record, complete, cancel, refund, allocate, unallocate."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal
from uuid import UUID, uuid4

from adapters.ledger.invoices import InvoiceUseCases
from domain import allocation, limits
from domain.aggregate import Stamp
from domain.errors import (
    CurrencyMismatch,
    DuplicateIdempotencyKey,
    InvalidInput,
    NotFound,
)
from domain.invoice import Invoice
from domain.payment import Payment, PaymentDetails, PaymentStatus, payment_id_for_key


class PaymentUseCases(InvoiceUseCases):
    """Money in, and its allocation to invoices (always saved with every invoice touched)."""

    # ---------------------------------------------------------------- payments

    def record_payment(
        self,
        customer_ref: str | UUID,
        actor: str,
        *,
        amount: Decimal,
        currency: str | None = None,
        received_on: date | None = None,
        method: str = "bank transfer",
        reference: str = "",
        fee: Decimal = Decimal(0),
        status: PaymentStatus = "pending",
        idempotency_key: str | None = None,
    ) -> UUID:
        """Record a payment. The same idempotency key never records a second payment."""
        customer = self.customer(customer_ref)
        if currency is not None and currency.upper() != customer.currency:
            raise CurrencyMismatch(
                f"customer {customer.registered.account_number} is billed in"
                f" {customer.currency}, not {currency.upper()}"
            )
        details = PaymentDetails(
            customer_id=customer.id,
            customer_account=customer.registered.account_number,
            currency=customer.currency,
            amount=amount,
            received_on=received_on or self.today(),
            method=method,
            reference=reference,
            fee=fee,
            idempotency_key=idempotency_key,
        )
        payment_id = payment_id_for_key(idempotency_key) if idempotency_key else uuid4()
        payment = Payment.receive(payment_id, details, status, self.stamp(actor))
        self._create(
            "payment received",
            payment,
            DuplicateIdempotencyKey(
                f"idempotency key {idempotency_key!r} was already used by payment {payment_id}:"
                " nothing new was recorded",
                str(payment_id),
            ),
        )
        return payment.id

    def payment(self, ref: str | UUID) -> Payment:
        """A payment by id or a unique id prefix (6+ characters)."""
        return self._get(Payment, self._payment_id(ref), "payment")

    def _payment_id(self, ref: str | UUID) -> UUID:
        if isinstance(ref, UUID):
            return ref
        try:
            return UUID(ref)
        except ValueError:
            pass
        if self.references is not None:
            return self.references.find("payment", ref)
        prefix = ref.lower()
        matches = [
            event.originator_id
            for _, event in self._ids_of(Payment.Received)
            if len(prefix) >= 6 and str(event.originator_id).startswith(prefix)
        ]
        if len(matches) != 1:
            raise NotFound(f"unknown payment {ref!r}", field="payment")
        return matches[0]

    def _edit_payment(
        self,
        operation: str,
        ref: str | UUID,
        change: Callable[[Payment], None],
        expected_version: int | None,
    ) -> None:
        def command() -> None:
            payment = self._at_version(self.payment(ref), expected_version, "payment")
            change(payment)
            self._save(operation, payment)

        self._retrying(operation, command)

    def complete_payment(
        self, ref: str | UUID, actor: str, *, expected_version: int | None = None
    ) -> None:
        self._edit_payment(
            "payment completed", ref, lambda p: p.complete(self.stamp(actor)), expected_version
        )

    def _spend_credit(
        self,
        operation: str,
        ref: str | UUID,
        change: Callable[[Payment, Stamp], None],
        stamp: Callable[[], Stamp],
        expected_version: int | None,
    ) -> None:
        """A change that may lower the customer's credit (a refund, a cancellation): saved
        with the customer when it takes the prepaid balance below its threshold."""

        def command() -> None:
            payment = self._at_version(self.payment(ref), expected_version, "payment")
            at = stamp()
            before = {payment.id: payment.unallocated}
            change(payment, at)
            customer = self.customer(payment.details.customer_id)
            watched = self._low_balance_watch(customer, before, [payment], at)
            self._save(operation, payment, *watched)

        self._retrying(operation, command)

    def cancel_payment(
        self,
        ref: str | UUID,
        actor: str,
        reason: str | None = None,
        *,
        expected_version: int | None = None,
    ) -> None:
        self._spend_credit(
            "payment cancelled",
            ref,
            lambda p, at: p.cancel(at),
            lambda: self.stamp(actor, reason),
            expected_version,
        )

    def refund_payment(
        self,
        ref: str | UUID,
        amount: Decimal,
        actor: str,
        *,
        method: str = "bank transfer",
        reference: str = "",
        reason: str | None = None,
        expected_version: int | None = None,
    ) -> None:
        self._spend_credit(
            "payment refunded",
            ref,
            lambda p, at: p.refund(amount, method, reference, at),
            lambda: self.stamp(actor, reason),
            expected_version,
        )

    def allocate(
        self,
        payment_ref: str | UUID,
        allocations: Sequence[tuple[str | UUID, Decimal]],
        actor: str,
        reason: str | None = None,
        *,
        expected_version: int | None = None,
    ) -> None:
        """Allocate one payment over one or several invoices, all or nothing;
        ``expected_version`` is the payment's."""
        if not allocations:
            raise InvalidInput("nothing to allocate")
        limits.check_count(len(allocations), limits.MAX_ALLOCATIONS, what="invoices per payment")

        def command() -> None:
            payment = self._at_version(self.payment(payment_ref), expected_version, "payment")
            stamp = self.stamp(actor, reason)
            before = {payment.id: payment.unallocated}
            invoices: dict[UUID, Invoice] = {}
            for invoice_ref, amount in allocations:
                invoice_id = self.invoice_id(invoice_ref)
                invoice = invoices.get(invoice_id) or self.invoice(invoice_id)
                invoices[invoice_id] = invoice
                allocation.allocate(payment, invoice, amount, stamp)
            customer = self.customer(payment.details.customer_id)
            watched = self._low_balance_watch(customer, before, [payment], stamp)
            self._save("payment allocated", payment, *invoices.values(), *watched)

        self._retrying("allocate payment", command)

    def unallocate(
        self,
        payment_ref: str | UUID,
        invoice_ref: str | UUID,
        amount: Decimal,
        actor: str,
        reason: str,
        *,
        expected_version: int | None = None,
    ) -> None:
        """``expected_version`` is the payment's."""

        def command() -> None:
            payment = self._at_version(self.payment(payment_ref), expected_version, "payment")
            invoice = self.invoice(invoice_ref)
            allocation.unallocate(payment, invoice, amount, self.stamp(actor, reason))
            self._save("payment unallocated", payment, invoice)

        self._retrying("unallocate payment", command)
