"""The ledger's hard limits: every number, date, text and collection a command accepts.

One module, so that the CLI, the HTTP API, the portal, settings, the scheduler and billing runs
refuse the same values with the same words: the domain's commands call these checks (adapters
only parse). A refused value raises an ``InvalidInput`` subclass with a stable code
(``out_of_range``, ``text_too_long``, ``invalid_characters``, ``invalid_amount``) before any
event exists, so it writes nothing. docs/money.md explains the numbers; docs/events.md shows
each stored field's limit (generated from ``FIELD_LIMITS``).

Why these numbers:

- **Money**: at most 15 significant digits, i.e. ``|amount| < 10^(15 - minor units)``
  (GBP/EUR/USD below 10 trillion, JPY below 10^15, KWD below 10^12). 15 digits is what an IEEE
  double carries exactly, and the Xero SDK sends amounts as JSON numbers (doubles); PostgreSQL
  NUMERIC, SQLite decimal text, JSON strings and PDFs hold far more. Every document total
  (net + tax over every line) must stay inside the same bound, so each line does too.
- **Quantities and unit prices** keep up to 8 decimals (telecom rates per second); quantities
  are at most 10^9. A unit price is money per unit, so it has the money bound. The line net is
  worked out exactly (``domain.money.line_net``) and rounded once.
- **Tax rates** 0 to 100 percent with up to 4 decimals; **payment terms** 0 to 365 days.
- **Dates** 2000-01-01 to 2099-12-31, derived ones (a due date) included: invoice date + the
  longest terms is still a date Python, PostgreSQL and every exporter can hold.
- **Text**: one line (no line breaks) unless the field is an address or a note; never a C0/C1
  control character (NUL, ESC of ANSI escapes, DEL, ...), a lone surrogate, U+2028/U+2029, or
  a bidirectional embedding/override/isolate (U+202A-U+202E, U+2066-U+2069: "Trojan Source").
  Lengths in characters, per field (below).
- **Collections**: 10,000 lines per invoice or credit note, 1,000 invoices per payment's
  allocations, 1,000 package assignments per customer.
- **Structured addresses**: 1 to 4 lines of at most 100 characters (Xero has four line fields
  of 500; Clear Books and FreshBooks two, so their second holds three lines joined: 304
  characters), city and region 100 (Xero: 255), a postal code of 20 ASCII letters, digits,
  spaces and hyphens (Xero: 50), and a country that is an assigned ISO 3166-1 alpha-2 code
  (``unknown_country``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, DefaultContext

from domain.currencies import MINOR_UNITS
from domain.errors import InvalidCharacters, InvalidDate, InvalidInput, OutOfRange, TextTooLong
from domain.money import MAX_RATE_DECIMALS, check_minor_units, check_precision, currency_code

# ------------------------------------------------------------------ numbers

#: Significant digits of any amount of money (see the module's docstring).
MONEY_DIGITS = 15
#: Exclusive upper bound of |amount| per currency: 10^(15 - minor units).
AMOUNT_LIMITS: dict[str, Decimal] = {
    code: Decimal(10) ** (MONEY_DIGITS - units) for code, units in MINOR_UNITS.items()
}
MAX_QUANTITY = Decimal(1_000_000_000)
QUANTITY_PLACES = MAX_RATE_DECIMALS
PRICE_PLACES = MAX_RATE_DECIMALS
MAX_TAX_RATE = Decimal(100)
TAX_RATE_PLACES = 4
MAX_PAYMENT_TERMS_DAYS = 365
#: How long an Idempotency-Key's answer may be configured to be given (days): a day, at
#: least (a client's retries), to a century (TOLLBOOK_IDEMPOTENCY_KEY_DAYS, docs/http-api.md).
MIN_KEY_RETENTION_DAYS = 1
MAX_KEY_RETENTION_DAYS = 36_500
#: Longer number strings are refused before they are parsed (the longest valid number,
#: 15 digits + 8 decimals + sign and point, is 25 characters).
MAX_NUMBER_CHARACTERS = 40

# -------------------------------------------------------------------- dates

MIN_DATE = date(2000, 1, 1)
MAX_DATE = date(2099, 12, 31)

# -------------------------------------------------------------- collections

MAX_LINES = 10_000  # per invoice or credit note
MAX_ALLOCATIONS = 1_000  # invoices one payment is allocated to (and per allocate command)
MAX_ASSIGNMENTS = 1_000  # package assignments per customer
MAX_ADDRESS_LINES = 4  # Xero's AddressLine1-4; the PDF's address block
#: dunning (domain/dunning.py): reminders per customer schedule, and how far from the due date
#: one may fall (a quarter before it, a year after it: beyond that a letter, not an e-mail)
MAX_REMINDERS = 10
MIN_REMINDER_OFFSET = -90
MAX_REMINDER_OFFSET = 365
#: a statement of account covers at most this many days (a leap year: a year's statement)
MAX_STATEMENT_DAYS = 366
#: lines of one statement (every currency): about 120 pages of PDF; more asks for a shorter period
MAX_STATEMENT_LINES = 5_000
#: invoices one portal bulk action (issue, send, zip of PDFs) takes: the list's default page.
#: Each is a PDF render, and for a send an SMTP exchange, inside one request.
MAX_BULK_INVOICES = 100

# --------------------------------------------------------------------- text


@dataclass(frozen=True, slots=True)
class Text:
    """A text field's rule: its name in messages, its length in characters, one line or not."""

    label: str
    max_length: int
    multiline: bool = False

    @property
    def doc(self) -> str:
        lines = "several lines" if self.multiline else "one line"
        return f"≤ {self.max_length:,} characters, {lines}"


