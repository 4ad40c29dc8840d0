"""Fixtures for the accounting exports: fake services on 127.0.0.1 and a billing cycle."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal as D
from typing import Any

import pytest

from adapters.accounting.config import Connection, parse_connections
from adapters.accounting.exporter import Exporter
from adapters.accounting.factory import build_exporter
from tests.fakes.clearbooks import FakeClearBooks
from tests.fakes.freshbooks import FakeFreshBooks
from tests.fakes.server import FakeClock, FakeService
from tests.fakes.xero import FakeXero


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


def _serve(fake: FakeService) -> Iterator[Any]:
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def xero(fake_clock: FakeClock) -> Iterator[FakeXero]:
    fake = FakeXero(fake_clock)
    yield from _serve(fake)
    # Every request any test made must have matched Xero's OpenAPI document.
    assert fake.spec_violations == []


@pytest.fixture
def clearbooks() -> Iterator[FakeClearBooks]:
    yield from _serve(FakeClearBooks())


@pytest.fixture
def freshbooks() -> Iterator[FakeFreshBooks]:
    yield from _serve(FakeFreshBooks())


@pytest.fixture
def fakes(request: pytest.FixtureRequest) -> Callable[[str], Any]:
    """The fake service of a system, started on first use."""
    return lambda system: request.getfixturevalue(system)


def connection_to(fake: Any, name: str | None = None, **overrides: Any) -> Connection:
    settings = {**fake.connection_settings(), **overrides}
    name = name or settings["system"]
    return parse_connections({"connections": {name: settings}}, {})[name]


@pytest.fixture
def make_exporter(store_url: str, fake_clock: FakeClock) -> Callable[..., Exporter]:
    """An exporter on the test's store whose waits advance the fake clock (no real sleeping)."""

    def make(ledger: Any, connection: Connection, **kwargs: Any) -> Exporter:
        return build_exporter(
            ledger, store_url, connection, sleep=fake_clock.sleep, clock=fake_clock, **kwargs
        )

    return make


@dataclass
class Cycle:
    """What a month of billing left in the ledger."""

    numbers: list[str]  # issued invoice numbers, in order
    draft_id: Any
    credit_note: str
    voided: str
    paid: dict[str, D]  # invoice number -> amount allocated


def billing_cycle(ledger: Any) -> Cycle:
    """Two customers, a draft never issued, three invoices (one voided), a credit note, a
    completed payment spread over two invoices, and a pending payment that never completes."""
    ledger.register_customer(
        "t",
        account_number="ACME",
        name="Acme Telecom Ltd",
        currency="GBP",
        tax_rate=D("20"),
        tax_description="VAT 20%",
        payment_terms_days=14,
        email="billing@acme.example",
        billing_address="1 High Street, London",
    )
    ledger.register_customer(
        "t",
        account_number="GLOBEX",
        name="Globex Carriers",
        currency="GBP",
        tax_rate=D("20"),
        tax_description="VAT 20%",
        payment_terms_days=30,
        external_accounting_id="GLX-0042",
    )
    numbers = []
    for account, lines in (
        ("ACME", [("Calls to UK mobiles", "1200", "0.0150"), ("DID rental", "10", "1.50")]),
        ("GLOBEX", [("Calls to India", "5000", "0.0090")]),
        ("ACME", [("Setup fee", "1", "25.00")]),
    ):
        invoice_id = ledger.create_invoice(account, "t")
        for description, quantity, price in lines:
            ledger.add_line(
                invoice_id,
                "t",
                description=description,
                quantity=D(quantity),
                unit_price=D(price),
            )
        numbers.append(ledger.issue_invoice(invoice_id, "t"))
    draft_id = ledger.create_invoice("GLOBEX", "t")
    ledger.add_line(draft_id, "t", description="Not yet", quantity=D(1), unit_price=D(9))
    credit_note = ledger.issue_credit_note(numbers[0], "t", "wrong rate", amount=D("2.00"))
    payment = ledger.record_payment("ACME", "t", amount=D("30.00"), status="completed")
    ledger.allocate(payment, [(numbers[0], D("20.00"))], "t")
    globex_payment = ledger.record_payment("GLOBEX", "t", amount=D("54.00"))
    ledger.complete_payment(globex_payment, "t")
    ledger.allocate(globex_payment, [(numbers[1], D("54.00"))], "t")
    ledger.record_payment("GLOBEX", "t", amount=D("99.00"))  # pending: never exported
    ledger.void_invoice(numbers[2], "t", "issued by mistake")
    return Cycle(
        numbers=numbers,
        draft_id=draft_id,
        credit_note=credit_note,
        voided=numbers[2],
        paid={numbers[0]: D("20.00"), numbers[1]: D("54.00")},
    )
