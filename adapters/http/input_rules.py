"""What the ledger accepts, declared in the OpenAPI document's request schemas.

The rules stay where they are enforced (domain/limits.py and the aggregates): this module only
*describes* them in JSON Schema terms, derived from the same constants, so that a value the
document admits is one the ledger takes, and one it forbids is refused (the schemathesis run
in tests/service checks both). A field's rule is found by its schema and name, or by its name
alone; a body or parameter field with no rule here keeps FastAPI's own schema.

Some rules depend on more than one value and no schema can say them: an amount exact in the
minor units of *the customer's* currency (and below that currency's bound), a due date not
before the invoice date, a period's end not before its start, a reference that exists. Those
are refused with 422 and a ``field`` (or 404/409), as documented in docs/http-api.md.
"""

from __future__ import annotations

import re
from typing import Any
from zoneinfo import available_timezones

from adapters.app import bounds
from adapters.feed import event_types
from adapters.http.idempotency import KEY_PATTERN, MAX_KEY_LENGTH
from adapters.webhooks.destinations import MAX_URL_LENGTH
from domain import limits
from domain.countries import COUNTRY_NAMES
from domain.currencies import MINOR_UNITS
from domain.email_address import MAX_ADDRESSES
from domain.numbering import NUMBER_FORMAT
from domain.schedule import DAY_RANGES
from domain.seller_details import PHONE, REGISTRATION_NUMBER

# The characters no text may hold (limits._NEVER), as regular-expression escapes: the document
# is JSON sent as UTF-8, which cannot carry the lone surrogates themselves.
_NEVER = (
    r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069"
    r"\ufffe\uffff"
)
ONE_LINE = rf"^[^\t\n\r{_NEVER}]*$"
SEVERAL_LINES = rf"^(?:[^\t\r{_NEVER}]|\r\n)*$"
# at least one character that is not white space (names, descriptions, reasons are trimmed)
NOT_BLANK = rf"^[^\t\n\r{_NEVER}]*[^\s{_NEVER}][^\t\n\r{_NEVER}]*$"
NOT_BLANK_LINES = rf"^(?:[^\t\r{_NEVER}]|\r\n)*[^\s{_NEVER}](?:[^\t\r{_NEVER}]|\r\n)*$"


def text(rule: limits.Text, *, required: bool = False) -> dict[str, Any]:
    if required:
        pattern = NOT_BLANK_LINES if rule.multiline else NOT_BLANK
        return {"type": "string", "minLength": 1, "maxLength": rule.max_length, "pattern": pattern}
    pattern = SEVERAL_LINES if rule.multiline else ONE_LINE
    return {"type": "string", "maxLength": rule.max_length, "pattern": pattern}


def _decimals(places: int) -> str:
    return rf"(\.[0-9]{{1,{places}}})?"


# The widest bound of any currency (JPY: 15 integer digits); the customer's currency may be
# narrower (GBP: 13), which only the ledger can tell.
_INTEGER_DIGITS = limits.MONEY_DIGITS
_WIDEST = 10**_INTEGER_DIGITS - 1


def _number(pattern: str, low: int | None, high: int, example: str) -> dict[str, Any]:
    """A decimal string (``pattern``), or a whole JSON number (``low`` to ``high``), as
    adapters/http/schemas.py takes amounts."""
    schema: dict[str, Any] = {
        "type": ["string", "integer"],
        "pattern": pattern,
        "maximum": high,
        "examples": [example],
    }
    if low is not None:
        schema["minimum"] = low
    return schema


