"""Values beyond the ledger's limits (domain/limits.py, docs/money.md "Limits"), on every surface.

Each case is refused with the same code and words on the CLI (exit 2, one line on stderr), the
HTTP API (422 problem+json) and the portal (422, the message beside the form), and writes no
event. Before the limits, most of these were accepted; an oversized unit price made every
later read of the ledger fail.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from adapters.app.context import Services
from adapters.clock import SteppingClock
from adapters.config import build_ledger
from adapters.ledger.application import Ledger
from adapters.service.app import create_app
from tests.helpers import event_count
from tests.portal.support import Browser, acme, signed_in
from tests.service.conftest import (  # noqa: F401  (fixtures: the API on the test's store)
    Api,
    client,
    keys,
    services,
)

NUL, RLO, LRI, PDI, ESC, CSI, DEL = "\x00", "\u202e", "\u2066", "\u2069", "\x1b", "\x9b", "\x7f"
HUGE = "x" * 20_000_000  # 20 MB
BIG_PRICE = "123456789012345678901234567890"

OUT, LONG, CHARS, AMOUNT, FORMAT = (
    "out_of_range",
    "text_too_long",
    "invalid_characters",
    "invalid_amount",
    "invalid_number_format",
)


def chars(found: str, at: int) -> str:
    return f"(found U+{ord(found):04X} at character {at})"


# --------------------------------------------------------------------- CLI

CUSTOMER = ["customer", "add", "NEW", "--name", "New Ltd"]

CLI_CASES: list[tuple[str, list[str], str, str]] = [
    # customers: names, account numbers, text fields
    ("name-nul", ["customer", "add", "NEW", "--name", f"a{NUL}b"], CHARS, chars(NUL, 2)),
    ("name-rlo", ["customer", "add", "NEW", "--name", f"Acme{RLO}dtL"], CHARS, chars(RLO, 5)),
    ("name-lri", ["customer", "add", "NEW", "--name", f"{LRI}x"], CHARS, chars(LRI, 1)),
    ("name-pdi", ["customer", "add", "NEW", "--name", f"x{PDI}"], CHARS, chars(PDI, 2)),
    ("name-ansi", ["customer", "add", "NEW", "--name", f"x{ESC}[31mred"], CHARS, chars(ESC, 2)),
    ("name-csi", ["customer", "add", "NEW", "--name", f"x{CSI}31m"], CHARS, chars(CSI, 2)),
    ("name-del", ["customer", "add", "NEW", "--name", f"x{DEL}"], CHARS, chars(DEL, 2)),
    ("name-newline", ["customer", "add", "NEW", "--name", "a\nb"], CHARS, chars("\n", 2)),
    ("name-tab", ["customer", "add", "NEW", "--name", "a\tb"], CHARS, chars("\t", 2)),
    ("name-line-sep", ["customer", "add", "NEW", "--name", "a\u2028b"], CHARS, "U+2028"),
    ("name-surrogate", ["customer", "add", "NEW", "--name", "a\ud800"], CHARS, "U+D800"),
    ("name-201", [*CUSTOMER[:3], "--name", "n" * 201], LONG, "at most 200 characters, got 201"),
    ("name-20mb", [*CUSTOMER[:3], "--name", HUGE], LONG, "got 20,000,000"),
    ("account-65", ["customer", "add", "A" * 65, "--name", "x"], LONG, "account number must be"),
    ("account-rlo", ["customer", "add", f"AC{RLO}ME", "--name", "x"], CHARS, chars(RLO, 3)),
    ("account-ansi", ["customer", "add", f"{ESC}[2J", "--name", "x"], CHARS, chars(ESC, 1)),
    ("address-esc", [*CUSTOMER, "--address", f"1 Road{ESC}"], CHARS, "billing address must not"),
    ("address-cr", [*CUSTOMER, "--address", "1 Road\rX"], CHARS, chars("\r", 7)),
    ("address-1001", [*CUSTOMER, "--address", "a" * 1001], LONG, "at most 1,000 characters"),
    (
        "email-255",
        [*CUSTOMER, "--email", "e" * 2601],
        LONG,
        "billing e-mail addresses must be at most 2,600",
    ),
    ("tax-number-nul", [*CUSTOMER, "--tax-number", f"GB{NUL}1"], CHARS, "tax number must not"),
    ("tax-text-rlo", [*CUSTOMER, "--tax-description", f"VAT{RLO}"], CHARS, "tax description"),
    ("external-101", [*CUSTOMER, "--external-id", "e" * 101], LONG, "external accounting id"),
    ("time-zone-65", [*CUSTOMER, "--time-zone", "Z" * 65], LONG, "time zone must be at most 64"),
    ("terms-1e9", [*CUSTOMER, "--terms", "1000000000"], OUT, "between 0 and 365 days"),
    ("terms-366", [*CUSTOMER, "--terms", "366"], OUT, "between 0 and 365 days, got 366"),
    ("terms-negative", [*CUSTOMER, "--terms", "-1"], OUT, "between 0 and 365 days, got -1"),
    ("terms-huge", [*CUSTOMER, "--terms", "9" * 100], OUT, "payment terms must be between"),
    ("rate-1e400", [*CUSTOMER, "--tax-rate", "1e400"], AMOUNT, "plain decimal number"),
    ("rate-101", [*CUSTOMER, "--tax-rate", "100.0001"], OUT, "between 0 and 100 percent"),
    ("rate-decimals", [*CUSTOMER, "--tax-rate", "20.12345"], AMOUNT, "more than 4 decimal"),
    ("rate-arabic-digits", [*CUSTOMER, "--tax-rate", "\u0662\u0660"], AMOUNT, "plain decimal"),
    ("rate-41-chars", [*CUSTOMER, "--tax-rate", "1" * 41], OUT, "has 41 characters"),
    # settings
    ("setting-rate-1e400", ["settings", "set", "default_tax_rate=1e400"], AMOUNT, "plain"),
    ("setting-rate-101", ["settings", "set", "default_tax_rate=101"], OUT, "default tax rate"),
    (
        "setting-terms-1e9",
        ["settings", "set", "default_payment_terms_days=1000000000"],
        OUT,
        "default payment terms must be between 0 and 365 days",
    ),
    (
        "format-attribute",
        ["settings", "set", "invoice_number_format=INV-{seq.__class__.__name__}"],
        FORMAT,
        "'{seq.__class__.__name__}' at character 5 is none of them",
    ),
    (
        "format-conversion",
        ["settings", "set", "invoice_number_format={seq!s:.0}"],
        FORMAT,
        "'{seq!s:.0}' at character 1",
    ),
    (
        "format-wide",
        ["settings", "set", "credit_note_number_format=CN-{seq:099d}"],
        FORMAT,
        "'{seq:099d}'",
    ),
    (
        "format-no-seq",
        ["settings", "set", "invoice_number_format=INV-{year}"],
        FORMAT,
        "must contain {seq}",
    ),
    (
        "format-two-seq",
        ["settings", "set", "invoice_number_format={seq}-{seq}"],
        FORMAT,
        "only once",
    ),
    (
        "format-space",
        ["settings", "set", "invoice_number_format=INV {seq}"],
        FORMAT,
        "' ' at character 4",
    ),
    (
        "format-year-spec",
        ["settings", "set", "invoice_number_format={year:x}{seq}"],
        FORMAT,
        "'{year:x}'",
    ),
    ("format-index", ["settings", "set", "invoice_number_format={0}{seq}"], FORMAT, "'{0}'"),
    (
        "format-41",
        ["settings", "set", f"invoice_number_format={'A' * 36}{{seq}}"],
        LONG,
        "number format must be at most 40",
    ),
    ("company-201", ["settings", "set", f"company_name={'c' * 201}"], LONG, "company name"),
    (
        "company-esc",
        ["settings", "set", f"company_name=X{ESC}]0;pwned{ESC}\\"],
        CHARS,
        chars(ESC, 2),
    ),
    (
        "instructions-2001",
        ["settings", "set", f"payment_instructions={'p' * 2001}"],
        LONG,
        "payment instructions must be at most 2,000",
    ),
    # invoices and lines ("INVOICE" is replaced by the test's draft)
    (
        "price-30-digits",
        ["invoice", "line", "add", "INVOICE", "--description", "x", "--unit-price", BIG_PRICE],
        OUT,
        "unit price must be less than 10,000,000,000,000 GBP",
    ),
    (
        "price-at-limit",
        [
            "invoice",
            "line",
            "add",
            "INVOICE",
            "--description",
            "x",
            "--unit-price",
            "10000000000000",
        ],
        OUT,
        "unit price must be less than",
    ),
    (
        "price-decimals",
        ["invoice", "line", "add", "INVOICE", "--description", "x", "--unit-price", "0.123456789"],
        AMOUNT,
        "more than 8 decimal places",
    ),
    (
        "quantity-over",
        [
            "invoice",
            "line",
            "add",
            "INVOICE",
            "--description",
            "x",
            "--quantity",
            "1000000000.5",
            "--unit-price",
            "1",
        ],
        OUT,
        "line quantity must be at most 1,000,000,000",
    ),
    (
        "quantity-decimals",
        [
            "invoice",
            "line",
            "add",
            "INVOICE",
            "--description",
            "x",
            "--quantity",
            "1.000000001",
            "--unit-price",
            "1",
        ],
        AMOUNT,
        "more than 8 decimal places",
    ),
    (
        "line-total",
        [
            "invoice",
            "line",
            "add",
            "INVOICE",
            "--description",
            "x",
            "--quantity",
            "1000000000",
            "--unit-price",
            "9999999999",
        ],
        OUT,
        "the invoice's total must be less than 10,000,000,000,000 GBP",
    ),
    (
        "line-rate",
        [
            "invoice",
            "line",
            "add",
            "INVOICE",
            "--description",
            "x",
            "--unit-price",
            "1",
            "--tax-rate",
            "100.5",
        ],
        OUT,
        "between 0 and 100",
    ),
    (
        "line-text-501",
        ["invoice", "line", "add", "INVOICE", "--description", "d" * 501, "--unit-price", "1"],
        LONG,
        "line description must be at most 500",
    ),
    (
        "line-text-nul",
        ["invoice", "line", "add", "INVOICE", "--description", f"x{NUL}", "--unit-price", "1"],
        CHARS,
        chars(NUL, 2),
    ),
    (
        "line-text-rlo",
        [
            "invoice",
            "line",
            "add",
            "INVOICE",
            "--description",
            f"{RLO}gnp.exe",
            "--unit-price",
            "1",
        ],
        CHARS,
        chars(RLO, 1),
    ),
    (
        "line-from-1999",
        [
            "invoice",
            "line",
            "add",
            "INVOICE",
            "--description",
            "x",
            "--unit-price",
            "1",
            "--from",
            "1999-12-31",
        ],
        OUT,
        "line period start must be between 2000-01-01 and 2099-12-31, got 1999-12-31",
    ),
    (
        "line-to-2100",
        [
            "invoice",
            "line",
            "add",
            "INVOICE",
            "--description",
            "x",
            "--unit-price",
            "1",
            "--to",
            "2100-01-01",
        ],
        OUT,
        "got 2100-01-01",
    ),
    (
        "invoice-date-2100",
        ["invoice", "new", "ACME", "--date", "2100-01-01"],
        OUT,
        "invoice date must be between 2000-01-01 and 2099-12-31",
    ),
    (
        "invoice-date-1999",
        ["invoice", "new", "ACME", "--date", "1999-12-31"],
        OUT,
        "got 1999-12-31",
    ),
    ("due-9999", ["invoice", "new", "ACME", "--due", "9999-12-31"], OUT, "due date must be"),
    (
        "due-derived-2100",
        ["invoice", "new", "ACME", "--date", "2099-12-31"],
        OUT,
        "due date must be between 2000-01-01 and 2099-12-31, got 2100-01-14",
    ),
    ("memo-2001", ["invoice", "new", "ACME", "--memo", "m" * 2001], LONG, "memo must be"),
    ("memo-esc", ["invoice", "new", "ACME", "--memo", f"{ESC}[8m"], CHARS, chars(ESC, 1)),
    # payments
    (
        "payment-at-limit",
        ["payment", "add", "ACME", "--amount", "10000000000000"],
        OUT,
        "payment amount must be less than 10,000,000,000,000 GBP",
    ),
    (
        "payment-30-digits",
        ["payment", "add", "ACME", "--amount", BIG_PRICE],
        OUT,
        "payment amount must be less than",
    ),
    (
        "payment-fee",
        ["payment", "add", "ACME", "--amount", "1", "--fee", "99999999999999"],
        OUT,
        "payment fee must be less than",
    ),
    (
        "payment-date",
        ["payment", "add", "ACME", "--amount", "1", "--date", "2100-01-01"],
        OUT,
        "payment date must be between",
    ),
    (
        "payment-reference",
        ["payment", "add", "ACME", "--amount", "1", "--reference", "r" * 141],
        LONG,
        "reference must be at most 140",
    ),
    (
        "payment-reference-nul",
        ["payment", "add", "ACME", "--amount", "1", "--reference", f"TX{NUL}"],
        CHARS,
        chars(NUL, 3),
    ),
    (
        "payment-method-ansi",
        ["payment", "add", "ACME", "--amount", "1", "--method", f"{ESC}[1mcash"],
        CHARS,
        "payment method must not",
    ),
    (
        "payment-key-201",
        ["payment", "add", "ACME", "--amount", "1", "--idempotency-key", "k" * 201],
        LONG,
        "idempotency key must be",
    ),
    # billing runs, schedules and reads take the same date range
    (
        "bill-period-9999",
        ["bill", "--period", "9999-12"],
        OUT,
        "billing period start must be between 2000-01-01 and 2099-12-31, got 9999-12-01",
    ),
    ("bill-period-1900", ["bill", "--period", "1900-01", "--dry-run"], OUT, "got 1900-01-01"),
    (
        "schedule-from-2100",
        ["schedule", "set", "ACME", "monthly:1", "--effective-from", "2100-01-01"],
        OUT,
        "effective date must be between",
    ),
    ("aged-as-of-9999", ["aged", "--as-of", "9999-12-31"], OUT, "as-of date must be between"),
    # names that become every event's actor
    (
        "apikey-name-esc",
        ["apikey", "create", f"ops{ESC}[31m", "--scope", "write"],
        CHARS,
        "API key name must not contain",
    ),
    ("apikey-name-201", ["apikey", "create", "k" * 201], LONG, "API key name must be at most 200"),
    # packages
    (
        "package-price",
        ["package", "add", "Trunk", "--price", BIG_PRICE, "--currency", "GBP"],
        OUT,
        "package price must be less than",
    ),
    (
        "package-setup",
        ["package", "add", "Trunk", "--price", "1", "--setup-price", "1e5"],
        AMOUNT,
        "plain decimal",
    ),
    (
        "package-name-rlo",
        ["package", "add", f"Trunk{RLO}", "--price", "1"],
        CHARS,
        "package name must not",
    ),
    (
        "package-quantity",
        ["package", "add", "Trunk", "--price", "1", "--default-quantity", "1000000001"],
        OUT,
        "default quantity must be at most 1,000,000,000",
    ),
]


@pytest.fixture
def cli_ledger(store_url: str, clock: SteppingClock) -> Iterator[Ledger]:
    ledger = build_ledger(store_url, clock=clock)
    yield ledger
    ledger.close()


@pytest.mark.parametrize(
    ("argv", "code", "words"),
    [pytest.param(argv, code, words, id=name) for name, argv, code, words in CLI_CASES],
)
def test_the_cli_refuses_values_beyond_the_limits(
    tollbook: Callable[..., Any], cli_ledger: Ledger, argv: list[str], code: str, words: str
) -> None:
    assert (
        tollbook(
            "customer", "add", "ACME", "--name", "Acme", "--tax-rate", "20", "--terms", "14"
        ).code
        == 0
    )
    draft = tollbook("invoice", "new", "ACME", "--json").json()["id"]
    before = event_count(cli_ledger)

    refused = tollbook(*[draft if arg == "INVOICE" else arg for arg in argv])

    assert refused.code == 2, refused
    assert refused.err.count("\n") == 1 and refused.err.startswith("error: "), refused.err[:300]
    assert refused.err.rstrip().endswith(f"[{code}]"), refused.err[:300]
    assert words in refused.err, refused.err[:300]
    assert ESC not in refused.err and NUL not in refused.err  # the hostile text is not echoed
    assert len(refused.err) < 600
    assert event_count(cli_ledger) == before


def test_the_cli_still_reads_the_ledger_after_a_refused_unit_price(
    tollbook: Callable[..., Any], cli_ledger: Ledger
) -> None:
    """The issue's reproduction: the line was stored and every read failed afterwards."""
    tollbook("customer", "add", "ACME", "--name", "Acme", "--tax-rate", "20")
    draft = tollbook("invoice", "new", "ACME", "--json").json()["id"]
    line = ["invoice", "line", "add", draft, "--description", "x", "--unit-price"]
    assert tollbook(*line, BIG_PRICE).code == 2
    largest = tollbook(*line, "9999999999999.99", "--tax-rate", "0")  # the largest GBP total
    assert largest.code == 0, largest.err
    listed = tollbook("invoice", "list", "--json")
    assert listed.code == 0 and len(listed.json()) == 1
    assert tollbook("reconcile").code == 0


