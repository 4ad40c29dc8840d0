"""Request bodies. Amounts are decimal strings (``"120.50"``); floats are refused, because their
binary value is not the number the client meant. Unknown fields are refused too."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from domain.schedule import InvoiceSchedule
from domain.values import LineGrouping


def _amount(value: Any) -> Decimal:
    if isinstance(value, (bool, float)):
        raise ValueError('amounts are decimal strings, e.g. "120.50", not JSON numbers')
    if isinstance(value, int):
        return Decimal(value)
    if not isinstance(value, str):
        raise ValueError('amounts are decimal strings, e.g. "120.50"')
    try:
        parsed = Decimal(value.strip())
    except InvalidOperation:
        raise ValueError(f"not a decimal number: {value!r}") from None
    if not parsed.is_finite() or "e" in value.lower():
        raise ValueError(f"not a plain decimal number: {value!r}")
    return parsed


Amount = Annotated[
    Decimal,
    BeforeValidator(_amount),
    WithJsonSchema({"type": "string", "pattern": r"^-?\d+(\.\d+)?$", "examples": ["120.50"]}),
]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CustomerFields(Body):
    name: str | None = None
    billing_address: str | None = None
    tax_number: str | None = None
    email: str | None = None
    tax_rate: Amount | None = None
    tax_description: str | None = None
    payment_terms_days: int | None = None
    invoice_line_grouping: LineGrouping | None = None
    external_accounting_id: str | None = None
    time_zone: str | None = None
    invoice_schedule: InvoiceSchedule | None = Field(
        default=None,
        description="Automatic billing, e.g. {frequency: monthly, day: 1}; null removes it.",
    )

    def given(self) -> dict[str, Any]:
        """The profile fields the client sent (not the change's own effective date/reason);
        an explicit ``invoice_schedule: null`` is kept: it removes the schedule."""
        sent = self.model_dump(exclude_unset=True, exclude={"effective_from", "reason"})
        return {k: v for k, v in sent.items() if v is not None or k == "invoice_schedule"}


class CustomerCreate(CustomerFields):
    account_number: str = Field(min_length=1)
    name: str = Field(min_length=1)
    currency: str | None = None


class CustomerChange(CustomerFields):
    effective_from: date | None = None
    reason: str | None = None


class AssignmentCreate(Body):
    package: str = Field(min_length=1, description="Package name or id.")
    start_date: date
    end_date: date | None = None
    quantity: Amount | None = None


class AssignmentEnd(Body):
    end_date: date


class PackageCreate(Body):
    name: str = Field(min_length=1)
    unit_price: Amount
    setup_price: Amount | None = None
    frequency: str | None = None
    currency: str | None = None
    default_quantity: Amount | None = None
    tax_rate: Amount | None = None
    tax_description: str | None = None
    description: str | None = None


class PackageChange(Body):
    unit_price: Amount | None = None
    setup_price: Amount | None = None
    frequency: str | None = None
    default_quantity: Amount | None = None
    tax_rate: Amount | None = None
    tax_description: str | None = None
    description: str | None = None


class InvoiceCreate(Body):
    customer: str = Field(min_length=1, description="Account number or customer id.")
    invoice_date: date | None = None
    due_date: date | None = None
    period_start: date | None = None
    period_end: date | None = None
    memo: str = ""


class LineCreate(Body):
    package: str | None = Field(None, description="Fill the line from this package.")
    setup: bool = Field(False, description="With package: bill its one-off setup price.")
    description: str | None = None
    quantity: Amount | None = None
    unit_price: Amount | None = None
    tax_rate: Amount | None = None
    tax_description: str | None = None
    period_start: date | None = None
    period_end: date | None = None
    unit: str = ""


class LineChange(Body):
    description: str | None = None
    quantity: Amount | None = None
    unit_price: Amount | None = None
    tax_rate: Amount | None = None
    period_start: date | None = None
    period_end: date | None = None


class DatesChange(Body):
    invoice_date: date | None = None
    due_date: date | None = None
    period_start: date | None = None
    period_end: date | None = None


class Reason(Body):
    reason: str = Field(min_length=1)


class OptionalReason(Body):
    reason: str | None = None


class CreditLine(Body):
    description: str = Field(min_length=1)
    quantity: Amount
    unit_price: Amount
    tax_rate: Amount
    tax_description: str | None = None


class CreditNoteCreate(Body):
    invoice: str = Field(min_length=1, description="Invoice number or id.")
    reason: str = Field(min_length=1)
    amount: Amount | None = Field(None, description="Net amount at the invoice's tax rate.")
    lines: list[CreditLine] | None = None
    full: bool = False


class PaymentCreate(Body):
    customer: str = Field(min_length=1)
    amount: Amount
    currency: str | None = None
    received_on: date | None = None
    method: str = "bank transfer"
    reference: str = ""
    fee: Amount = Decimal(0)
    status: Literal["pending", "completed"] = "pending"
    idempotency_key: str | None = Field(
        None, description="Business key: the same key never records a second payment."
    )


class AllocationItem(Body):
    invoice: str = Field(min_length=1)
    amount: Amount


class AllocationCreate(Body):
    allocations: list[AllocationItem] = Field(min_length=1)
    reason: str | None = None


class Unallocation(Body):
    invoice: str = Field(min_length=1)
    amount: Amount
    reason: str = Field(min_length=1)


class RefundCreate(Body):
    amount: Amount
    method: str = "bank transfer"
    reference: str = ""
    reason: str | None = None


class WebhookCreate(Body):
    url: str = Field(min_length=1)
    event_types: list[str] = Field(default_factory=list, description="Empty: every event.")
    secret: str | None = Field(None, description="Generated when omitted (shown once).")
    from_position: int | None = Field(
        None, ge=0, description="Deliver events after this position (default: from now on)."
    )
