"""Neutral export documents built from ledger events: what every accounting system is sent.

Each document is derived from one ledger event (plus, for an issued invoice, the invoice as it
stood at that event's version), so re-deriving it later gives exactly the same document.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Literal
from uuid import UUID

from domain.address import PostalAddress
from domain.tax_treatment import TaxTreatment

Kind = Literal[
    "contact", "invoice", "credit_note", "payment", "unallocation", "refund", "void", "due_date"
]


@dataclass(frozen=True)
class Line:
    """One document line as the ledger computed it: net rounded per line, and ``tax`` the
    line's share of the document's tax in its rounding mode (per line: its own rounded tax;
    per invoice rate: its share of the rate's tax, domain/invoice_line.py ``line_taxes``), so
    the lines' taxes always add up to the document's."""

    description: str
    quantity: Decimal
    unit_price: Decimal
    tax_rate: Decimal
    tax_description: str
    kind: str
    net: Decimal
    tax: Decimal


@dataclass(frozen=True)
class Contact:
    """A customer as an accounting contact (Xero contact, Clear Books entity, FreshBooks client)."""

    customer_id: UUID
    account_number: str
    external_id: str
    name: str
    email: str
    address: PostalAddress  # structured, or a free-text address's lines (domain/address.py)
    tax_number: str
    currency: str


@dataclass(frozen=True)
class SalesInvoice:
    invoice_id: UUID
    customer_id: UUID
    number: str
    invoice_date: date
    due_date: date
    currency: str
    reference: str
    lines: tuple[Line, ...]
    net: Decimal
    tax: Decimal
    total: Decimal
    # the customer's treatment as the invoice printed it: picks each system's tax type
    tax_treatment: TaxTreatment = TaxTreatment.STANDARD


@dataclass(frozen=True)
class CreditNote:
    credit_note_id: UUID
    invoice_id: UUID
    invoice_number: str
    customer_id: UUID
    number: str
    issued_on: date
    currency: str
    reason: str
    lines: tuple[Line, ...]
    net: Decimal
    tax: Decimal
    total: Decimal
    tax_treatment: TaxTreatment = TaxTreatment.STANDARD


@dataclass(frozen=True)
class PaymentAllocation:
    """Money of a completed payment applied to one invoice: one remote payment per allocation."""

    payment_id: UUID
    invoice_id: UUID
    invoice_number: str
    customer_id: UUID
    amount: Decimal
    currency: str
    paid_on: date
    method: str
    reference: str


@dataclass(frozen=True)
class Unallocation:
    """Money of a payment taken back from one invoice: it is the customer's credit again.

    ``remaining`` is what this payment still has allocated to that invoice afterwards, so a
    system that keeps one remote payment per allocation can replace what it holds with it.
    """

    payment_id: UUID
    invoice_id: UUID
    invoice_number: str
    customer_id: UUID
    amount: Decimal
    remaining: Decimal
    currency: str
    paid_on: date
    method: str
    reference: str
    # Ledger event keys of this payment's earlier allocations and un-allocations of that
    # invoice, oldest first: a system holding one remote payment per event finds them by these.
    earlier: tuple[str, ...] = ()


@dataclass(frozen=True)
class Refund:
    """Unallocated credit of a payment paid back to the customer."""

    payment_id: UUID
    customer_id: UUID
    amount: Decimal
    currency: str
    refunded_on: date
    method: str
    reference: str
    received_on: date | None = None  # when the refunded money came in


@dataclass(frozen=True)
class Void:
    invoice_id: UUID
    invoice_number: str
    customer_id: UUID
    reason: str


@dataclass(frozen=True)
class DueDateChange:
    """An issued invoice given a new due date (``Invoice.DueDateChanged``): the remote
    invoice's due date follows, where the system lets it change."""

    invoice_id: UUID
    invoice_number: str
    customer_id: UUID
    before: date
    after: date
    reason: str


Document = (
    Contact
    | SalesInvoice
    | CreditNote
    | PaymentAllocation
    | Unallocation
    | Refund
    | Void
    | DueDateChange
)


@dataclass(frozen=True)
class ExportItem:
    """One ledger event that an accounting connection must replay."""

    position: int
    event_key: str  # "<originator id>:<version>": the ledger event's identity
    kind: Kind
    customer_id: UUID
    local_id: UUID
    document: Document
    label: str = field(default="")