ACCOUNT_NUMBER = Text("account number", 64)
CUSTOMER_NAME = Text("customer name", 200)
COMPANY_NAME = Text("company name", 200)
PACKAGE_NAME = Text("package name", 200)
BILLING_ADDRESS = Text("billing address", 1_000, multiline=True)  # free text (before structure)
# A structured address (domain/address.py): four lines of 100 fit every exporter's line fields,
# even three of them joined into one (304 characters; docs/exports.md, "Addresses").
ADDRESS_LINE = Text("address line", 100)
CITY = Text("city", 100)
REGION = Text("region", 100)
POSTAL_CODE = Text("postal code", 20)
SELLER_ADDRESS = Text("address", 1_000, multiline=True)
TAX_NUMBER = Text("tax number", 50)
EMAIL = Text("e-mail", 254)  # the longest address SMTP carries (RFC 5321)
# a customer's billing addresses: up to 10 of them, comma-separated (domain/email_address.py)
BILLING_EMAILS = Text("billing e-mail addresses", 2_600)
TAX_DESCRIPTION = Text("tax description", 100)
EXTERNAL_ID = Text("external accounting id", 100)
TIME_ZONE = Text("time zone", 64)
LINE_DESCRIPTION = Text("line description", 500, multiline=True)
PACKAGE_DESCRIPTION = Text("package description", 1_000, multiline=True)
UNIT = Text("unit", 20)
MEMO = Text("memo", 2_000, multiline=True)
PAYMENT_INSTRUCTIONS = Text("payment instructions", 2_000, multiline=True)
REFERENCE = Text("reference", 140)  # a SEPA remittance reference
PAYMENT_METHOD = Text("payment method", 50)
IDEMPOTENCY_KEY = Text("idempotency key", 200)
#: why: on every event's stamp (a void, a write-off) and a dead letter's resolution alike
REASON = Text("reason", 1_000, multiline=True)
REMOTE_ID = Text("remote id", 200)  # an accounting system's id of a document settled by hand
ACTOR = Text("actor", 200)

# C0 and C1 controls (ESC starts ANSI escapes; U+009B is the one-byte CSI), DEL, lone
# surrogates (not UTF-8: no store can write them), noncharacters U+FFFE/U+FFFF, line and
# paragraph separators, and the bidirectional embeddings, overrides and isolates.
_NEVER = (
    "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069"
    "\ud800-\udfff\ufffe\uffff"
)
_NEVER_IN_TEXT = re.compile(f"[{_NEVER}]")
_ONE_LINE_REFUSED = re.compile(f"[\t\n\r{_NEVER}]")
# several lines: "\n" or "\r\n" breaks them (browsers post textareas with CRLF); a lone CR,
# which rewrites a terminal line or a log record, is refused
_LINES_REFUSED = re.compile(f"[\t{_NEVER}]|\r(?!\n)")


def unsafe_character(value: str) -> int | None:
    """The index of the first character no text may hold (whatever the field), or None."""
    found = _NEVER_IN_TEXT.search(value)
    return None if found is None else found.start()


