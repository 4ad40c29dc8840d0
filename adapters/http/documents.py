"""Response models: the JSON documents the API answers with (``adapters/views.py`` builds
them), declared for the OpenAPI document and checked on the way out.

Every member a document always carries is declared with its type; documents stay open
(``extra="allow"``), so a member added to a view, or one present only sometimes (``error`` on
an invoice whose stored amounts no arithmetic can hold), passes through unchanged rather than
being dropped. Amounts are decimal strings at the currency's minor units, dates ISO 8601
strings, ids UUID strings.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from adapters.http.openapi import IF_MATCH
from domain.package import Frequency

Amount = Annotated[
    str, Field(description="Decimal string at the currency's minor units.", examples=["120.50"])
]
Quantity = Annotated[str, Field(description="Decimal string.", examples=["1"])]
IsoDay = Annotated[str, Field(description="ISO 8601 date.", examples=["2026-10-31"])]
Id = Annotated[str, Field(description="UUID.")]


class Document(BaseModel):
    model_config = ConfigDict(extra="allow")


class InvoiceLineDoc(Document):
    line_id: Id
    position: int = Field(description="1-based position on the invoice.")
    description: str
    quantity: Quantity
    unit_price: Quantity
    tax_rate: Quantity
    tax_description: str
    period_start: IsoDay | None
    period_end: IsoDay | None
    package_id: Id | None
    kind: str
    unit: str
    net: Amount | None = Field(description="Null when the stored amounts cannot be computed.")
    tax: Amount | None


class TaxSummaryRow(Document):
    rate: Quantity
    net: Amount
    tax: Amount
    basis: str = Field(
        description="How the tax was worked out: sum_of_line_taxes (tax rounding per_line)"
        " or net_times_rate (per_invoice_rate: round(net x rate / 100)).",
        examples=["sum_of_line_taxes", "net_times_rate"],
    )


class PaymentAllocation(Document):
    payment_id: Id
    amount: Amount


class InvoiceSummary(Document):
    """An invoice register row: the invoice without its lines."""

    id: Id
    number: str | None = Field(description="Null for a draft (numbers are given at issue).")
    version: int = Field(description="Also the ETag.")
    customer_id: Id
    customer_account: str
    currency: str
    status: str = Field(examples=["draft", "issued", "overdue", "paid", "void"])
    invoice_date: IsoDay | None
    due_date: IsoDay | None
    period_start: IsoDay | None
    period_end: IsoDay | None
    issued_on: IsoDay | None
    net: Amount | None
    tax: Amount | None
    total: Amount | None
    credited: Amount | None
    paid: Amount | None
    outstanding: Amount | None
    amount_due: Amount | None


class InvoiceDoc(InvoiceSummary):
    """The invoice with its lines; ``error`` (only then) when its amounts cannot be computed."""

    memo: str | None
    billing: dict[str, Any] | None
    tax_treatment_wording: str | None = Field(
        description="The legal wording of the customer's tax treatment the issued invoice"
        " prints (empty for standard; null for a draft)."
    )
    lines: list[InvoiceLineDoc]
    tax_rounding: str | None = Field(
        default=None,
        description="per_line or per_invoice_rate: the mode the totals were worked out in.",
    )
    tax_summary: list[TaxSummaryRow]
    allocations: list[PaymentAllocation]
    void_reason: str | None


class LineAdded(Document):
    line_id: Id
    invoice: InvoiceDoc


class DiscountAdded(Document):
    discount_id: Id = Field(description="The discount's id; its lines' ``discount`` names it.")
    invoice: InvoiceDoc


class ScheduledChange(Document):
    effective_from: IsoDay
    changes: dict[str, Any]


class AssignmentDoc(Document):
    assignment_id: Id
    package_id: Id
    quantity: Quantity
    start_date: IsoDay
    end_date: IsoDay | None


class ThresholdDoc(Document):
    amount: Quantity
    currency: str


class CustomerDoc(Document):
    """The customer's details in force on the day asked for (today by default)."""

    id: Id
    version: int = Field(description="Also the ETag.")
    account_number: str
    name: str
    currency: str
    tax_rate: Quantity
    tax_description: str
    tax_treatment: str = Field(
        examples=["standard", "zero_rated", "exempt", "reverse_charge", "outside_scope"]
    )
    tax_treatment_wording: str = Field(
        description="What the customer's invoices print about its tax treatment (empty for"
        " standard)."
    )
    payment_terms_days: int
    auto_apply_credit: bool = False
    low_balance_threshold: ThresholdDoc | None = None
    reminder_offsets: list[int] = Field(
        default_factory=list,
        description="Payment reminders: days from each invoice's due date (docs/dunning.md).",
    )
    scheduled_changes: list[ScheduledChange]
    packages: list[AssignmentDoc]