_MONEY_DECIMALS = _decimals(max(MINOR_UNITS.values()))
MONEY = _number(rf"^-?[0-9]{{1,{_INTEGER_DIGITS}}}{_MONEY_DECIMALS}$", -_WIDEST, _WIDEST, "120.50")
POSITIVE_MONEY = _number(
    rf"^(?=.*[1-9])[0-9]{{1,{_INTEGER_DIGITS}}}{_MONEY_DECIMALS}$", 1, _WIDEST, "120.50"
)
NON_NEGATIVE_MONEY = _number(
    rf"^[0-9]{{1,{_INTEGER_DIGITS}}}{_MONEY_DECIMALS}$", 0, _WIDEST, "120.50"
)
PRICE = _number(
    rf"^[0-9]{{1,{_INTEGER_DIGITS}}}{_decimals(limits.PRICE_PLACES)}$", 0, _WIDEST, "0.0125"
)
# > 0 and at most 10^9
QUANTITY = _number(
    rf"^(?=.*[1-9])(?:0*[0-9]{{1,9}}{_decimals(limits.QUANTITY_PLACES)}"
    rf"|0*1000000000(\.0{{1,{limits.QUANTITY_PLACES}}})?)$",
    1,
    int(limits.MAX_QUANTITY),
    "12.5",
)
TAX_RATE = _number(
    rf"^(?:[0-9]{{1,2}}{_decimals(limits.TAX_RATE_PLACES)}|100(\.0{{1,4}})?)$", 0, 100, "20"
)
TERMS = {"type": "integer", "minimum": 0, "maximum": limits.MAX_PAYMENT_TERMS_DAYS}
_YEARS = (limits.MIN_DATE.year, limits.MAX_DATE.year)
assert _YEARS == (2000, 2099), "LEDGER_DATE's pattern spells the years out"
_MONTH_DAY = (
    r"-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    r"|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
    r"|02-(?:0[1-9]|1[0-9]|2[0-8]))"
)
#: A date a command takes: 2000-01-01 to 2099-12-31 (29 February is left out of the pattern:
#: a schema cannot tell leap years; the ledger takes it in one).
LEDGER_DATE = {
    "type": "string",
    "format": "date",
    "pattern": rf"^20[0-9]{{2}}{_MONTH_DAY}$",
    "examples": ["2026-10-31"],
}
assert (bounds.MIN_YEAR, bounds.MAX_YEAR) == (1000, 2999), "QUERY_DATE spells the years out"
#: A date a query takes (?as_of=, ?from=): years 1000 to 2999.
QUERY_DATE = {**LEDGER_DATE, "pattern": rf"^[12][0-9]{{3}}{_MONTH_DAY}$"}
QUERY_MOMENT = {
    "type": "string",
    "format": "date-time",
    "pattern": rf"^[12][0-9]{{3}}{_MONTH_DAY}T",
    "examples": ["2026-11-01T12:00:00Z"],
}
#: Long lists, declared once among the document's schemas and referred to.
COMPONENTS: dict[str, dict[str, Any]] = {
    "Currency": {
        "type": "string",
        "enum": sorted(MINOR_UNITS),
        "examples": ["GBP"],
        "description": "An ISO 4217 code.",
    },
    "Country": {
        "type": "string",
        "enum": ["", *sorted(COUNTRY_NAMES)],
        "examples": ["GB"],
        "description": "An ISO 3166-1 alpha-2 code, or empty.",
    },
    # the day a schedule runs on depends on its frequency (domain/schedule.py)
    "InvoiceSchedule": {
        "description": "Bill automatically: daily, weekly on day 1 (Monday) to 7, monthly on"
        " day 1 to 28.",
        "oneOf": [
            {
                "type": "object",
                "properties": {
                    "frequency": {"const": frequency},
                    "day": {"type": "integer", "minimum": low, "maximum": high, "default": 1},
                },
                "required": ["frequency"],
                "additionalProperties": False,
            }
            for frequency, (low, high) in DAY_RANGES.items()
        ],
    },
    "TimeZone": {
        "type": "string",
        "enum": sorted(available_timezones()),
        "examples": ["Europe/London"],
        "description": "An IANA time zone name.",
    },
}
CURRENCY = {"$ref": "#/components/schemas/Currency"}
COUNTRY = {"$ref": "#/components/schemas/Country"}
TIME_ZONE = {"$ref": "#/components/schemas/TimeZone"}
POSTAL_CODE = {
    "type": "string",
    "maxLength": limits.POSTAL_CODE.max_length,
    "pattern": r"^[A-Za-z0-9 -]*$",
}
NUMBER_FORMAT_SCHEMA = {
    "type": "string",
    "maxLength": NUMBER_FORMAT.max_length,
    "pattern": (
        r"^(?:[A-Za-z0-9._/#-]|\{year\})*\{seq(?::0(?:[1-9]|1[0-2])d)?\}"
        r"(?:[A-Za-z0-9._/#-]|\{year\})*$"
    ),
    "examples": ["INV-{year}-{seq:06d}"],
}

