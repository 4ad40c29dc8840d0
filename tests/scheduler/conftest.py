"""Scheduler fixtures: customers with invoice schedules on the test's store, and job contexts
(each with its own ledger and connections, as separate service instances would have)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal as D

import pytest

from adapters.ledger.application import Ledger
from adapters.store.database import Database
from domain.schedule import InvoiceSchedule
from scheduler.context import JobContext
from tests.integration.usage_helpers import trunk


def scheduled_customer(
    ledger: Ledger, account: str, schedule: str, zone: str = "UTC", package_from: date | None = None
) -> str:
    customer_id = ledger.register_customer(
        "t",
        account_number=account,
        name=f"{account} Ltd",
        currency="GBP",
        tax_rate=D("20"),
        tax_description="VAT 20%",
        payment_terms_days=14,
        time_zone=zone,
        invoice_schedule=InvoiceSchedule.parse(schedule),
    )
    trunk(ledger, account, package_from or ledger.today())
    return str(customer_id)


@pytest.fixture
def make_context(make_ledger, store_url) -> Iterator[Callable[[], JobContext]]:
    built: list[JobContext] = []

    def make() -> JobContext:
        ctx = JobContext(make_ledger(), Database.from_url(store_url))
        built.append(ctx)
        return ctx

    yield make
    for ctx in built:
        ctx.stopping.set()


@pytest.fixture
def at(clock):
    """Move the ledger clock to a UTC moment: ``at(2026, 11, 3, 9)``."""

    def move(*parts: int) -> None:
        clock.set(datetime(*parts, tzinfo=UTC))  # type: ignore[misc]

    return move