CREDIT = ["credit-note", "new", "ISSUED", "--reason"]

MONEY_CASES: list[tuple[str, list[str], str, str]] = [
    (
        "credit-amount",
        [*CREDIT, "x", "--amount", BIG_PRICE],
        OUT,
        "credit amount must be less than 10,000,000,000,000 GBP",
    ),
    ("credit-reason-rlo", [*CREDIT, f"x{RLO}", "--amount", "1"], CHARS, "reason must not"),
    ("credit-reason-1001", [*CREDIT, "r" * 1001, "--full"], LONG, "reason must be at most 1,000"),
    (
        "credit-line-price",
        [*CREDIT, "x", "--line", f"d;1;{BIG_PRICE};20"],
        OUT,
        "unit price must be less than",
    ),
    (
        "credit-line-quantity",
        [*CREDIT, "x", "--line", "d;1000000001;1;20"],
        OUT,
        "line quantity must be at most",
    ),
    (
        "credit-line-text",
        [*CREDIT, "x", "--line", f"d{ESC}[0m;1;1;20"],
        CHARS,
        "line description must not",
    ),
    (
        "void-reason-esc",
        ["invoice", "void", "ISSUED", "--reason", f"{ESC}[2Jgone"],
        CHARS,
        chars(ESC, 1),
    ),
    (
        "refund-amount",
        ["payment", "refund", "PAYMENT", BIG_PRICE],
        OUT,
        "refund must be less than 10,000,000,000,000 GBP",
    ),
    (
        "refund-reference",
        ["payment", "refund", "PAYMENT", "1", "--reference", f"R{NUL}"],
        CHARS,
        "reference must not",
    ),
    (
        "refund-method",
        ["payment", "refund", "PAYMENT", "1", "--method", "m" * 51],
        LONG,
        "payment method must be at most 50",
    ),
    (
        "allocate-amount",
        ["payment", "allocate", "PAYMENT", f"ISSUED={BIG_PRICE}"],
        OUT,
        "allocation must be less than",
    ),
    (
        "allocate-1001",
        ["payment", "allocate", "PAYMENT", *["ISSUED=0.01"] * 1001],
        OUT,
        "at most 1,000 invoices per payment, got 1,001",
    ),
    (
        "unallocate-amount",
        ["payment", "unallocate", "PAYMENT", "ISSUED", BIG_PRICE, "--reason", "x"],
        OUT,
        "amount must be less than",
    ),
    (
        "cancel-reason",
        ["payment", "cancel", "PAYMENT", "--reason", f"{PDI}x"],
        CHARS,
        "reason must not",
    ),
]