_PORT = r"(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
#: The form of a webhook URL (adapters/webhooks/destinations.py): http(s), a host, no user
#: name, no backslash, printable ASCII. Whether the host resolves to a public address is the
#: network's to say (``webhook_destination_refused``).
WEBHOOK_URL = {
    "type": "string",
    "maxLength": MAX_URL_LENGTH,
    "pattern": rf"^[hH][tT][tT][pP][sS]?://[A-Za-z0-9._~-]+(?::{_PORT})?(?:[/?#][!-\[\]-~]*)?$",
    "examples": ["https://example.com/hooks/tollbook"],
}


def _event_type_names() -> list[str]:
    return sorted(event_types())


IDEMPOTENCY_KEY_HEADER = {
    "type": "string",
    "minLength": 1,
    "maxLength": MAX_KEY_LENGTH,
    "pattern": f"^{KEY_PATTERN.pattern}$",
}

# The seller's details (domain/seller_details.py); empty clears one.
CONTACT_EMAIL = {
    "type": "string",
    "maxLength": limits.EMAIL.max_length,
    "pattern": rf"^(?:|[^@\s{_NEVER}]+@[^@\s.{_NEVER}]+(?:\.[^@\s.{_NEVER}]+)+)$",
}
CONTACT_PHONE = {
    "type": "string",
    "maxLength": PHONE.max_length,
    "pattern": r"^(?:|\+?[0-9][0-9 ()./-]*)$",
}
IBAN = {"type": "string", "maxLength": 34, "pattern": r"^(?:|[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30})$"}
BIC = {"type": "string", "pattern": r"^(?:|[A-Z]{6}[A-Z0-9]{2}(?:[A-Z0-9]{3})?)$"}
SORT_CODE = {"type": "string", "pattern": r"^(?:|[0-9]{2}-?[0-9]{2}-?[0-9]{2})$"}
UK_ACCOUNT = {"type": "string", "pattern": r"^(?:|[0-9]{8})$"}

# A customer's billing addresses (domain/email_address.py): comma-separated, at most 10, each
# a plain SMTP mailbox (no display name, quotes or spaces); empty: none.
# (the local part's 64 characters: at most 30 + 3 x 11 here, a little narrower than SMTP)
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_DOMAIN = r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{1,63}"
_MAILBOX = rf"{_ATOM}{{1,30}}(?:\.{_ATOM}{{1,10}}){{0,3}}@{_DOMAIN}"
BILLING_EMAILS = {
    "type": "string",
    "maxLength": limits.BILLING_EMAILS.max_length,
    "pattern": rf"^(?:|[ ]*{_MAILBOX}[ ]*(?:,[ ]*{_MAILBOX}[ ]*){{0,{MAX_ADDRESSES - 1}}})$",
    "examples": ["billing@example.com, finance@example.com"],
}

REMINDER_OFFSETS = {
    "type": "array",
    "maxItems": limits.MAX_REMINDERS,
    "uniqueItems": True,
    "items": {
        "type": "integer",
        "minimum": limits.MIN_REMINDER_OFFSET,
        "maximum": limits.MAX_REMINDER_OFFSET,
    },
    "examples": [[-7, 0, 7, 14, 30]],
}