def check_text(value: str, rule: Text, what: str | None = None, *, field: str | None = None) -> str:
    """``value`` if it fits ``rule``; never echoes the refused text (it may be hostile).
    ``field`` (here and below) is the input a refusal concerns (``BillingError.field``)."""
    label = what or rule.label
    if not isinstance(value, str):
        raise InvalidInput(f"{label} must be text", field=field)
    if len(value) > rule.max_length:
        raise TextTooLong(
            f"{label} must be at most {rule.max_length:,} characters, got {len(value):,}",
            field=field,
        )
    found = (_LINES_REFUSED if rule.multiline else _ONE_LINE_REFUSED).search(value)
    if found:
        kinds = "control characters" if rule.multiline else "line breaks, tabs, control characters"
        raise InvalidCharacters(
            f"{label} must not contain {kinds} or bidirectional overrides"
            f" (found U+{ord(value[found.start()]):04X} at character {found.start() + 1})",
            field=field,
        )
    return value


def check_optional_text(
    value: str | None, rule: Text, what: str | None = None, *, field: str | None = None
) -> str | None:
    return None if value is None else check_text(value, rule, what, field=field)


# ------------------------------------------------------------------ numbers


def shown(value: object) -> str:
    """A number for a message, cut short when it is huge."""
    text = str(value)
    return text if len(text) <= 32 else f"{text[:12]}... ({len(text):,} characters)"


def amount_limit(currency: str) -> Decimal:
    """The exclusive upper bound of |amount| in ``currency``."""
    return AMOUNT_LIMITS[currency_code(currency)]


def _below_limit(value: Decimal, currency: str, what: str, field: str | None) -> None:
    limit = amount_limit(currency)
    if abs(value) >= limit:
        raise OutOfRange(
            f"{what} must be less than {limit:,} {currency_code(currency)}"
            f" ({MONEY_DIGITS} significant digits), got {shown(value)}",
            field=field,
        )


def check_money(
    value: Decimal, currency: str, *, what: str = "amount", field: str | None = None
) -> Decimal:
    """Money that moves or is owed: within the bound and exact in the currency's minor units."""
    _below_limit(value, currency, what, field)
    return check_minor_units(value, currency, what=what, field=field)


def check_threshold(
    value: Decimal, currency: str, *, field: str = "low_balance_threshold"
) -> Decimal:
    """A low prepaid balance threshold: money in the customer's currency, not negative (a
    balance of credit never is), within the money limit, exact in minor units."""
    if value < 0:
        raise InvalidInput(
            f"low balance threshold must not be negative, got {shown(value)}", field=field
        )
    return check_money(value, currency, what="low balance threshold", field=field)


def check_unit_price(
    value: Decimal, currency: str, *, what: str = "unit price", field: str | None = "unit_price"
) -> Decimal:
    if value < 0:
        raise InvalidInput(f"{what} must not be negative, got {shown(value)}", field=field)
    _below_limit(value, currency, what, field)
    return check_precision(value, what=what, places=PRICE_PLACES, field=field)


def check_quantity(
    value: Decimal, *, what: str = "quantity", field: str | None = "quantity"
) -> Decimal:
    if value <= 0:
        raise InvalidInput(f"{what} must be greater than zero, got {shown(value)}", field=field)
    if value > MAX_QUANTITY:
        raise OutOfRange(
            f"{what} must be at most {MAX_QUANTITY:,}, got {shown(value)}", field=field
        )
    return check_precision(value, what=what, places=QUANTITY_PLACES, field=field)


def check_tax_rate(
    value: Decimal, *, what: str = "tax rate", field: str | None = "tax_rate"
) -> Decimal:
    if not Decimal(0) <= value <= MAX_TAX_RATE:
        raise OutOfRange(
            f"{what} must be between 0 and 100 percent, got {shown(value)}", field=field
        )
    return check_precision(value, what=what, places=TAX_RATE_PLACES, field=field)