@pytest.mark.parametrize(
    ("argv", "code", "words"),
    [pytest.param(argv, code, words, id=name) for name, argv, code, words in MONEY_CASES],
)
def test_the_cli_refuses_credits_refunds_and_allocations_beyond_the_limits(
    tollbook: Callable[..., Any], cli_ledger: Ledger, argv: list[str], code: str, words: str
) -> None:
    tollbook("customer", "add", "ACME", "--name", "Acme", "--tax-rate", "20")
    draft = tollbook("invoice", "new", "ACME", "--json").json()["id"]
    tollbook("invoice", "line", "add", draft, "--description", "x", "--unit-price", "100")
    number = tollbook("invoice", "issue", draft).out.split()[-1]
    payment = tollbook("payment", "add", "ACME", "--amount", "50", "--completed", "--json")
    names = {"ISSUED": number, "PAYMENT": payment.json()["id"]}
    before = event_count(cli_ledger)

    refused = tollbook(*[_named(arg, names) for arg in argv])

    assert refused.code == 2, refused
    assert refused.err.rstrip().endswith(f"[{code}]"), refused.err[:300]
    assert words in refused.err, refused.err[:300]
    assert refused.err.count("\n") == 1 and len(refused.err) < 600
    assert event_count(cli_ledger) == before