#: By field name, wherever it appears in a request body.
BY_NAME: dict[str, dict[str, Any]] = {
    "account_number": text(limits.ACCOUNT_NUMBER, required=True),
    "company_name": text(limits.COMPANY_NAME),
    "billing_address": text(limits.BILLING_ADDRESS),
    "tax_number": text(limits.TAX_NUMBER),
    "email": BILLING_EMAILS,
    "tax_description": text(limits.TAX_DESCRIPTION),
    "default_tax_description": text(limits.TAX_DESCRIPTION),
    "external_accounting_id": text(limits.EXTERNAL_ID),
    "time_zone": TIME_ZONE,
    "unit": text(limits.UNIT),
    "memo": text(limits.MEMO),
    "payment_instructions": text(limits.PAYMENT_INSTRUCTIONS),
    "reference": text(limits.REFERENCE),
    "method": text(limits.PAYMENT_METHOD),
    "idempotency_key": text(limits.IDEMPOTENCY_KEY),
    "reason": text(limits.REASON, required=True),
    "currency": CURRENCY,
    "default_currency": CURRENCY,
    "country": COUNTRY,
    "city": text(limits.CITY),
    "region": text(limits.REGION),
    "postal_code": POSTAL_CODE,
    "invoice_number_format": NUMBER_FORMAT_SCHEMA,
    "credit_note_number_format": NUMBER_FORMAT_SCHEMA,
    "amount": POSITIVE_MONEY,
    "fee": NON_NEGATIVE_MONEY,
    "unit_price": PRICE,
    "setup_price": PRICE,
    "quantity": QUANTITY,
    "default_quantity": QUANTITY,
    "tax_rate": TAX_RATE,
    "default_tax_rate": TAX_RATE,
    "payment_terms_days": TERMS,
    "registration_number": text(REGISTRATION_NUMBER),
    "contact_email": CONTACT_EMAIL,
    "contact_phone": CONTACT_PHONE,
    "iban": IBAN,
    "bic": BIC,
    "sort_code": SORT_CODE,
    "bank_account_number": UK_ACCOUNT,
    "minimum_spend": NON_NEGATIVE_MONEY,
    "minimum_invoice_amount": NON_NEGATIVE_MONEY,
    "from_position": {"type": "integer", "minimum": 0, "maximum": bounds.MAX_POSITION},
    "default_payment_terms_days": TERMS,
    **{
        name: LEDGER_DATE
        for name in (
            "invoice_date",
            "due_date",
            "period_start",
            "period_end",
            "received_on",
            "start_date",
            "end_date",
            "effective_from",
        )
    },
}
#: Where one name means different fields (a customer's name and a package's).
BY_SCHEMA: dict[tuple[str, str], dict[str, Any]] = {
    ("CustomerCreate", "name"): text(limits.CUSTOMER_NAME, required=True),
    ("CustomerChange", "name"): text(limits.CUSTOMER_NAME, required=True),
    ("PackageCreate", "name"): text(limits.PACKAGE_NAME, required=True),
    ("PackageCreate", "description"): text(limits.PACKAGE_DESCRIPTION),
    ("PackageChange", "description"): text(limits.PACKAGE_DESCRIPTION),
    ("LineCreate", "description"): text(limits.LINE_DESCRIPTION, required=True),
    ("LineChange", "description"): text(limits.LINE_DESCRIPTION, required=True),
    ("CreditLine", "description"): text(limits.LINE_DESCRIPTION, required=True),
    ("AddressBody", "lines"): {
        "type": "array",
        "minItems": 1,
        "maxItems": limits.MAX_ADDRESS_LINES,
        "items": text(limits.ADDRESS_LINE, required=True),
    },
    ("SettingsChange", "address"): text(limits.SELLER_ADDRESS),
    # discounts and tiered prices (domain/discount.py, domain/pricing.py)
    ("DiscountCreate", "percent"): {
        "type": "string",
        "pattern": r"^(?=.*[1-9])(?:0*[0-9]{1,2}(\.[0-9]{1,4})?|0*100(\.0{1,4})?)$",
        "examples": ["12.5"],
    },
    ("DiscountCreate", "description"): text(limits.LINE_DESCRIPTION),
    ("TieredPriceBody", "destination"): text(limits.Text("destination", 100), required=True),
    ("TierBody", "first"): {"type": "string", "pattern": r"^[0-9]{1,10}(\.[0-9]{1,2})?$"},
    ("TierBody", "last"): {"type": "string", "pattern": r"^[0-9]{1,10}(\.[0-9]{1,2})?$"},
    ("TierBody", "rate"): PRICE,
    ("WebhookCreate", "url"): WEBHOOK_URL,
    ("ThresholdBody", "amount"): NON_NEGATIVE_MONEY,
    ("DueDateChange", "due_date"): LEDGER_DATE,
    # a reminder schedule (domain/dunning.py): distinct whole days around the due date
    ("CustomerCreate", "reminder_offsets"): REMINDER_OFFSETS,
    ("CustomerChange", "reminder_offsets"): REMINDER_OFFSETS,
    ("DunningRun", "as_of"): LEDGER_DATE,
    ("StatementSendRequest", "period_from"): LEDGER_DATE,
    ("StatementSendRequest", "period_to"): LEDGER_DATE,
    ("WebhookCreate", "event_types"): {
        "type": "array",
        "items": {"type": "string", "enum": _event_type_names()},
    },
}
#: Fields a schema must have although the model gives them a default.
REQUIRED: dict[str, list[str]] = {"AddressBody": ["lines"]}
#: Which fields must come together: a line is filled from a package or described and priced;
#: a credit note credits in full, a net amount or explicit lines (exactly one).
ALTERNATIVES: dict[str, dict[str, Any]] = {
    "LineCreate": {
        "anyOf": [{"required": ["package"]}, {"required": ["description", "unit_price"]}]
    },
    "DiscountCreate": {"oneOf": [{"required": ["percent"]}, {"required": ["amount"]}]},
    "CreditNoteCreate": {
        "oneOf": [
            {"required": ["amount"]},
            {"required": ["lines"]},
            {"required": ["full"], "properties": {"full": {"const": True}}},
        ]
    },
}
#: Query and path parameters by name.
PARAMETERS: dict[str, dict[str, Any]] = {
    "on": QUERY_DATE,
    "from": QUERY_DATE,
    "to": QUERY_DATE,
    "as_of": QUERY_DATE,
    "currency": CURRENCY,
    "types": {
        "type": "string",
        "pattern": (lambda names: rf"^(?:{names})(?:,(?:{names}))*$")(
            "|".join(re.escape(name) for name in _event_type_names())
        ),
        "examples": ["Invoice.Issued,Payment.Received"],
    },
}


