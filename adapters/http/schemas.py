"""Request bodies and the value types of request bodies and query strings.

Amounts are decimal strings (``"120.50"``); whole JSON numbers are taken too (``14.0`` as
14, as JSON Schema reads it), other floats are refused, because their binary value is not
the number the client meant. Dates and moments are
ISO strings only (``"2026-10-31"``, ``"2026-11-01T12:00:00Z"``): a JSON number or a Unix
timestamp is not a date. Unknown fields are refused.

Each type also carries the outer bounds of ``bounds`` (digits of an amount, years of a date,
days of a term): beyond them the answer is a 422 ``validation_error`` naming the field, never
a failure further in. The ledger's own, narrower limits give their own message.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from adapters.app import bounds
from domain.money import TaxRounding, parse_decimal
from domain.package import Frequency
from domain.schedule import InvoiceSchedule
from domain.tax_treatment import TaxTreatment
from domain.values import LineGrouping

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ISO_MOMENT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})?"
)


def _amount(value: Any, info: ValidationInfo) -> Decimal:
    value = _whole_number(value)  # 14.0 is the integer 14, as JSON Schema reads it
    if isinstance(value, (bool, float)):
        raise ValueError('amounts are decimal strings, e.g. "120.50", not JSON numbers')
    if not isinstance(value, (int, str)):
        raise ValueError('amounts are decimal strings, e.g. "120.50"')
    # The ledger's own parser, named after the field: the API refuses a number in the same
    # words and with the same code (invalid_amount, out_of_range) as the CLI and the portal;
    # its range is the command's to check (docs/money.md, "Limits").
    return parse_decimal(value, what=(info.field_name or "amount").replace("_", " "))


def _iso_date(value: Any) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):  # built in Python
        return bounds.day_in_range(value)
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise ValueError('dates are ISO strings like "2026-10-31"')
    try:
        day = date.fromisoformat(value)
    except ValueError as error:
        raise ValueError(f"not a date: {value!r} ({error})") from None
    return bounds.day_in_range(day)


def _iso_moment(value: Any) -> datetime:
    if isinstance(value, datetime):  # built in Python
        moment = value
    elif isinstance(value, str) and _ISO_MOMENT.fullmatch(value):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError as error:
            raise ValueError(f"not a moment: {value[:40]!r} ({error})") from None
    else:
        raise ValueError('moments are ISO strings like "2026-11-01T12:00:00Z"')
    bounds.day_in_range(moment.date())
    return moment


Amount = Annotated[
    Decimal,
    BeforeValidator(_amount),
    WithJsonSchema({"type": "string", "pattern": r"^-?\d+(\.\d+)?$", "examples": ["120.50"]}),
]
IsoDate = Annotated[
    date,
    BeforeValidator(_iso_date),
    WithJsonSchema({"type": "string", "format": "date", "examples": ["2026-10-31"]}),
]
IsoDateTime = Annotated[
    datetime,
    BeforeValidator(_iso_moment),
    WithJsonSchema({"type": "string", "format": "date-time", "examples": ["2026-11-01T12:00:00Z"]}),
]


def _whole_number(value: Any) -> Any:
    """JSON numbers that are whole, as JSON Schema's ``integer`` means them: ``14`` and
    ``14.0`` (exactly representable, up to 2^53); ``true`` and ``"14"`` are not numbers."""
    if isinstance(value, float) and value.is_integer() and abs(value) <= 2**53:
        return int(value)
    return value


# The range of a day count is the ledger's: out_of_range, in its words.
Days = Annotated[int, BeforeValidator(_whole_number), Strict()]
Position = Annotated[
    int, BeforeValidator(_whole_number), Strict(), Field(ge=0, le=bounds.MAX_POSITION)
]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _without_null(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """``null`` is declared only for the fields whose model says it removes something."""
    nullable: frozenset[str] = getattr(model, "nullable", frozenset())
    for name, slot in schema.get("properties", {}).items():
        options = slot.get("anyOf")
        if name in nullable or not options:
            continue
        kept = [option for option in options if option.get("type") != "null"]
        if len(kept) == 1:
            del slot["anyOf"]
            slot.update(kept[0])
        slot.pop("default", None)


def _edit_schema(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """An edit's schema says what its validator checks: something to change, and null only
    for the fields where it removes something."""
    _without_null(schema, model)
    about: frozenset[str] = getattr(model, "about_the_change", frozenset())
    changes = [name for name in schema.get("properties", {}) if name not in about]
    if about:  # the words about a change are no change
        schema["anyOf"] = [{"required": [name]} for name in changes]
    else:
        schema["minProperties"] = 1


class NullsRefused(Body):
    """``null`` is a value only where it removes something (``nullable``); elsewhere it is
    refused rather than read as "left out", and the document does not offer it."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_without_null)
    nullable: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _null_only_where_it_removes(cls, data: Any) -> Any:
        if isinstance(data, dict):
            nulls = sorted(
                name
                for name, value in data.items()
                if value is None and name in cls.model_fields and name not in cls.nullable
            )
            if nulls:
                raise ValueError(
                    f"{', '.join(nulls)}: null is not a value here; leave a field out to keep it"
                )
        return data