def _named(arg: str, names: dict[str, str]) -> str:
    for placeholder, value in names.items():
        arg = arg.replace(placeholder, value)
    return arg


# --------------------------------------------------------------------- HTTP

GOOD_CUSTOMER = {"account_number": "NEW", "name": "New Ltd", "tax_rate": "20"}

HTTP_CASES: list[tuple[str, str, str, dict[str, Any], str, str]] = [
    # 500 KB: below the API's body limit, far above the name's
    (
        "customer-name-500kb",
        "POST",
        "/customers",
        {**GOOD_CUSTOMER, "name": "n" * 500_000},
        LONG,
        "customer name must be at most 200 characters, got 500,000",
    ),
    (
        "customer-name-nul",
        "POST",
        "/customers",
        {**GOOD_CUSTOMER, "name": f"a{NUL}"},
        CHARS,
        chars(NUL, 2),
    ),
    (
        "customer-name-rlo",
        "POST",
        "/customers",
        {**GOOD_CUSTOMER, "name": f"a{RLO}"},
        CHARS,
        chars(RLO, 2),
    ),
    (
        "customer-name-ansi",
        "POST",
        "/customers",
        {**GOOD_CUSTOMER, "name": f"{ESC}[5m"},
        CHARS,
        chars(ESC, 1),
    ),
    (
        "customer-account-c1",
        "POST",
        "/customers",
        {**GOOD_CUSTOMER, "account_number": f"N{CSI}"},
        CHARS,
        "account number must not",
    ),
    (
        "customer-terms-1e9",
        "POST",
        "/customers",
        {**GOOD_CUSTOMER, "payment_terms_days": 1_000_000_000},
        OUT,
        "between 0 and 365 days",
    ),
    (
        "customer-terms-2^70",
        "POST",
        "/customers",
        {**GOOD_CUSTOMER, "payment_terms_days": 2**70},
        OUT,
        "payment terms must be between",
    ),
    (
        "customer-rate-101",
        "POST",
        "/customers",
        {**GOOD_CUSTOMER, "tax_rate": "100.5"},
        OUT,
        "tax rate must be between 0 and 100 percent",
    ),
    (
        "customer-email",
        "PATCH",
        "/customers/ACME",
        {"email": "e" * 2601},
        LONG,
        "billing e-mail addresses must be",
    ),
    (
        "customer-effective",
        "PATCH",
        "/customers/ACME",
        {"name": "Renamed", "effective_from": "2100-01-01"},
        OUT,
        "effective date must be between",
    ),
    (
        "customer-reason-rlo",
        "PATCH",
        "/customers/ACME",
        {"name": "Renamed", "reason": RLO},
        CHARS,
        "reason must not",
    ),
    (
        "settings-rate-1e400",
        "PATCH",
        "/settings",
        {"default_tax_rate": "1e400"},
        AMOUNT,
        "default tax rate must be a plain decimal number",
    ),
    (
        "settings-terms",
        "PATCH",
        "/settings",
        {"default_payment_terms_days": 10**9},
        OUT,
        "default payment terms must be between 0 and 365",
    ),
    (
        "settings-format-attr",
        "PATCH",
        "/settings",
        {"invoice_number_format": "INV-{seq.__class__.__name__}"},
        FORMAT,
        "is none of them",
    ),
    (
        "settings-format-conv",
        "PATCH",
        "/settings",
        {"invoice_number_format": "{seq!s:.0}"},
        FORMAT,
        "'{seq!s:.0}'",
    ),
    (
        "settings-company-ansi",
        "PATCH",
        "/settings",
        {"company_name": f"{ESC}[31mX"},
        CHARS,
        "company name must not",
    ),
    (
        "line-price-30-digits",
        "POST",
        "/invoices/INVOICE/lines",
        {"description": "x", "quantity": "1", "unit_price": BIG_PRICE},
        OUT,
        "unit price must be less than 10,000,000,000,000 GBP",
    ),
    (
        "line-quantity",
        "POST",
        "/invoices/INVOICE/lines",
        {"description": "x", "quantity": "1000000001", "unit_price": "1"},
        OUT,
        "line quantity must be at most 1,000,000,000",
    ),
    (
        "line-total",
        "POST",
        "/invoices/INVOICE/lines",
        {"description": "x", "quantity": "1000000", "unit_price": "99999999"},
        OUT,
        "the invoice's total must be less than",
    ),
    (
        "line-description-nul",
        "POST",
        "/invoices/INVOICE/lines",
        {"description": f"x{NUL}", "quantity": "1", "unit_price": "1"},
        CHARS,
        chars(NUL, 2),
    ),
    (
        "line-period",
        "POST",
        "/invoices/INVOICE/lines",
        {"description": "x", "quantity": "1", "unit_price": "1", "period_start": "1999-01-01"},
        OUT,
        "line period start must be between 2000-01-01 and 2099-12-31",
    ),
    (
        "invoice-date",
        "POST",
        "/invoices",
        {"customer": "ACME", "invoice_date": "2100-01-01"},
        OUT,
        "invoice date must be between",
    ),
    (
        "invoice-memo",
        "POST",
        "/invoices",
        {"customer": "ACME", "memo": "m" * 2001},
        LONG,
        "memo must be at most 2,000",
    ),
    (
        "payment-amount",
        "POST",
        "/payments",
        {"customer": "ACME", "amount": BIG_PRICE},
        OUT,
        "payment amount must be less than 10,000,000,000,000 GBP",
    ),
    (
        "payment-reference",
        "POST",
        "/payments",
        {"customer": "ACME", "amount": "1", "reference": f"{RLO}9910"},
        CHARS,
        chars(RLO, 1),
    ),
    (
        "payment-date",
        "POST",
        "/payments",
        {"customer": "ACME", "amount": "1", "received_on": "1999-12-31"},
        OUT,
        "payment date must be between",
    ),
    (
        "package-price",
        "POST",
        "/packages",
        {"name": "Trunk", "unit_price": BIG_PRICE},
        OUT,
        "package price must be less than",
    ),
]