def _replace(slot: dict[str, Any], schema: dict[str, Any]) -> None:
    """Put ``schema`` where FastAPI's was, keeping a nullable field nullable and its words."""
    kept: dict[str, Any] = {k: slot[k] for k in ("title", "description", "default") if k in slot}
    options: list[dict[str, Any]] = slot.get("anyOf") or []
    nullable = any(option.get("type") == "null" for option in options)
    slot.clear()
    slot.update(kept)
    if nullable:
        slot["anyOf"] = [dict(schema), {"type": "null"}]
    else:
        slot.update(schema)


def declare(document: dict[str, Any]) -> None:
    """Write the ledger's rules into the request schemas and parameters of ``document``."""
    schemas = document.get("components", {}).get("schemas", {})
    requests = _request_schemas(document)
    for name, schema in list(schemas.items()):
        for field, slot in schema.get("properties", {}).items():
            rule = BY_SCHEMA.get((name, field)) or BY_NAME.get(field)
            if rule is not None and name in requests:
                _replace(slot, rule)
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                rule = PARAMETERS.get(parameter["name"])
                if rule is not None and parameter["in"] == "query":
                    moment = "date-time" in str(parameter.get("schema"))
                    _replace(parameter["schema"], QUERY_MOMENT if moment else rule)
    for name, alternatives in ALTERNATIVES.items():
        if name in schemas:
            schemas[name].update(alternatives)
    for name, fields in REQUIRED.items():
        if name in schemas:
            schemas[name]["required"] = sorted({*schemas[name].get("required", []), *fields})
    schemas.update(COMPONENTS)


def _request_schemas(document: dict[str, Any]) -> set[str]:
    """The component schemas a request body refers to, directly or through another."""
    schemas = document.get("components", {}).get("schemas", {})
    found: set[str] = set()
    pending = [
        str(operation["requestBody"])
        for operations in document.get("paths", {}).values()
        for operation in operations.values()
        if "requestBody" in operation
    ]
    while pending:
        for ref in re.findall(r"#/components/schemas/(\w+)", pending.pop()):
            if ref not in found:
                found.add(ref)
                pending.append(str(schemas.get(ref, {})))
    return found
