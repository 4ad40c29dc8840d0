"""A poisoned store: it already holds an event with values beyond the domain's limits, saved
as a ledger that predates the limits saved it (tests/hostile/poison.py). Every read still
answers, on the CLI, the HTTP API and the portal, on SQLite and PostgreSQL; ``reconcile``
lists the event (position, aggregate id, reason); a read model that cannot apply it stops
visibly (``projections status``, ``/health``) while the rest of the service keeps answering.
Reads write nothing: the number of stored events never changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal as D
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from structlog.testing import capture_logs

from adapters.app.context import Services
from adapters.clock import SteppingClock
from adapters.config import build_ledger
from adapters.ledger.application import Ledger
from adapters.service.app import create_app
from adapters.store.read_models import SqlViewStore
from domain.changes import SettingsChanges
from projections.runner import Runner
from tests.e2e.conftest import Result
from tests.helpers import event_count
from tests.hostile.poison import POISONS, Poison, poisoned_line
from tests.portal.support import PASSWORD, Browser

Cli = Callable[..., Result]


@dataclass(frozen=True)
class Store:
    """A poisoned store: an unaffected issued invoice and payment before the poisoned event,
    and a customer with an issued invoice after it."""

    url: str
    number: str  # ACME's issued invoice, untouched by the poison
    later: str  # LATER's issued invoice, written after the poisoned event
    poisoned: UUID  # the aggregate the poisoned event belongs to
    position: int  # the poisoned event's position in the log
    events: int  # events stored


def _build(url: str, clock: SteppingClock, poison: Callable[[Ledger], tuple[UUID, int]]) -> Store:
    ledger = build_ledger(url, clock=clock)
    try:
        ledger.change_settings(
            SettingsChanges.model_validate({"company_name": "Northwind Voice Ltd"}), "finance:test"
        )
        for account in ("ACME", "LATER"):
            if account == "LATER":
                poisoned, position = poison(ledger)
            ledger.register_customer(
                "finance:test",
                account_number=account,
                name=f"{account} Ltd",
                currency="GBP",
                tax_rate=D(20),
                tax_description="VAT 20%",
                payment_terms_days=14,
            )
            invoice_id = ledger.create_invoice(
                account, "finance:test", invoice_date=date(2026, 10, 1)
            )
            ledger.add_line(
                invoice_id,
                "finance:test",
                description="SIP trunk",
                quantity=D(1),
                unit_price=D(100),
            )
            number = ledger.issue_invoice(invoice_id, "finance:test")
            if account == "ACME":
                first = number
                payment = ledger.record_payment(
                    "ACME", "finance:test", amount=D("50.00"), status="completed"
                )
                ledger.allocate(payment, [(first, D("50.00"))], "finance:test")
        return Store(url, first, number, poisoned, position, event_count(ledger))
    finally:
        ledger.close()


@pytest.fixture(params=POISONS, ids=str)
def store(request: pytest.FixtureRequest, store_url: str, clock: SteppingClock) -> Store:
    poison: Poison = request.param
    return _build(store_url, clock, poison.write)


def _overflowing(ledger: Ledger) -> tuple[UUID, int]:
    """A draft line whose tax no decimal arithmetic can hold: the invoice register cannot
    apply it (the line's tax is part of the register's totals)."""
    invoice_id = ledger.create_invoice("ACME", "finance:test", invoice_date=date(2026, 10, 1))
    return invoice_id, poisoned_line(ledger, invoice_id, tax_rate=D("1E+999999"))


@pytest.fixture
def stuck(store_url: str, clock: SteppingClock) -> Store:
    return _build(store_url, clock, _overflowing)


def _events(url: str) -> int:
    ledger = build_ledger(url)
    try:
        return event_count(ledger)
    finally:
        ledger.close()


# ------------------------------------------------------------------ the CLI


READS: list[tuple[str, ...]] = [
    ("invoice", "list", "--json"),
    ("invoice", "list"),
    ("invoice", "list", "--customer", "ACME", "--json"),
    ("balance", "--json"),
    ("balance",),
    ("aged", "--as-of", "2026-12-31", "--json"),
    ("aged", "--as-of", "2026-12-31", "--detail", "--json"),
    ("payment", "history", "--json"),
    ("payment", "list", "--json"),
    ("customer", "list", "--json"),
    ("customer", "show", "ACME", "--json"),
    ("projections", "status", "--json"),
    ("audit", "verify"),
]


def test_every_cli_read_answers(tollbook: Cli, store: Store) -> None:
    for args in READS:
        result = tollbook(*args)
        assert result.code == 0, (args, result.err[-2000:])
        assert "Traceback" not in result.err, args
    listed = {doc["number"] for doc in tollbook("invoice", "list", "--json").json()}
    assert store.number in listed
    shown = tollbook("invoice", "show", store.number, "--json")
    assert shown.code == 0 and shown.json()["total"] == "120.00"
    assert shown.json()["outstanding"] == "70.00"
    balance = tollbook("balance", "--json")
    balances = {b["customer_account"]: b for b in balance.json()}
    assert balances["ACME"]["outstanding"] == "70.00"
    assert balances["LATER"]["outstanding"] == "120.00"
    assert "is stopped" not in balance.err
    assert _events(store.url) == store.events


def test_the_unaffected_invoice_renders_as_pdf(tollbook: Cli, store: Store, tmp_path: Any) -> None:
    result = tollbook("invoice", "pdf", store.number, "-o", str(tmp_path / "a.pdf"))
    assert result.code == 0, result.err[-2000:]
    assert (tmp_path / "a.pdf").read_bytes().startswith(b"%PDF")
    assert _events(store.url) == store.events


def test_the_poisoned_aggregate_is_shown_or_refused_in_one_line(
    tollbook: Cli, store: Store
) -> None:
    history = tollbook("invoice", "history", str(store.poisoned), "--json")
    shown = tollbook("invoice", "show", str(store.poisoned), "--json")
    for result in (history, shown):
        assert "Traceback" not in result.err
        if result.code:  # the poisoned aggregate is a customer, not an invoice
            assert result.code == 3 and result.err.count("\n") == 1, result.err
    if shown.code == 0 and shown.json().get("error"):
        assert shown.json()["total"] is None and "beyond the ledger's limits" in shown.err
    assert _events(store.url) == store.events


def test_reconcile_lists_the_poisoned_event(tollbook: Cli, store: Store) -> None:
    result = tollbook("reconcile", "--json")
    assert result.code == 1, result.err[-2000:]
    findings = [
        f for f in result.json() if f["check"] in ("event out of range", "unreadable event")
    ]
    assert findings, result.out
    # the poisoned event; a poisoned customer's values also sit in its invoice's events
    assert min(f["position"] for f in findings) == store.position
    assert str(store.poisoned) in {f["aggregate_id"] for f in findings}
    assert all(f["found"] for f in findings)  # the reason, for a person
    # nothing else differs: the read models agree with the events
    others = [f for f in result.json() if f not in findings and f["check"] != "read model stopped"]
    assert others == []
    assert _events(store.url) == store.events


# ------------------------------------------------------- a read model that cannot go on


def test_a_read_model_that_cannot_apply_an_event_stops_visibly(tollbook: Cli, stuck: Store) -> None:
    listed = tollbook("invoice", "list", "--json")
    assert listed.code == 0
    assert "warning: read model invoice_register is stopped" in listed.err
    assert f"event {stuck.position}" in listed.err
    numbers = {doc["number"] for doc in listed.json()}
    assert stuck.number in numbers and stuck.later not in numbers  # as of just before it

    caught_up = tollbook("projections", "catch-up")
    assert caught_up.code == 0 and "invoice_register is stopped" in caught_up.err
    status = {row["name"]: row for row in tollbook("projections", "status", "--json").json()}
    register = status["invoice_register"]
    assert register["state"] == "stopped"
    assert register["position"] == stuck.position - 1
    assert register["stopped_at"]["event_id"] == stuck.position
    assert register["stopped_at"]["event_type"] == "Invoice.LineAdded"
    assert register["stopped_at"]["aggregate_id"] == str(stuck.poisoned)
    assert register["stopped_at"]["error"].startswith("Overflow")
    for name in ("balances", "payment_history", "aged_receivables"):
        assert status[name]["state"] == "ok" and status[name]["lag"] == 0, status[name]

    # the other read models went past it: LATER's invoice is owed
    balances = {b["customer_account"]: b for b in tollbook("balance", "--json").json()}
    assert balances["LATER"]["outstanding"] == "120.00"
    table = tollbook("projections", "status")
    assert table.code == 0 and "stopped" in table.out

    result = tollbook("reconcile", "--json")
    assert result.code == 1
    checks = {(f["check"], f["position"]) for f in result.json()}
    assert ("read model stopped", stuck.position) in checks
    assert ("event out of range", stuck.position) in checks
    assert {f["check"] for f in result.json()} == {"read model stopped", "event out of range"}

    shown = tollbook("invoice", "show", str(stuck.poisoned), "--json")
    assert shown.code == 0 and shown.json()["total"] is None and shown.json()["error"]
    pdf = tollbook("invoice", "pdf", str(stuck.poisoned), "-o", "/dev/null")
    assert pdf.code == 1 and "[unreadable_record]" in pdf.err and pdf.err.count("\n") == 1
    rebuilt = tollbook("projections", "rebuild", "invoice_register")
    assert rebuilt.code == 0 and "is stopped at position" in rebuilt.err
    assert _events(stuck.url) == stuck.events


def test_a_stopped_read_model_is_logged_once_and_retried_with_back_off(
    stuck: Store, clock: SteppingClock
) -> None:
    ledger = build_ledger(stuck.url, clock=clock)
    try:
        events_table = getattr(ledger.recorder, "events_table_name", "")
        runner = Runner(ledger, SqlViewStore(_database(stuck.url), events_table))
        with capture_logs() as logs:
            for _ in range(5):
                runner.catch_up()
        stopped = [e for e in logs if e["event"].startswith("read model stopped")]
        assert len(stopped) == 1
        [entry] = stopped
        assert entry["read_model"] == "invoice_register"
        assert entry["position"] == stuck.position - 1
        assert entry["event_id"] == stuck.position
        assert entry["event_type"] == "Invoice.LineAdded"
        assert entry["log_level"] == "error"
        # a second process finds it recorded: it tries once, and logs nothing new
        other = Runner(ledger, SqlViewStore(_database(stuck.url), events_table))
        with capture_logs() as again:
            other.catch_up()
        assert not [e for e in again if e["event"].startswith("read model stopped")]
        assert set(other.faults) == {"invoice_register"}
    finally:
        ledger.close()
    assert _events(stuck.url) == stuck.events


def _database(url: str) -> Any:
    from adapters.store.database import Database

    return Database.from_url(url)


# ------------------------------------------------------------------ HTTP and portal


@pytest.fixture
def services(store_url: str, clock: SteppingClock) -> Iterator[Services]:
    built = Services.from_url(store_url, clock=clock)
    yield built
    built.close()


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def bearer(services: Services) -> dict[str, str]:
    return {"Authorization": f"Bearer {services.api_keys.create('reader', 'read')}"}


def test_every_http_read_answers(client: TestClient, bearer: dict[str, str], store: Store) -> None:
    for path in (
        "/invoices",
        f"/invoices/{store.number}",
        f"/invoices/{store.number}/history",
        "/balances",
        "/customers",
        "/customers/ACME",
        "/payments",
        "/credit-notes",
        "/events",
    ):
        response = client.get(path, headers=bearer)
        assert response.status_code == 200, (path, response.text[:500])
    pdf = client.get(f"/invoices/{store.number}.pdf", headers=bearer)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    listed = client.get("/invoices", headers=bearer).json()
    assert store.number in {doc["number"] for doc in listed}
    health = client.get("/health")
    assert health.status_code == 200 and health.json()["status"] in ("ok", "degraded")
    # the poisoned invoice itself: shown (amounts as stored, or null with an error); a
    # poisoned customer is no invoice
    poisoned = client.get(f"/invoices/{store.poisoned}", headers=bearer)
    assert poisoned.status_code in (200, 404), poisoned.text[:500]
    if poisoned.status_code == 200 and poisoned.json()["total"] is None:
        assert "beyond the ledger's limits" in poisoned.json()["error"]
    assert _events(store.url) == store.events


def test_health_lists_the_stopped_read_model(
    client: TestClient, bearer: dict[str, str], services: Services, stuck: Store
) -> None:
    assert client.get("/health").json()["status"] == "ok"  # nothing has tried it yet
    runner = Runner(
        services.ledger,
        SqlViewStore(services.db, getattr(services.ledger.recorder, "events_table_name", "")),
    )
    runner.catch_up()  # as the serve worker does
    health = client.get("/health")
    assert health.status_code == 200
    body = health.json()
    assert body["status"] == "degraded"
    models = {m["name"]: m for m in body["read_models"]}
    register = models["invoice_register"]
    assert register["state"] == "stopped" and register["position"] == stuck.position - 1
    assert register["stopped_at"]["event_id"] == stuck.position
    assert register["stopped_at"]["event_type"] == "Invoice.LineAdded"
    assert register["stopped_at"]["aggregate_id"] == str(stuck.poisoned)
    assert {m["state"] for n, m in models.items() if n != "invoice_register"} == {"ok"}
    # the rest of the service keeps answering
    assert client.get("/invoices", headers=bearer).status_code == 200
    shown = client.get(f"/invoices/{stuck.poisoned}", headers=bearer)
    assert shown.status_code == 200 and shown.json()["error"] and shown.json()["total"] is None
    pdf = client.get(f"/invoices/{stuck.poisoned}.pdf", headers=bearer)
    assert pdf.status_code == 409 and pdf.json()["code"] == "unreadable_record"
    assert client.get(f"/invoices/{stuck.number}.pdf", headers=bearer).status_code == 200
    assert _events(stuck.url) == stuck.events


def test_every_portal_page_answers(services: Services, store: Store) -> None:
    app = create_app(services)
    app.state.portal.users.add("fiona", "finance", PASSWORD)
    with TestClient(app, raise_server_exceptions=False) as client:
        browser = Browser(client)
        assert browser.sign_in("fiona").status_code == 303
        for path in (
            "/portal/invoices",
            "/portal/invoices.csv",
            f"/portal/invoices/{store.number}",
            f"/portal/invoices/{store.number}/history",
            f"/portal/invoices/{store.number}/payments",
            "/portal/customers",
            "/portal/customers/ACME",
            "/portal/customers/LATER",
            "/portal/payments",
        ):
            response = browser.get(path)
            assert response.status_code == 200, (path, response.text[:500])
        poisoned = browser.get(f"/portal/invoices/{store.poisoned}")
        assert poisoned.status_code in (200, 404, 409), (poisoned.status_code, poisoned.text[:500])
        pdf = browser.get(f"/portal/invoices/{store.number}.pdf")
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert _events(store.url) == store.events


@pytest.mark.parametrize(
    "poison",
    [p for p in POISONS if p.name in ("escapes in an account number", "NUL in an account number")],
    ids=str,
)
def test_tables_never_pass_control_characters_to_the_terminal(
    tollbook: Cli, store_url: str, clock: SteppingClock, poison: Poison
) -> None:
    poisoned = _build(store_url, clock, poison.write)
    for args in (("customer", "list"), ("invoice", "list"), ("balance",)):
        result = tollbook(*args)
        assert result.code == 0, result.err
        assert not any(c in result.out for c in "\x00\x1b\u202e"), args
    listed = tollbook("customer", "list")
    assert "is stopped" not in listed.err
    # profiles come from the ledger, as stored: shown escaped
    assert "\\x1b[2J" in listed.out or "NUL\\x00ACC" in listed.out
    assert _events(poisoned.url) == poisoned.events


def test_a_nul_in_stored_text_stops_no_read_model(
    tollbook: Cli, store_url: str, clock: SteppingClock
) -> None:
    """PostgreSQL text cannot hold NUL; the read models store U+FFFD in its place, on both
    databases, and keep going; the ledger keeps the event as it is and reconcile names it."""
    [poison] = [p for p in POISONS if p.name == "NUL in an account number"]
    poisoned = _build(store_url, clock, poison.write)
    assert tollbook("projections", "catch-up").code == 0
    status = tollbook("projections", "status", "--json")
    assert status.code == 0
    assert {row["state"] for row in status.json()} == {"ok"}, status.out
    assert {row["lag"] for row in status.json()} == {0}
    customers = {c["account_number"]: c for c in tollbook("customer", "list", "--json").json()}
    assert set(customers) == {"ACME", "NUL\x00ACC", "LATER"}  # profiles: from the ledger
    invoices = tollbook("invoice", "list", "--json").json()
    assert "NUL\ufffdACC" in {doc["customer_account"] for doc in invoices}
    balances = {b["customer_account"] for b in tollbook("balance", "--json").json()}
    assert balances == {"ACME", "LATER"}  # the NUL customer owes nothing: a draft only
    findings = tollbook("reconcile", "--json").json()
    assert {f["check"] for f in findings} == {"event out of range"}, findings
    first = [f for f in findings if f["position"] == poisoned.position]
    assert {f["aggregate_id"] for f in first} == {str(poisoned.poisoned)}
    assert all("U+0000" in f["found"] for f in first), first  # account number and name
    assert _events(poisoned.url) == poisoned.events
