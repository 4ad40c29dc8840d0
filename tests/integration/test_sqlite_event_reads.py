"""SQLite: an aggregate's events are read with one statement on a kept connection
(``ChainedSQLiteRecorder.select_events``). Loads still see every committed save, whichever
process or ledger made it, never hold a read snapshot between calls, and refuse stale writes
through the optimistic check as before."""

from __future__ import annotations

import sqlite3
from decimal import Decimal as D
from pathlib import Path

import pytest

from adapters.config import build_ledger
from adapters.ledger.application import Ledger
from domain.errors import OverAllocation
from tests.helpers import completed_payment, customer, issued_invoice


@pytest.fixture
def two_ledgers(tmp_path: Path) -> tuple[Ledger, Ledger, Path]:
    path = tmp_path / "shared.sqlite"
    first = build_ledger(f"sqlite:///{path}")
    second = build_ledger(f"sqlite:///{path}")
    yield first, second, path
    first.close()
    second.close()


def test_a_load_sees_what_another_ledger_saved_since_its_last_load(
    two_ledgers: tuple[Ledger, Ledger, Path],
) -> None:
    first, second, _ = two_ledgers
    customer(first)
    invoice = issued_invoice(first)
    payment = completed_payment(first)
    assert second.payment(payment).allocated == D(0)  # the kept connection has read once
    first.allocate(payment, [(invoice, D("30.00"))], "test")
    seen = second.payment(payment)
    assert seen.allocated == D("30.00")
    assert seen.version == first.payment(payment).version


def test_a_command_on_a_copy_loaded_before_another_save_never_overspends(
    two_ledgers: tuple[Ledger, Ledger, Path],
) -> None:
    first, second, _ = two_ledgers
    customer(first)
    invoice = issued_invoice(first, net="500.00")
    payment = completed_payment(first, amount="100.00")
    second.payment(payment)
    first.allocate(payment, [(invoice, D("80.00"))], "test")
    with pytest.raises(OverAllocation):
        second.allocate(payment, [(invoice, D("80.00"))], "test")
    assert first.payment(payment).allocated == D("80.00")


def test_loads_leave_no_read_snapshot_open(two_ledgers: tuple[Ledger, Ledger, Path]) -> None:
    first, second, path = two_ledgers
    customer(first)
    payment = completed_payment(first)
    for _ in range(3):
        second.payment(payment)
        first.payment(payment)
    # a reader inside a transaction would keep the WAL from being checkpointed to its end
    with sqlite3.connect(path) as conn:
        busy, _log, _moved = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    assert busy == 0