def _problem(response: Any, code: str, words: str) -> None:
    assert response.status_code == 422, response.text[:500]
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert (body["code"], body["type"]) == (code, f"/problems/{code}"), body
    assert words in body["detail"], body["detail"][:500]
    assert len(body["detail"]) < 600


@pytest.mark.parametrize(
    ("method", "path", "body", "code", "words"),
    [pytest.param(*case[1:], id=case[0]) for case in HTTP_CASES],
)
def test_the_http_api_refuses_values_beyond_the_limits(
    client: TestClient,  # noqa: F811
    keys: dict[str, str],  # noqa: F811
    services: Services,  # noqa: F811
    method: str,
    path: str,
    body: dict[str, Any],
    code: str,
    words: str,
) -> None:
    api = Api(client, keys["admin"])
    acme(services.ledger)
    draft = services.ledger.create_invoice("ACME", "setup")
    before = event_count(services.ledger)

    target = path.replace("INVOICE", str(draft))
    response = api.post(target, body) if method == "POST" else api.patch(target, body)

    _problem(response, code, words)
    assert event_count(services.ledger) == before


# ------------------------------------------------------------------- portal

PORTAL_CUSTOMER = {
    "account_number": "NEW",
    "name": "New Ltd",
    "currency": "GBP",
    "tax_rate": "20",
    "tax_description": "VAT 20%",
    "payment_terms_days": "14",
    "time_zone": "UTC",
}

