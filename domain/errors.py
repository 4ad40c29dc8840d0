"""The ledger's error hierarchy: every refusal of a command is one of these.

Each error has a stable machine-readable ``code`` (used by the CLI's --json output and, later,
HTTP problem documents) and a plain-words message.
"""

from __future__ import annotations


class BillingError(Exception):
    """A command the ledger refuses; nothing was written."""

    code = "billing_error"


class InvalidInput(BillingError):
    code = "invalid_input"


class InvalidAmount(InvalidInput):
    code = "invalid_amount"


class InvalidDate(InvalidInput):
    code = "invalid_date"


class UnknownCurrency(InvalidInput):
    code = "unknown_currency"


class CurrencyMismatch(BillingError):
    code = "currency_mismatch"


class NotFound(BillingError):
    code = "not_found"


class AlreadyExists(BillingError):
    code = "already_exists"


class DuplicateIdempotencyKey(AlreadyExists):
    code = "duplicate_idempotency_key"

    def __init__(self, message: str, existing_id: str) -> None:
        super().__init__(message)
        self.existing_id = existing_id


class InvoiceNotEditable(BillingError):
    code = "invoice_not_editable"


class InvalidState(BillingError):
    code = "invalid_state"


class EmptyInvoice(BillingError):
    code = "empty_invoice"


class OverAllocation(BillingError):
    code = "over_allocation"


class OverCredit(BillingError):
    code = "over_credit"


class PaymentNotCompleted(BillingError):
    code = "payment_not_completed"


class CustomerMismatch(BillingError):
    code = "customer_mismatch"


class HasAllocations(BillingError):
    code = "has_allocations"


class VersionMismatch(BillingError):
    """The caller edited a version that is no longer current (HTTP If-Match)."""

    code = "version_mismatch"

    def __init__(self, message: str, current_version: int) -> None:
        super().__init__(message)
        self.current_version = current_version


class ConcurrencyConflict(BillingError):
    """Another writer changed the same aggregate and retries did not settle it."""

    code = "concurrency_conflict"


class UnreadableRecord(BillingError):
    """A stored event holds values the ledger cannot compute with (stored before the limits of
    docs/money.md): this one document cannot be rendered; ``tollbook reconcile`` lists it."""

    code = "unreadable_record"