class Edit(NullsRefused):
    """A change (PATCH): a field left out stays as it is; an edit with nothing in it is
    refused (``nothing to change``), as the document declares (``minProperties``)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_edit_schema)
    #: fields that say when or why, not what changes
    about_the_change: ClassVar[frozenset[str]] = frozenset()


class SettingsChange(Edit):
    """The settings to change (the names of ``SellerSettings``), typed as every other body:
    the tax rate a decimal string, the payment terms a JSON integer."""

    company_name: str | None = None
    address: str | None = None
    tax_number: str | None = None
    default_currency: str | None = None
    default_tax_rate: Amount | None = None
    default_tax_description: str | None = None
    default_payment_terms_days: Days | None = None
    invoice_number_format: str | None = None
    credit_note_number_format: str | None = None
    invoice_line_grouping: LineGrouping | None = None
    payment_instructions: str | None = None
    registration_number: str | None = None
    contact_email: str | None = None
    contact_phone: str | None = None
    iban: str | None = Field(None, description="ISO 13616; spaces and lower case accepted.")
    bic: str | None = Field(None, description="ISO 9362, 8 or 11 characters; needs an IBAN.")
    sort_code: str | None = Field(None, description="UK, 6 digits (12-34-56).")
    bank_account_number: str | None = Field(None, description="UK, 8 digits.")
    minimum_invoice_amount: Amount | None = Field(
        None, description="Below it a billing run carries a period's charges forward."
    )
    country: str | None = Field(
        default=None, description="Where the seller is established: ISO 3166-1 alpha-2."
    )
    tax_rounding: TaxRounding | None = Field(
        default=None,
        description="per_line (each line's tax rounded, then summed) or per_invoice_rate (the"
        " tax at each rate = round(sum of the nets at that rate x rate)); applies to invoices"
        " issued from now on.",
    )


class AddressBody(Body):
    """A structured address; the ledger checks it (domain/limits.py: 1-4 lines of 100
    characters, city and region 100, postal code 20, country an ISO 3166-1 alpha-2 code)."""

    lines: list[str] = Field(default_factory=list, description="1 to 4 address lines.")
    city: str = ""
    region: str = ""
    postal_code: str = ""
    country: str = Field(default="", description="ISO 3166-1 alpha-2, e.g. GB, DE, JP.")


class TierBody(Body):
    first: Amount = Field(description="Minutes the tier starts at (0 for the first).")
    last: Amount | None = Field(None, description="Minutes it ends at; null: open-ended.")
    rate: Amount = Field(description="Price per minute.")


class TieredPriceBody(Body):
    destination: str = Field(max_length=100)
    mode: Literal["graduated", "volume"]
    tiers: list[TierBody] = Field(min_length=1, max_length=20)


class ThresholdBody(Body):
    """An amount of money in the customer's own currency (ISO 4217)."""

    amount: Amount
    currency: str = Field(description="ISO 4217; must be the customer's currency.")