class AssignmentAdded(Document):
    assignment_id: Id
    customer: CustomerDoc


class PackageDoc(Document):
    id: Id
    version: int = Field(description="Also the ETag.")
    name: str
    description: str
    currency: str
    unit_price: Quantity
    setup_price: Quantity
    frequency: Frequency
    default_quantity: Quantity
    tax_rate: Quantity | None
    tax_description: str | None


class InvoiceAllocation(Document):
    invoice_id: Id
    amount: Amount


class PaymentDoc(Document):
    id: Id
    version: int = Field(description="Also the ETag.")
    customer_id: Id
    customer_account: str
    currency: str
    amount: Amount
    fee: Amount
    received_on: IsoDay
    method: str
    reference: str
    status: str = Field(examples=["pending", "completed", "cancelled"])
    allocated: Amount
    refunded: Amount
    unallocated: Amount
    allocations: list[InvoiceAllocation]


class CreditNoteDoc(Document):
    id: Id
    number: str
    invoice_id: Id
    invoice_number: str
    invoice_date: IsoDay | None = Field(
        description="the date of the invoice it credits (null on notes issued before it was"
        " recorded)"
    )
    customer_account: str
    currency: str
    issued_on: IsoDay
    lines: list[dict[str, Any]]
    net: Amount
    tax: Amount
    total: Amount


class BalanceDoc(Document):
    customer_id: Id
    customer_account: str
    currency: str
    invoiced: Amount
    credited: Amount
    received: Amount
    allocated: Amount
    refunded: Amount
    unallocated: Amount
    outstanding: Amount
    net_due: Amount


class StatementLineDoc(Document):
    """One line of a statement of account (docs/statements.md): ``debit`` raises the balance,
    ``credit`` lowers it; an allocation or un-allocation has neither and its sum in
    ``applied`` (it moves money between credit on account and invoices)."""

    date: IsoDay
    kind: str = Field(
        examples=["invoice"],
        description="invoice, void, credit_note, payment, payment_cancelled, refund,"
        " allocation or unallocation.",
    )
    reference: str
    invoice_number: str | None
    document_id: Id
    description: str
    due_date: IsoDay | None
    received_on: IsoDay | None
    debit: Amount | None
    credit: Amount | None
    applied: Amount | None
    balance: Amount
    credit_on_account: Amount


class StatementSectionDoc(Document):
    """One currency of a statement: opening + invoiced - voided - credited - paid + refunded
    = closing; closing + credit on account = owed on invoices = the sum of ``aged``."""

    currency: str
    opening_balance: Amount
    opening_credit_on_account: Amount
    lines: list[StatementLineDoc]
    invoiced: Amount
    voided: Amount
    credited: Amount
    paid: Amount
    refunded: Amount
    closing_balance: Amount
    closing_credit_on_account: Amount
    owed_on_invoices: Amount
    aged: dict[str, Amount] = Field(
        description="Owed on invoices at the end of ``to`` by days past due: current, 1-30,"
        " 31-60, 61-90, 90+."
    )


class StatementDoc(Document):
    customer_id: Id
    customer_account: str
    from_: IsoDay = Field(alias="from")
    to: IsoDay
    sections: list[StatementSectionDoc]


class SendDoc(Document):
    """One e-mail send request of an invoice (docs/email.md): ``status`` is ``sent``,
    ``already-sent``, ``failed`` (recorded; retried from ``retry_at``) or ``dry-run``."""

    status: str
    kind: str
    document_id: str
    send_id: str
    message_id: str
    sender: str
    to: list[str]
    subject: str
    attachment: str
    attachment_size: int
    attachment_sha256: str
    refused: list[str]
    error: str
    retry_at: str | None


class ReminderDoc(Document):
    """One reminder of a dunning run (docs/dunning.md): ``status`` is ``sent``,
    ``already-sent``, ``settled`` (nothing owed any more: not sent), ``failed`` (recorded;
    the next run tries again), ``no-address`` (the customer has no billing e-mail: nothing
    recorded), ``dry-run`` or ``not-yet`` (``as_of`` has not begun in the customer's time
    zone: nothing sent)."""

    invoice: str
    invoice_id: str
    customer: str
    offset: int = Field(description="The stage: days from the due date.")
    stage: str = Field(examples=["7 days overdue"])
    due_date: str
    day: str = Field(
        description="The day it was worked out on: the customer's own today (in its time"
        " zone), or the run's as_of."
    )
    outstanding: str
    currency: str
    to: list[str]
    subject: str
    status: str
    message_id: str
    attempt: int
    error: str


class DunningRunDoc(Document):
    """What a dunning run sent, or with ``dry_run`` would send."""

    as_of: str
    dry_run: bool
    sent: int
    not_sent: int
    reminders: list[ReminderDoc]


