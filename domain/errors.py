"""The ledger's error hierarchy: every refusal of a command is one of these.

Each error has a stable machine-readable ``code`` (used by the CLI's --json output and HTTP
problem documents), a plain-words message and, when one input caused it, the ``field`` it
concerns: the name of the command's parameter (or of the profile / change-set field), set where
the domain raises it. The portal shows the message next to that field; nothing matches words in
the message to place it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class BillingError(Exception):
    """A command the ledger refuses; nothing was written. ``field`` names the input it
    concerns (``"unit_price"``, ``"due_date"``, ...), or is None when no one input does."""

    code = "billing_error"
    field: str | None = None
    #: Of a command over several items (a payment allocated to several invoices), the id of
    #: the item the error concerns (see ``about``); None otherwise.
    item: str | None = None

    def __init__(self, message: str = "", *, field: str | None = None) -> None:
        super().__init__(message)
        if field is not None:
            self.field = field


@contextmanager
def about(item: str) -> Iterator[None]:
    """A refusal raised inside concerns ``item``, one of the several a command acts on."""
    try:
        yield
    except BillingError as error:
        if error.item is None:
            error.item = item
        raise


class InvalidInput(BillingError):
    code = "invalid_input"


class InvalidAmount(InvalidInput):
    code = "invalid_amount"


class InvalidDate(InvalidInput):
    code = "invalid_date"


class NoRecipient(InvalidInput):
    """An e-mail with nobody to go to: the customer has no billing address and none was given
    (what the customer's record holds, not the request's shape)."""

    code = "no_billing_address"


class UnknownCurrency(InvalidInput):
    code = "unknown_currency"


class UnknownCountry(InvalidInput):
    """A country that is not an assigned ISO 3166-1 alpha-2 code (domain/countries.py)."""

    code = "unknown_country"


class OutOfRange(InvalidInput):
    """A number, date, day count or number of items outside the ledger's limits
    (domain/limits.py, docs/money.md)."""

    code = "out_of_range"


class InvalidTiers(InvalidInput):
    """Tiered prices whose tiers do not follow each other from 0 to an open end (a gap, an
    overlap, out of order), or a destination priced twice (domain/pricing.py)."""

    code = "invalid_tiers"


class TextTooLong(InvalidInput):
    """A text field longer than its limit (domain/limits.py)."""

    code = "text_too_long"


class InvalidCharacters(InvalidInput):
    """Text with a control character, a line break where one line is expected, or a
    bidirectional override (domain/limits.py)."""

    code = "invalid_characters"


class InvalidNumberFormat(InvalidInput):
    """A document number format with anything but literal text, ``{year}`` and ``{seq}``."""

    code = "invalid_number_format"


class InvalidBankDetails(InvalidInput):
    """An IBAN whose check digits are wrong, a malformed BIC, sort code or account number, or
    half of a pair (domain/seller_details.py)."""

    code = "invalid_bank_details"


class TaxRateNotAllowed(InvalidInput):
    """A non-zero tax rate on a line of a customer whose tax treatment charges no VAT
    (domain/tax_treatment.py)."""

    code = "tax_rate_not_allowed"


class UnknownTaxTreatment(InvalidInput):
    """A tax treatment that is not one of domain/tax_treatment.py's."""

    code = "unknown_tax_treatment"


class CurrencyMismatch(BillingError):
    code = "currency_mismatch"


class NotFound(BillingError):
    code = "not_found"


class AlreadyExists(BillingError):
    code = "already_exists"


class DuplicateIdempotencyKey(AlreadyExists):
    code = "duplicate_idempotency_key"

    def __init__(self, message: str, existing_id: str) -> None:
        super().__init__(message, field="idempotency_key")
        self.existing_id = existing_id


class InvoiceNotEditable(BillingError):
    code = "invoice_not_editable"


class NumberOutOfDateOrder(BillingError):
    """A document dated before the latest one its number sequence already numbered
    (domain/numbering.py: numbers follow dates)."""

    code = "number_out_of_date_order"


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


class AmbiguousReference(InvalidInput):
    """An id prefix that more than one document starts with: give more characters."""

    code = "ambiguous_reference"


class UnreadableRecord(BillingError):
    """A stored event holds values the ledger cannot compute with (stored before the limits of
    docs/money.md): this one document cannot be rendered; ``tollbook reconcile`` lists it."""

    code = "unreadable_record"


class EInvoiceIncomplete(InvalidInput):
    """An EN 16931 e-invoice needs a detail the ledger does not hold (the seller's country or
    VAT number, the customer's country...): ``field`` names where to set it, as
    ``settings.<name>`` or ``customer.<name>``."""

    code = "einvoice_incomplete"


class EInvoiceNotPossible(InvalidState):
    """A document EN 16931 cannot express: a draft or void invoice, a currency with more than
    two decimals, outside-the-scope lines mixed with taxed ones."""

    code = "einvoice_not_possible"


class Unavailable(BillingError):
    """The ledger cannot take the command now, whatever its input (its store is read-only
    while it is copied to another node): nothing was written; the same command may succeed
    later, or on the store that took over."""

    code = "unavailable"