class CustomerFields(Body):
    name: str | None = None
    billing_address: str | None = Field(
        default=None,
        description="Free text (customers from before structured addresses); ``address``,"
        " when set, replaces it wherever the address is shown or exported.",
    )
    address: AddressBody | None = Field(
        default=None, description="The structured billing address; null removes it."
    )
    tax_number: str | None = None
    email: str | None = None
    tax_rate: Amount | None = None
    tax_description: str | None = None
    tax_treatment: TaxTreatment | None = Field(
        default=None,
        description="VAT treatment (default standard); every other treatment means 0% tax"
        " and prints its legal wording on the customer's invoices.",
    )
    payment_terms_days: Days | None = None
    invoice_line_grouping: LineGrouping | None = None
    external_accounting_id: str | None = None
    time_zone: str | None = None
    invoice_schedule: InvoiceSchedule | None = Field(
        default=None,
        description="Automatic billing, e.g. {frequency: monthly, day: 1}; null removes it.",
    )
    minimum_spend: Amount | None = Field(
        None, description="Monthly minimum spend on usage (a top-up line when short)."
    )
    minimum_invoice_amount: Amount | None = Field(
        None, description="Below it a period's charges carry forward (default: the account's)."
    )
    usage_prices: list[TieredPriceBody] | None = Field(
        None,
        description="Tiered or volume prices per destination: [{destination, mode:"
        " graduated|volume, tiers: [{first, last (null: open), rate}]}]; [] removes them.",
    )
    auto_apply_credit: bool | None = Field(
        default=None,
        description="Apply the customer's unallocated credit to each invoice as it is issued.",
    )
    low_balance_threshold: ThresholdBody | None = Field(
        default=None,
        description="Customer.PrepaidBalanceLow is recorded when the customer's credit falls"
        " below it; null removes it.",
    )
    reminder_offsets: list[Days] | None = Field(
        default=None,
        description="Payment reminders, in days from each invoice's due date, e.g. [-7, 0, 7,"
        " 14, 30]: at most 10 distinct days from -90 to 365; [] stops them (docs/dunning.md).",
    )

    def given(self) -> dict[str, Any]:
        """The profile fields the client sent (not the change's own effective date/reason);
        an explicit null is kept where it removes something (``nullable``: the address, the
        schedule, the alert, the minimum invoice amount back to the account's)."""
        sent = self.model_dump(exclude_unset=True, exclude={"effective_from", "reason"})
        removable: frozenset[str] = getattr(self, "nullable", frozenset())
        return {k: v for k, v in sent.items() if v is not None or k in removable}


class CustomerCreate(CustomerFields):
    account_number: str = Field(min_length=1)
    name: str = Field(min_length=1)
    currency: str | None = None


class CustomerChange(CustomerFields, Edit):
    # null removes: the address, the schedule, the alert; the minimum invoice: the account's
    nullable = frozenset(
        {"address", "invoice_schedule", "low_balance_threshold", "minimum_invoice_amount"}
    )
    about_the_change = frozenset({"effective_from", "reason"})
    effective_from: IsoDate | None = None
    reason: str | None = None


class AssignmentCreate(Body):
    package: str = Field(min_length=1, description="Package name or id.")
    start_date: IsoDate
    end_date: IsoDate | None = None
    quantity: Amount | None = None


class AssignmentEnd(Body):
    end_date: IsoDate


class PackageCreate(Body):
    name: str = Field(min_length=1)
    unit_price: Amount
    setup_price: Amount | None = None
    frequency: Frequency | None = Field(
        default=None, description="How often the line recurs (default monthly)."
    )
    currency: str | None = None
    default_quantity: Amount | None = None
    tax_rate: Amount | None = None
    tax_description: str | None = None
    description: str | None = None
    minimum_spend: Amount | None = None


class PackageChange(Edit):
    nullable = frozenset({"tax_rate", "tax_description"})  # the customer's rate applies
    unit_price: Amount | None = None
    setup_price: Amount | None = None
    frequency: Frequency | None = Field(
        default=None, description="How often the line recurs (default monthly)."
    )
    default_quantity: Amount | None = None
    tax_rate: Amount | None = None
    tax_description: str | None = None
    description: str | None = None
    minimum_spend: Amount | None = Field(
        None, description="Monthly minimum spend on usage per unit assigned."
    )


class InvoiceCreate(Body):
    customer: str = Field(min_length=1, description="Account number or customer id.")
    invoice_date: IsoDate | None = None
    due_date: IsoDate | None = None
    period_start: IsoDate | None = None
    period_end: IsoDate | None = None
    memo: str = ""