class EventDoc(Document):
    """One stored event of an aggregate's history."""

    type: str = Field(examples=["Invoice.Issued"])
    aggregate_id: Id
    version: int
    timestamp: str = Field(description="ISO 8601 moment, UTC.")
    actor: str
    reason: str | None
    data: dict[str, Any]


class FeedEvent(Document):
    """The feed's envelope for one event (docs/integrators.md)."""

    position: int
    id: Id = Field(description="Stable event id (UUID 5 of aggregate and version).")
    type: str = Field(examples=["Invoice.Issued"])
    aggregate_type: str
    aggregate_id: Id
    aggregate_version: int
    time: str
    actor: str
    reason: str | None
    payload: dict[str, Any]


class FeedPage(Document):
    events: list[FeedEvent]
    next_after: int = Field(description="Resume with after=next_after.")


class SettingsDoc(Document):
    """The seller's settings (``domain/settings.py`` ``SellerSettings``)."""

    company_name: str
    address: str
    tax_number: str
    default_currency: str = Field(examples=["GBP"])
    default_tax_rate: Quantity
    default_tax_description: str
    default_payment_terms_days: int
    invoice_number_format: str = Field(examples=["INV-{year}-{seq:06d}"])
    credit_note_number_format: str = Field(examples=["CN-{year}-{seq:06d}"])
    invoice_line_grouping: str = Field(examples=["none", "destination", "day"])
    payment_instructions: str
    registration_number: str = Field(description="The company registration number.")
    contact_email: str
    contact_phone: str
    iban: str = Field(description="Capitals, no spaces (printed in groups of four).")
    bic: str
    sort_code: str = Field(examples=["12-34-56"])
    bank_account_number: str
    country: str = Field(
        default="", description="Where the seller is established (ISO 3166-1 alpha-2), or empty."
    )
    tax_rounding: str = Field(examples=["per_line", "per_invoice_rate"])


class WebhookDoc(Document):
    """A webhook subscription; its secret only as a hint."""

    id: Id
    url: str
    event_types: list[str] = Field(description="Empty: every event type.")
    status: str = Field(examples=["active", "removed"])
    position: int = Field(description="The last feed position delivered or queued.")
    created_at: str = Field(description="ISO 8601 moment, UTC.")
    created_by: str
    secret_hint: str


class WebhookCreated(WebhookDoc):
    """The answer to the create: the only one that shows the signing secret."""

    secret: str


class DeliveryDoc(Document):
    """One delivery of one event to a webhook."""

    id: str
    subscription_id: Id
    position: int
    event_id: Id
    event_type: str
    aggregate_id: Id
    status: str = Field(examples=["pending", "delivered", "failed"])
    attempts: int
    next_attempt_at: str | None = Field(description="ISO 8601; set while pending.")
    last_status: int | None
    last_error: str | None
    delivered_at: str | None


class ReadModelDoc(Document):
    name: str
    state: str = Field(examples=["ok", "stopped"])
    position: int | None = Field(description="The last feed position it applied.")
    stopped_at: dict[str, Any] | None = Field(
        default=None, description="Where and why it stopped (only when stopped)."
    )


class HealthDoc(Document):
    """Liveness and the read models' state (``degraded`` when one is stopped or unreadable)."""

    status: str = Field(examples=["ok", "degraded"])
    log_head: int | None = Field(default=None, description="The event log's last position.")
    read_models: list[ReadModelDoc] | None = Field(description="Null when they cannot be read.")
    error: Any = Field(default=None, description="Why the read models cannot be read.")


class ReadyCheckDoc(Document):
    """One readiness check: its name, whether it holds and why."""

    name: str = Field(examples=["store", "migrations", "read_models"])
    ok: bool
    reason: str


class ReadyDoc(Document):
    """Readiness: ``ready`` (200) when every check holds, else ``unready`` (503)."""

    status: str = Field(examples=["ready", "unready"])
    checks: list[ReadyCheckDoc]


def answers(model: Any, status: int = 200, *, if_match: bool = False) -> dict[str, Any]:
    """Route keywords declaring ``model`` as the body of the ``status`` answer in the OpenAPI
    document, and with ``if_match`` the ``If-Match`` request header the route honours (and its
    412). The handler's document is sent as built, not re-serialised through the model:
    members keep their order, so an Idempotency-Key replay (rebuilt from the ledger) answers
    the very same bytes. tests/service/test_schemathesis.py checks real answers against the
    declared schemas."""
    keywords: dict[str, Any] = {
        "status_code": status,
        "response_model": None,
        "responses": {status: {"model": model, "description": "The document."}},
    }
    if if_match:
        keywords["openapi_extra"] = IF_MATCH
    return keywords