def check_days(
    value: int, *, what: str = "payment terms", field: str | None = "payment_terms_days"
) -> int:
    """A day count (payment terms): a whole number from 0 to 365."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(
            f"{what} must be a whole number of days, got {shown(value)}", field=field
        )
    if not 0 <= value <= MAX_PAYMENT_TERMS_DAYS:
        raise OutOfRange(
            f"{what} must be between 0 and {MAX_PAYMENT_TERMS_DAYS} days, got {shown(value)}",
            field=field,
        )
    return value


# -------------------------------------------------------------------- dates


def check_date(value: date, *, what: str = "date", field: str | None = None) -> date:
    if not MIN_DATE <= value <= MAX_DATE:
        raise OutOfRange(
            f"{what} must be between {MIN_DATE} and {MAX_DATE}, got {value}", field=field
        )
    return value


def check_optional_date(
    value: date | None, *, what: str = "date", field: str | None = None
) -> date | None:
    return None if value is None else check_date(value, what=what, field=field)


def check_statement_period(start: date, end: date) -> None:
    """A statement's period: both days in range, ``start`` not after ``end``, at most
    :data:`MAX_STATEMENT_DAYS` days (both ends counted)."""
    check_date(start, what="statement start", field="from")
    check_date(end, what="statement end", field="to")
    if end < start:
        raise InvalidDate(f"statement end {end} is before its start {start}", field="to")
    days = (end - start).days + 1
    if days > MAX_STATEMENT_DAYS:
        raise OutOfRange(
            f"a statement covers at most {MAX_STATEMENT_DAYS} days, {start} to {end} is {days}",
            field="to",
        )


def days_after(day: date, days: int) -> date:
    """The due date ``days`` after the invoice date ``day``, both checked first, so the sum can
    never overflow."""
    check_date(day, what="invoice date", field="invoice_date")
    check_days(days)
    return check_date(day + timedelta(days=days), what="due date", field="due_date")


# -------------------------------------------------------------- collections


def check_count(count: int, maximum: int, *, what: str, field: str | None = None) -> int:
    """``what`` names the items: "lines on one invoice"."""
    if count > maximum:
        raise OutOfRange(f"at most {maximum:,} {what}, got {count:,}", field=field)
    return count


# ------------------------------------------------------------ stored values
# What an event already in the log (written before these limits) may hold and still be used:
# the bounds of the ledger's arithmetic, calendar and databases, wider than the limits above.
# ``tollbook reconcile`` lists a stored value beyond them (adapters/stored_values.py); text
# is checked for ``unsafe_character`` as every command checks it.

#: Significant digits of the ledger's decimal arithmetic (sums and products beyond are rounded).
STORED_DIGITS = DefaultContext.prec
#: Characters of one stored text (far above any field's limit: a megabyte stalls every page).
STORED_TEXT = 100_000
#: A day count longer than the calendar reaches past any date.
STORED_DAYS = (date.max - date.min).days
#: An integer column of the read models is 64-bit.
STORED_INTEGER = 2**63 - 1
#: Years with no day before or after them: due dates and periods around them cannot be worked out.
CALENDAR_ENDS = (date.min.year, date.max.year)

# ------------------------------------------------------------ documentation

_MONEY = f"money: < 10^({MONEY_DIGITS} − minor units), exact in minor units"
_PRICE = f"≥ 0, < 10^({MONEY_DIGITS} − minor units), ≤ {PRICE_PLACES} decimals"
_QUANTITY = f"> 0, ≤ {MAX_QUANTITY:,}, ≤ {QUANTITY_PLACES} decimals"
_RATE = f"0 to 100, ≤ {TAX_RATE_PLACES} decimals"
_DATE = f"{MIN_DATE} to {MAX_DATE}"
_TERMS = f"0 to {MAX_PAYMENT_TERMS_DAYS} days"
_STRUCTURED = "`PostalAddress` (below) or null: null shows the free-text `billing_address`"

#: The limit of each stored field, by field name (docs/events.md shows it beside the type).
FIELD_LIMITS: dict[str, str] = {
    "account_number": ACCOUNT_NUMBER.doc,
    "customer_account": ACCOUNT_NUMBER.doc,
    "name": f"{CUSTOMER_NAME.doc} (customers and packages)",
    "customer_name": CUSTOMER_NAME.doc,
    "company_name": COMPANY_NAME.doc,
    "seller_name": COMPANY_NAME.doc,
    "billing_address": BILLING_ADDRESS.doc,
    "address": SELLER_ADDRESS.doc,
    "CustomerProfile.address": _STRUCTURED,
    "BillingSnapshot.address": _STRUCTURED,
    "AddressChanged.before": f"`address`: {_STRUCTURED}",
    "AddressChanged.after": f"`address`: {_STRUCTURED}",
    "PostalAddress.lines": f"1–{MAX_ADDRESS_LINES} lines, each {ADDRESS_LINE.doc}",
    "PostalAddress.city": CITY.doc,
    "PostalAddress.region": REGION.doc,
    "PostalAddress.postal_code": (
        f"≤ {POSTAL_CODE.max_length} characters: ASCII letters, digits, spaces, hyphens"
    ),
    "PostalAddress.country": "an ISO 3166-1 alpha-2 code (`GB`), or empty",
    "seller_address": SELLER_ADDRESS.doc,
    "country": "an ISO 3166-1 alpha-2 code (`GB`), or empty",
    "seller_country": "an ISO 3166-1 alpha-2 code (`GB`), or empty",
    "tax_number": TAX_NUMBER.doc,
    "customer_tax_number": TAX_NUMBER.doc,
    "seller_tax_number": TAX_NUMBER.doc,
    "email": BILLING_EMAILS.doc + "; up to 10 addresses, comma-separated",
    # the seller's details (domain/seller_details.py checks them)
    "registration_number": "≤ 50 characters, one line",
    "contact_email": f"name@domain, {EMAIL.doc}",
    "contact_phone": "≤ 30 characters: digits, an optional leading +, spaces, ( ) . - between",
    "iban": "15–34 capitals and digits: country, mod-97 check digits, account (no spaces)",
    "bic": "8 or 11 capitals and digits, an ISO 3166 country at 5–6; only with an IBAN",
    "sort_code": "UK, 6 digits as `12-34-56`; only with an account number",
    "bank_account_number": "UK, 8 digits; only with a sort code",
    "DueDateChanged.after": "2000-01-01 to 2099-12-31, not before the invoice date",
    "tax_description": TAX_DESCRIPTION.doc,
    "default_tax_description": TAX_DESCRIPTION.doc,
    "tax_rounding": "`per_line` or `per_invoice_rate` (docs/money.md)",
    "document_date": "2000-01-01 to 2099-12-31; never before the sequence's latest",
    "tax_treatment": (
        "`standard`, `zero_rated`, `exempt`, `reverse_charge` or `outside_scope`; all but"
        " `standard` allow only a 0 % rate"
    ),
    "external_accounting_id": EXTERNAL_ID.doc,
    "time_zone": f"an IANA name, {TIME_ZONE.doc}",
    "description": f"lines: {LINE_DESCRIPTION.doc}; packages: {PACKAGE_DESCRIPTION.doc}",
    "unit": UNIT.doc,
    "memo": MEMO.doc,
    "payment_instructions": PAYMENT_INSTRUCTIONS.doc,
    "reference": REFERENCE.doc,
    "method": PAYMENT_METHOD.doc,
    "idempotency_key": IDEMPOTENCY_KEY.doc,
    "reason": REASON.doc,
    "remote_id": f"one word, {REMOTE_ID.doc}",
    "invoice_number_format": (
        "`{year}`, one `{seq}` or `{seq:0Nd}` (N 1–12), literal ASCII letters, digits and"
        " `-_./#`; ≤ 40 characters"
    ),
    "credit_note_number_format": "as `invoice_number_format`",
    "amount": _MONEY,
    "fee": _MONEY,
    "net": _MONEY,
    "tax": _MONEY,
    "total": _MONEY,
    "unit_price": f"{_PRICE} (a discount line's: ≤ 0, its rule's amount negated)",
    "setup_price": _PRICE,
    "Discount.percent": "> 0, ≤ 100, ≤ 4 decimals; or null (an amount)",
    "Discount.amount": f"{_MONEY}, > 0, ≤ what it discounts; or null (a percentage)",
    "Discount.applies_to": "a charge line of the invoice, or null: the invoice's net",
    "minimum_spend": f"≥ 0, {_MONEY}",
    "minimum_invoice_amount": f"≥ 0, {_MONEY}; a customer's may be null (the account's)",
    "usage_prices": "≤ 100 destinations, one `TieredPrice` each",
    "TieredPrice.destination": "1-100 characters, one line",
    "TieredPrice.tiers": "1-20 tiers from 0, each starting where the one before ends, last open",
    "Tier.first": "minutes, ≥ 0, ≤ 2 decimals",
    "Tier.last": f"minutes, > first, ≤ {MAX_QUANTITY:,}, ≤ 2 decimals; null: open-ended",
    "Tier.rate": _PRICE,
    "quantity": _QUANTITY,
    "default_quantity": _QUANTITY,
    "tax_rate": _RATE,
    "default_tax_rate": _RATE,
    "payment_terms_days": _TERMS,
    "default_payment_terms_days": _TERMS,
    "invoice_date": _DATE,
    "due_date": f"{_DATE}, not before the invoice date",
    "period_start": _DATE,
    "period_end": _DATE,
    "received_on": _DATE,
    "start_date": _DATE,
    "end_date": _DATE,
    "effective_from": _DATE,
    "lines": f"≤ {MAX_LINES:,} lines",
    "reminder_offsets": (
        f"≤ {MAX_REMINDERS} distinct whole days from the due date, {MIN_REMINDER_OFFSET} to"
        f" +{MAX_REMINDER_OFFSET}, ascending; empty: no reminders"
    ),
    "offset": f"whole days from the due date, {MIN_REMINDER_OFFSET} to +{MAX_REMINDER_OFFSET}",
}