PORTAL_CASES: list[tuple[str, str, dict[str, str], str]] = [
    (
        "customer-name-rlo",
        "/portal/customers",
        {**PORTAL_CUSTOMER, "name": f"New{RLO}"},
        "customer name must not contain",
    ),
    (
        "customer-name-long",
        "/portal/customers",
        {**PORTAL_CUSTOMER, "name": "n" * 100_000},
        "customer name must be at most 200 characters, got 100,000",
    ),
    (
        "customer-account-esc",
        "/portal/customers",
        {**PORTAL_CUSTOMER, "account_number": f"N{ESC}[2J"},
        "account number must not contain",
    ),
    (
        "customer-terms",
        "/portal/customers",
        {**PORTAL_CUSTOMER, "payment_terms_days": "1000000000"},
        "between 0 and 365 days",
    ),
    (
        "customer-terms-superscript",
        "/portal/customers",
        {**PORTAL_CUSTOMER, "payment_terms_days": "\u00b2"},
        "must be a whole number of days",
    ),
    (
        "customer-rate",
        "/portal/customers",
        {**PORTAL_CUSTOMER, "tax_rate": "1e400"},
        "tax rate must be a plain decimal number",
    ),
    (
        "customer-address-nul",
        "/portal/customers",
        {**PORTAL_CUSTOMER, "billing_address": f"1 Road{NUL}"},
        "billing address must not",
    ),
    (
        "invoice-date",
        "/portal/invoices",
        {"customer": "ACME", "invoice_date": "2100-01-01"},
        "invoice date must be between 2000-01-01 and 2099-12-31",
    ),
    (
        "invoice-memo",
        "/portal/invoices",
        {"customer": "ACME", "memo": f"x{CSI}"},
        "memo must not contain",
    ),
    (
        "line-price",
        "/portal/invoices/INVOICE/lines",
        {"description": "x", "quantity": "1", "unit_price": BIG_PRICE},
        "unit price must be less than 10,000,000,000,000 gbp",
    ),
    (
        "line-description",
        "/portal/invoices/INVOICE/lines",
        {"description": f"{RLO}x", "quantity": "1", "unit_price": "1"},
        "line description must not contain",
    ),
    (
        "payment-amount",
        "/portal/payments",
        {"customer": "ACME", "amount": "10000000000000"},
        "payment amount must be less than",
    ),
    (
        "payment-reference",
        "/portal/payments",
        {"customer": "ACME", "amount": "1", "reference": "r" * 141},
        "reference must be at most 140",
    ),
]


@pytest.fixture
def finance(services: Services) -> Iterator[Browser]:  # noqa: F811
    app = create_app(services)
    app.state.portal.users.add("fiona", "finance", "correct horse battery")
    yield from signed_in(app, "fiona")


@pytest.mark.parametrize(
    ("path", "form", "words"), [pytest.param(*case[1:], id=case[0]) for case in PORTAL_CASES]
)
def test_the_portal_refuses_values_beyond_the_limits(
    finance: Browser,
    services: Services,  # noqa: F811
    path: str,
    form: dict[str, str],
    words: str,
) -> None:
    acme(services.ledger)
    draft = services.ledger.create_invoice("ACME", "setup")
    before = event_count(services.ledger)

    response = finance.post(path.replace("INVOICE", str(draft)), form)

    assert response.status_code == 422, response.text[-1500:]
    assert words in html.unescape(response.text).lower(), response.text[-3000:]
    assert event_count(services.ledger) == before
