"""PostgreSQL: an aggregate's events are read with the library's statement on a connection of
the library's pool, taken without its wrapper (``ChainedPostgresRecorder.select_events``).
Loads still see every committed save, whichever ledger made it, refuse stale writes through
the optimistic check as before, give the library's rows and errors, and leave no connection
inside a transaction."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal as D

import psycopg
import pytest
from eventsourcing import persistence
from eventsourcing.postgres import PostgresAggregateRecorder

from adapters.config import build_ledger
from adapters.ledger.application import Ledger
from domain.errors import OverAllocation
from tests.conftest import PG_ADMIN_URL
from tests.helpers import completed_payment, customer, issued_invoice


@pytest.fixture
def two_ledgers(pg_schema_url: str) -> Iterator[tuple[Ledger, Ledger]]:
    first = build_ledger(pg_schema_url)
    second = build_ledger(pg_schema_url)
    yield first, second
    first.close()
    second.close()


def test_a_load_sees_what_another_ledger_saved_since_its_last_load(
    two_ledgers: tuple[Ledger, Ledger],
) -> None:
    first, second = two_ledgers
    customer(first)
    invoice = issued_invoice(first)
    payment = completed_payment(first)
    assert second.payment(payment).allocated == D(0)  # the statement is prepared by now
    first.allocate(payment, [(invoice, D("30.00"))], "test")
    seen = second.payment(payment)
    assert seen.allocated == D("30.00")
    assert seen.version == first.payment(payment).version


def test_a_command_on_a_copy_loaded_before_another_save_never_overspends(
    two_ledgers: tuple[Ledger, Ledger],
) -> None:
    first, second = two_ledgers
    customer(first)
    invoice = issued_invoice(first, net="500.00")
    payment = completed_payment(first, amount="100.00")
    second.payment(payment)
    first.allocate(payment, [(invoice, D("80.00"))], "test")
    with pytest.raises(OverAllocation):
        second.allocate(payment, [(invoice, D("80.00"))], "test")
    assert first.payment(payment).allocated == D("80.00")
    assert second.payment(payment).allocated == D("80.00")


@pytest.mark.parametrize(
    "shape",
    [
        {},
        {"desc": True},
        {"gt": 1},
        {"lte": 1},
        {"gt": 1, "lte": 2},
        {"desc": True, "limit": 1},
        {"gt": 0, "lte": 5, "desc": True, "limit": 2},
        {"limit": 0},
    ],
)
def test_every_shape_of_a_read_gives_the_librarys_rows(
    two_ledgers: tuple[Ledger, Ledger], shape: dict[str, int | bool]
) -> None:
    first, _ = two_ledgers
    customer(first)
    payment = completed_payment(first)
    first.allocate(payment, [(issued_invoice(first), D("30.00"))], "test")  # a second event
    recorder = first.recorder
    library = PostgresAggregateRecorder.select_events(recorder, payment, **shape)  # type: ignore[arg-type]
    assert recorder.select_events(payment, **shape) == library  # type: ignore[arg-type]
    assert recorder.select_events(str(payment), **shape) == library  # type: ignore[arg-type]


def test_a_failing_read_raises_the_librarys_error_and_the_next_read_works(
    two_ledgers: tuple[Ledger, Ledger],
) -> None:
    first, _ = two_ledgers
    customer(first)
    payment = completed_payment(first)
    recorder = first.recorder
    with pytest.raises(persistence.DataError):  # PostgreSQL refuses a negative LIMIT
        recorder.select_events(payment, limit=-1)
    with pytest.raises(persistence.DataError):
        PostgresAggregateRecorder.select_events(recorder, payment, limit=-1)
    assert first.payment(payment).amount == D("100.00")


def test_loads_leave_no_connection_inside_a_transaction(
    two_ledgers: tuple[Ledger, Ledger], pg_schema_url: str
) -> None:
    first, second = two_ledgers
    customer(first)
    payment = completed_payment(first)
    with pytest.raises(persistence.DataError):
        second.recorder.select_events(payment, limit=-1)
    for _ in range(3):
        second.payment(payment)
        first.payment(payment)
    schema = pg_schema_url.rsplit("schema=", 1)[1]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        # the reads' backends, by their last statement (it names this test's schema)
        states = [
            row[0]
            for row in conn.execute(
                "SELECT state FROM pg_stat_activity WHERE datname = current_database()"
                " AND query LIKE %s AND pid <> pg_backend_pid()",
                (f'%"{schema}"."tollbook_events"%',),
            )
        ]
    assert states
    assert all(state == "idle" for state in states), states
