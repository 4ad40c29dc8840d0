"""A rebuild of every read model with the invoice documents in a child process: the same rows
as one process builds, and what goes wrong in the child is reported, naming its read model."""

from __future__ import annotations

import functools
import sqlite3
from typing import Any

import pytest

from adapters.cli.rebuild_child import child_factory
from adapters.config import build_ledger
from adapters.store.database import Database
from adapters.store.read_models import SqlViewStore
from projections.runner import Runner
from projections.split_rebuild import ChildRebuildFailed
from tests.integration.billing import customer, issued_invoice, paid, runner_for

MARK = "REFUSED"


def _rows(runner: Runner) -> dict[str, list[str]]:
    store: Any = runner.store
    return {
        table.name: sorted(repr(sorted(row.items())) for row in store.select(table))
        for projection in runner.projections
        for table in projection.tables
    }


def _log(ledger: Any) -> None:
    for n in range(6):
        customer(ledger, f"C{n}")
        issued_invoice(ledger, f"C{n}", f"{10 + n}.00")
        issued_invoice(ledger, f"C{n}", "7.50")
        paid(ledger, f"C{n}", "4.00")


def test_a_rebuild_split_over_two_processes_builds_the_same_rows(ledger, store_url):
    _log(ledger)
    table = ledger.recorder.events_table_name
    single = runner_for(ledger, store_url, batch_size=7)
    applied = single.rebuild()
    alone = _rows(single)

    split = runner_for(ledger, store_url, batch_size=7)
    split.child = child_factory(store_url, store_url, table)
    assert split.rebuild() == applied

    assert _rows(split) == alone
    assert alone["rm_invoice_document"]  # the child's read model was rebuilt, not left empty
    tracking = split.store.tracking([p.name for p in split.projections])
    assert {row.position for row in tracking.values()} == {split.head()}
    assert split.stopped() == {}


class _Refusing(SqlViewStore):
    """Refuses rows holding MARK, as PostgreSQL refuses NUL in text."""

    def _commit(self, names: list[str], expected: Any, changes: Any, reached: int) -> None:
        if any(MARK in str(value) for rows in changes for row in rows.values for value in row):
            raise sqlite3.DataError(f"cannot store {MARK}")
        super()._commit(names, expected, changes, reached)


def _refusing_runner(url: str) -> Runner:
    ledger = build_ledger(url)
    store = _Refusing(Database.from_url(url), ledger.recorder.events_table_name)
    return Runner(ledger, store)


def _failing_runner(url: str) -> Runner:
    raise RuntimeError("no database for you")


def test_a_read_model_stopped_in_the_child_is_reported_and_the_others_are_rebuilt(
    ledger, store_url
):
    _log(ledger)
    customer(ledger, f"{MARK}-1")
    ledger.create_invoice(f"{MARK}-1", "t")  # its document names the account
    runner = runner_for(ledger, store_url)
    runner.child = functools.partial(_refusing_runner, store_url)

    runner.rebuild()

    # the parent's read models took the event; the child's stopped before it, as in one process
    assert set(runner.faults) == {"invoice_documents"}
    fault = runner.faults["invoice_documents"]
    assert fault.event_type == "Invoice.Drafted"
    assert fault.error == f"DataError: cannot store {MARK}"
    assert set(runner.stopped()) == {"invoice_documents"}
    tracking = runner.store.tracking(["balances", "invoice_documents"])
    assert tracking["balances"].position == runner.head()
    assert tracking["invoice_documents"].position == fault.position < fault.event_id


def test_a_child_that_fails_is_an_error_naming_its_read_model(ledger, store_url):
    _log(ledger)
    runner = runner_for(ledger, store_url)
    runner.child = functools.partial(_failing_runner, store_url)

    with pytest.raises(ChildRebuildFailed, match=r"read model invoice_documents .*no database"):
        runner.rebuild()

    # the parent's group was rebuilt all the same
    tracking = runner.store.tracking(["balances", "directory"])
    assert {row.position for row in tracking.values()} == {runner.head()}


def test_a_rebuild_of_one_group_stays_in_one_process(ledger, store_url):
    _log(ledger)
    runner = runner_for(ledger, store_url)
    runner.child = functools.partial(_failing_runner, store_url)  # would fail if started

    assert runner.rebuild(["invoice_documents"]) > 0
    assert runner.rebuild(["balances", "directory"]) > 0
