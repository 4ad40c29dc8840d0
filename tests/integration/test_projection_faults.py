"""Read models stop at an event the database refuses to store, found among many events by
narrowing the batch down; the other read models go on; a read model resumes by itself once
the event can be applied."""

from __future__ import annotations

import sqlite3
from typing import Any

from adapters.store.database import Database
from adapters.store.read_models import SqlViewStore
from projections.runner import Runner
from tests.integration.billing import customer, issued_invoice

MARK = "REFUSED"


class Refusing(SqlViewStore):
    """A store whose database refuses rows holding ``MARK`` (as PostgreSQL refuses NUL in
    text), while ``refusing`` is set; it counts the batches it was asked to commit."""

    refusing = True
    commits = 0

    def _commit(self, names: list[str], expected: Any, changes: Any, reached: int) -> None:
        self.commits += 1
        if self.refusing and any(
            MARK in str(value) for rows in changes for row in rows.values for value in row
        ):
            raise sqlite3.DataError(f"cannot store {MARK}")
        super()._commit(names, expected, changes, reached)


def test_a_refused_row_is_narrowed_down_to_its_event(ledger: Any, store_url: str) -> None:
    for n in range(30):
        customer(ledger, f"C{n:02d}")
        issued_invoice(ledger, f"C{n:02d}", "10.00")
    customer(ledger, f"{MARK}-1")
    ledger.create_invoice(f"{MARK}-1", "t")  # its draft carries the account number
    poisoned = ledger.recorder.max_notification_id()
    for n in range(30, 40):
        customer(ledger, f"C{n:02d}")
        issued_invoice(ledger, f"C{n:02d}", "10.00")
    head = ledger.recorder.max_notification_id()

    store = Refusing(Database.from_url(store_url), ledger.recorder.events_table_name)
    runner = Runner(ledger, store, batch_size=500)
    runner.catch_up()

    # the read models that keep the account number stop just before the customer's event
    tracking = store.tracking([p.name for p in runner.projections])
    stopped = runner.stopped()
    keeping = {
        *("balances", "invoice_register", "aged_receivables", "directory", "statement"),
        "invoice_documents",  # the invoice's document names its customer's account
    }
    assert set(stopped) == keeping, stopped
    # the customers' directory keeps it from the customer's own registration, just before
    assert stopped["directory"].event_type == "Customer.Registered"
    assert stopped["directory"].event_id < poisoned
    for name in keeping - {"directory"}:
        # before the event: at the last event it follows (events between concern it not)
        assert poisoned - 4 <= tracking[name].position == stopped[name].position < poisoned
        assert stopped[name].event_id == poisoned
        assert stopped[name].event_type == "Invoice.Drafted"
        assert stopped[name].error == f"DataError: cannot store {MARK}"
    assert tracking["payment_history"].position == head
    # narrowed by halving, not one event at a time (which takes a few hundred commits); down
    # to one event, the read models go one at a time, so the commits grow with their number
    assert store.commits < 10 * len(runner.projections)

    # the database takes it now (a newer version, say): the read model goes on by itself
    store.refusing = False
    runner._retry.clear()  # its back-off has passed
    runner.catch_up()
    assert runner.stopped() == {}
    tracking = store.tracking(list(keeping))
    assert all(tracking[name].position == head for name in keeping)