class LineCreate(NullsRefused):
    package: str | None = Field(None, description="Fill the line from this package.")
    setup: bool = Field(False, description="With package: bill its one-off setup price.")
    description: str | None = None
    quantity: Amount | None = None
    unit_price: Amount | None = None
    tax_rate: Amount | None = None
    tax_description: str | None = None
    period_start: IsoDate | None = None
    period_end: IsoDate | None = None
    unit: str = ""


class DiscountCreate(NullsRefused):
    """A discount: exactly one of ``percent`` or ``amount``; of ``line`` (position, id or id
    prefix) or, without it, of the invoice's net."""

    percent: Amount | None = Field(None, description="Percentage, above 0 and at most 100.")
    amount: Amount | None = Field(None, description="Amount off, in the invoice's currency.")
    line: str | None = Field(None, max_length=64, description="The line it discounts.")
    description: str = ""


class LineChange(Edit):
    nullable = frozenset({"period_start", "period_end"})
    description: str | None = None
    quantity: Amount | None = None
    unit_price: Amount | None = None
    tax_rate: Amount | None = Field(
        default=None,
        description="A new rate without a tax_description gives the line the default"
        " description of that rate (docs/money.md).",
    )
    tax_description: str | None = None
    period_start: IsoDate | None = None
    period_end: IsoDate | None = None


class DatesChange(Edit):
    nullable = frozenset({"period_start", "period_end"})
    invoice_date: IsoDate | None = None
    due_date: IsoDate | None = None
    period_start: IsoDate | None = None
    period_end: IsoDate | None = None


class SendRequest(Body):
    """E-mail the invoice: to the customer's billing addresses unless ``to`` is given;
    ``key`` names the request (the same key never sends twice); ``dry_run`` sends nothing."""

    to: list[str] | None = Field(default=None, max_length=10)
    key: str | None = None
    dry_run: bool = False


class StatementSendRequest(Body):
    """E-mail the statement of ``period_from``..``period_to`` (its ``currency``, default the
    customer's) with its PDF: to the customer's billing addresses unless ``recipients`` is
    given; ``key`` names the request (the same period and key never send twice); ``dry_run``
    sends nothing."""

    period_from: IsoDate
    period_to: IsoDate
    currency: str | None = None
    recipients: list[str] | None = Field(default=None, max_length=10)
    key: str | None = None
    dry_run: bool = False


class DunningRun(Body):
    """Run the dunning as on ``as_of`` for every customer (default: each customer's own
    today; a day not yet begun in any time zone only with ``dry_run``);
    ``dry_run`` sends and records nothing."""

    as_of: IsoDate | None = None
    dry_run: bool = False


class Reason(Body):
    reason: str = Field(min_length=1)


class DueDateChange(Body):
    """A new due date for an issued invoice, and why (both required)."""

    due_date: IsoDate
    reason: str = Field(min_length=1)


class OptionalReason(Body):
    reason: str | None = None


class CreditLine(Body):
    description: str = Field(min_length=1)
    quantity: Amount
    unit_price: Amount
    tax_rate: Amount
    tax_description: str | None = None


class CreditNoteCreate(NullsRefused):
    invoice: str = Field(min_length=1, description="Invoice number or id.")
    reason: str = Field(min_length=1)
    amount: Amount | None = Field(None, description="Net amount at the invoice's tax rate.")
    lines: list[CreditLine] | None = Field(None, min_length=1)
    full: bool = False


class PaymentCreate(Body):
    customer: str = Field(min_length=1)
    amount: Amount
    currency: str | None = None
    received_on: IsoDate | None = None
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
    """Kept in the service's own table, not in events: PostgreSQL text cannot hold a NUL, so
    one is refused here in the secret and event types; the URL is the webhook store's to check
    (``invalid_webhook_url``, the same refusal as the CLI's)."""

    url: str = Field(min_length=1)
    event_types: list[str] = Field(default_factory=list, description="Empty: every event.")
    secret: str | None = Field(None, description="Generated when omitted (shown once).")
    from_position: Position | None = Field(
        None, description="Deliver events after this position (default: from now on)."
    )

    @field_validator("event_types", "secret", mode="before")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        texts = value if isinstance(value, list) else [value]
        if any(isinstance(text, str) and "\x00" in text for text in texts):
            raise ValueError("text may not contain NUL characters")
        return value
