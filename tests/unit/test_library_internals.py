"""The eventsourcing internals the store overrides and calls are the ones declared in
adapters/store/library_internals.py; a library that changes one is named, loudly."""

from __future__ import annotations

import pytest
from eventsourcing.postgres import PostgresAggregateRecorder, PostgresApplicationRecorder

from adapters.store.library_internals import INTERNALS, LibraryChanged, check, problems


def test_the_installed_library_has_every_internal_as_declared():
    found = problems()
    assert found == [], "\n".join(found)
    check(sources=True)


def test_the_declarations_cover_what_the_store_overrides():
    declared = {internal.qualified for internal in INTERNALS}
    for name in ("_insert_stored_events", "_lock_table", "_notify_channel", "insert_events"):
        assert f"PostgresApplicationRecorder.{name}" in declared
    assert "SQLiteApplicationRecorder._insert_events" in declared


def test_a_changed_signature_is_named_with_what_relies_on_it(monkeypatch):
    monkeypatch.setattr(
        PostgresApplicationRecorder, "_lock_table", lambda self, curs, timeout=5: None
    )
    with pytest.raises(LibraryChanged) as raised:
        check()  # what the store runs on import: signatures only
    message = str(raised.value)
    assert "eventsourcing 9.5" in message
    assert "PostgresApplicationRecorder._lock_table now takes (curs, timeout=5), not (curs)" in (
        message
    )
    assert "chain.ChainedPostgresRecorder._insert_stored_events calls it" in message


def test_a_removed_method_is_named(monkeypatch):
    monkeypatch.delattr(PostgresApplicationRecorder, "_notify_channel")
    [found] = problems()
    assert "PostgresApplicationRecorder._notify_channel is gone" in found


def test_an_edited_body_with_the_same_signature_is_named(monkeypatch):
    def _insert_stored_events(self, curs, stored_events, **_):  # a new release's body
        curs.execute("SELECT 1")

    monkeypatch.setattr(PostgresAggregateRecorder, "_insert_stored_events", _insert_stored_events)
    assert problems(sources=False) == []  # the import-time check cannot see it
    [found] = problems()
    assert "PostgresAggregateRecorder._insert_stored_events has changed" in found
    assert "read its new code and carry the change into: chain.ChainedPostgresRecorder" in found
