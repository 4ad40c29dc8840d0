"""On both stores, the library's recorder and events table are what tollbook's store code reads
(adapters/store/library_internals.py): the recorder's attributes, the table's columns, the
position column, SQLite's ids as hex."""

from __future__ import annotations

from adapters.store.database import Database
from adapters.store.library_internals import attribute_problems, table_problems
from tests.helpers import customer


def test_the_recorder_and_the_events_table_are_as_declared(make_ledger, store_url):
    ledger = make_ledger()
    customer(ledger)  # a stored event, so the id format is checked too
    assert attribute_problems(ledger.recorder) == []
    table = ledger.recorder.events_table_name
    db = Database.from_url(store_url)
    assert table_problems(db, table) == []


def test_a_table_without_a_column_the_store_reads_is_named(store_url):
    db = Database.from_url(store_url)
    with db.connect() as conn:
        conn.execute("CREATE TABLE not_events (originator_id TEXT, topic TEXT, state BYTEA)")
    found = table_problems(db, "not_events")
    assert any("has no column originator_version" in problem for problem in found)
    assert all("read by adapters/store/lookup.py" in problem for problem in found)
