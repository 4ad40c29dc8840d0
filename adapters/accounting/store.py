"""The exporter's own tables, beside the event store (same SQLite file / PostgreSQL schema).

- ``export_positions``: each connection's tracking position in the event log.
- ``export_done``: every ledger event a connection has replayed (the exactly-once record).
- ``export_mappings``: local id <-> remote id, per connection and kind (contact, invoice, ...).
- ``export_dead_letters``: items the remote refused for good (``dead``), and later items of the
  same customer held back behind them (``parked``), until ``tollbook export retry``.
- ``export_resolutions``: dead letters a person settled (resolved by hand, or skipped), with the
  reason; the decision itself is also a ledger event (``ExportResolution.Recorded``).
- ``export_reconciliation``: differences between the ledger's and the remote's totals, and
  ledger facts that need a person's hand in the accounting system.

A successful export writes its done-row, mappings, reconciliation lines and the new position
in ONE transaction: a crash before it commits leaves the event to be re-sent with the same key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from adapters.store.database import Database
from adapters.store.migrations.runner import migrate


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class DeadLetter:
    id: int
    connection: str
    position: int
    event_key: str
    kind: str
    customer_id: str
    label: str
    status: str  # dead | parked | resolved (re-sent, or by hand) | skipped
    error: str
    attempts: int
    created_at: str


@dataclass(frozen=True)
class ReconciliationLine:
    connection: str
    event_key: str
    kind: str
    label: str
    currency: str
    ledger_total: str
    remote_total: str
    difference: str
    note: str


@dataclass(frozen=True)
class Settlement:
    """A dead letter a person settled: resolved by hand in the remote system, or skipped."""

    connection: str
    event_key: str
    letter_id: int
    kind: str
    label: str
    action: str  # resolved | skipped
    reason: str
    actor: str
    remote_id: str
    resolution_id: str
    settled_at: str = ""


@dataclass(frozen=True)
class Success:
    """Everything one successful export records, in one transaction."""

    connection: str
    system: str
    position: int | None  # None: a dead-letter retry, which never moves the position
    event_key: str
    kind: str
    local_id: str
    remote_id: str
    label: str
    reconciliation: ReconciliationLine | None = None


class ExportStore:
    def __init__(self, database: Database) -> None:
        self.db = database
        self._ready = False

    def ensure_tables(self) -> None:
        if self._ready:
            return
        migrate(self.db)
        self._ready = True

    def _rows(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self.ensure_tables()
        with self.db.connect() as conn:
            return list(conn.execute(self.db.sql(statement), tuple(params)).fetchall())

    # --------------------------------------------------------------- positions

    def position(self, connection: str) -> int:
        rows = self._rows(
            "SELECT position FROM export_positions WHERE connection = ?", [connection]
        )
        return int(rows[0][0]) if rows else 0

    def positions(self) -> dict[str, tuple[str, int, str]]:
        rows = self._rows("SELECT connection, system, position, updated_at FROM export_positions")
        return {row[0]: (row[1], int(row[2]), row[3]) for row in rows}

    def _set_position(self, conn: Any, connection: str, system: str, position: int) -> None:
        conn.execute(
            self.db.sql(
                "INSERT INTO export_positions (connection, system, position, updated_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (connection) DO UPDATE SET"
                " position = excluded.position, updated_at = excluded.updated_at"
                " WHERE export_positions.position < excluded.position"
            ),
            (connection, system, position, _now()),
        )

    def advance(self, connection: str, system: str, position: int) -> None:
        """Move past an event that needs no export."""
        self.ensure_tables()
        with self.db.connect() as conn:
            self._set_position(conn, connection, system, position)

    # ---------------------------------------------------------- done & mapping

    def is_done(self, connection: str, event_key: str) -> bool:
        return bool(
            self._rows(
                "SELECT 1 FROM export_done WHERE connection = ? AND event_key = ?",
                [connection, event_key],
            )
        )

    def done_keys(self, connection: str) -> set[str]:
        """Every event key already exported on this connection (read once per run)."""
        rows = self._rows("SELECT event_key FROM export_done WHERE connection = ?", [connection])
        return {row[0] for row in rows}

    def remote_ids(self, connection: str) -> dict[tuple[str, str], str]:
        """(kind, local id) -> remote id, for the whole connection (read once per run)."""
        rows = self._rows(
            "SELECT kind, local_id, remote_id FROM export_mappings WHERE connection = ?",
            [connection],
        )
        return {(row[0], row[1]): row[2] for row in rows}

    def remote_id(self, connection: str, kind: str, local_id: str) -> str | None:
        rows = self._rows(
            "SELECT remote_id FROM export_mappings WHERE connection = ? AND kind = ?"
            " AND local_id = ?",
            [connection, kind, local_id],
        )
        return str(rows[0][0]) if rows else None

    def mappings(self, connection: str) -> list[tuple[str, str, str, str]]:
        rows = self._rows(
            "SELECT kind, local_id, remote_id, label FROM export_mappings WHERE connection = ?"
            " ORDER BY kind, label",
            [connection],
        )
        return [(r[0], r[1], r[2], r[3]) for r in rows]

    def record(self, success: Success) -> None:
        """Record one successful export atomically (and resolve its dead letter, if any)."""
        self.ensure_tables()
        now = _now()
        with self.db.connect() as conn:
            conn.execute(
                self.db.sql(
                    "INSERT INTO export_done (connection, event_key, position, kind, local_id,"
                    " remote_id, exported_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
                ),
                (
                    success.connection,
                    success.event_key,
                    success.position or 0,
                    success.kind,
                    success.local_id,
                    success.remote_id,
                    now,
                ),
            )
            if success.kind in ("contact", "invoice", "credit_note"):
                conn.execute(
                    self.db.sql(
                        "INSERT INTO export_mappings (connection, kind, local_id, remote_id, label)"
                        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (connection, kind, local_id)"
                        " DO UPDATE SET remote_id = excluded.remote_id, label = excluded.label"
                    ),
                    (
                        success.connection,
                        success.kind,
                        success.local_id,
                        success.remote_id,
                        success.label,
                    ),
                )
            if success.reconciliation is not None:
                self._note(conn, success.reconciliation, now)
            conn.execute(
                self.db.sql(
                    "UPDATE export_dead_letters SET status = 'resolved', updated_at = ?"
                    " WHERE connection = ? AND event_key = ?"
                ),
                (now, success.connection, success.event_key),
            )
            if success.position is not None:
                self._set_position(conn, success.connection, success.system, success.position)

    def _note(self, conn: Any, line: ReconciliationLine, now: str) -> None:
        conn.execute(
            self.db.sql(
                "INSERT INTO export_reconciliation (connection, event_key, kind, label, currency,"
                " ledger_total, remote_total, difference, note, noted_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (connection, event_key)"
                " DO NOTHING"
            ),
            (
                line.connection,
                line.event_key,
                line.kind,
                line.label,
                line.currency,
                line.ledger_total,
                line.remote_total,
                line.difference,
                line.note,
                now,
            ),
        )

    def reconciliation(self, connection: str | None = None) -> list[ReconciliationLine]:
        where, params = ("WHERE connection = ?", [connection]) if connection else ("", [])
        rows = self._rows(
            "SELECT connection, event_key, kind, label, currency, ledger_total, remote_total,"
            f" difference, note FROM export_reconciliation {where} ORDER BY noted_at, label",
            params,
        )
        return [ReconciliationLine(*row) for row in rows]

    # ------------------------------------------------------------ dead letters

    def dead_letter(
        self,
        connection: str,
        system: str,
        *,
        position: int | None,
        event_key: str,
        kind: str,
        customer_id: str,
        label: str,
        status: str,
        error: str,
    ) -> None:
        """Park or kill an item, and (for a live run) move the position past it, atomically."""
        self.ensure_tables()
        now = _now()
        with self.db.connect() as conn:
            conn.execute(
                self.db.sql(
                    "INSERT INTO export_dead_letters (connection, position, event_key, kind,"
                    " customer_id, label, status, error, attempts, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)"
                    " ON CONFLICT (connection, event_key) DO UPDATE SET status = excluded.status,"
                    " error = excluded.error, updated_at = excluded.updated_at,"
                    " attempts = export_dead_letters.attempts + 1"
                ),
                (
                    connection,
                    position or 0,
                    event_key,
                    kind,
                    customer_id,
                    label,
                    status,
                    error,
                    now,
                    now,
                ),
            )
            if position is not None:
                self._set_position(conn, connection, system, position)

    def dead_letters(
        self, connection: str | None = None, statuses: Sequence[str] = ("dead", "parked")
    ) -> list[DeadLetter]:
        marks = ", ".join("?" for _ in statuses)
        params: list[Any] = list(statuses)
        where = f"status IN ({marks})"
        if connection:
            where += " AND connection = ?"
            params.append(connection)
        rows = self._rows(
            "SELECT id, connection, position, event_key, kind, customer_id, label, status, error,"
            f" attempts, created_at FROM export_dead_letters WHERE {where} ORDER BY position, id",
            params,
        )
        return [
            DeadLetter(
                int(r[0]), r[1], int(r[2]), r[3], r[4], r[5], r[6], r[7], r[8], int(r[9]), r[10]
            )
            for r in rows
        ]

    def dead_letter_counts(self) -> dict[tuple[str, str], int]:
        """Open dead letters by (connection, status): ``dead`` or ``parked``."""
        rows = self._rows(
            "SELECT connection, status, COUNT(*) FROM export_dead_letters"
            " WHERE status IN ('dead', 'parked') GROUP BY connection, status"
        )
        return {(str(r[0]), str(r[1])): int(r[2]) for r in rows}

    def dead_letter_by_id(self, letter_id: int) -> DeadLetter | None:
        rows = self._rows(
            "SELECT id, connection, position, event_key, kind, customer_id, label, status, error,"
            " attempts, created_at FROM export_dead_letters WHERE id = ?",
            [letter_id],
        )
        if not rows:
            return None
        r = rows[0]
        return DeadLetter(
            int(r[0]), r[1], int(r[2]), r[3], r[4], r[5], r[6], r[7], r[8], int(r[9]), r[10]
        )

    def settle(self, letter: DeadLetter, settlement: Settlement) -> None:
        """Close a dead letter by a person's decision, atomically: never exported again (a
        ``--since`` re-run skips it), its remote id recorded if a person gave one."""
        self.ensure_tables()
        now = _now()
        with self.db.connect() as conn:
            conn.execute(
                self.db.sql(
                    "INSERT INTO export_done (connection, event_key, position, kind, local_id,"
                    " remote_id, exported_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (connection, event_key) DO NOTHING"
                ),
                (
                    letter.connection,
                    letter.event_key,
                    letter.position,
                    letter.kind,
                    letter.event_key.rsplit(":", 1)[0],
                    settlement.remote_id,
                    now,
                ),
            )
            if settlement.remote_id and letter.kind in ("contact", "invoice", "credit_note"):
                conn.execute(
                    self.db.sql(
                        "INSERT INTO export_mappings (connection, kind, local_id, remote_id, label)"
                        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (connection, kind, local_id)"
                        " DO UPDATE SET remote_id = excluded.remote_id, label = excluded.label"
                    ),
                    (
                        letter.connection,
                        letter.kind,
                        letter.event_key.rsplit(":", 1)[0],
                        settlement.remote_id,
                        letter.label,
                    ),
                )
            conn.execute(
                self.db.sql(
                    "INSERT INTO export_resolutions (connection, event_key, letter_id, kind, label,"
                    " action, reason, actor, remote_id, resolution_id, settled_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (connection, event_key) DO NOTHING"
                ),
                (
                    settlement.connection,
                    settlement.event_key,
                    settlement.letter_id,
                    settlement.kind,
                    settlement.label,
                    settlement.action,
                    settlement.reason,
                    settlement.actor,
                    settlement.remote_id,
                    settlement.resolution_id,
                    now,
                ),
            )
            conn.execute(
                self.db.sql(
                    "UPDATE export_dead_letters SET status = ?, updated_at = ? WHERE id = ?"
                ),
                (settlement.action, now, letter.id),
            )

    def settlements(self, connection: str | None = None) -> list[Settlement]:
        where, params = ("WHERE connection = ?", [connection]) if connection else ("", [])
        rows = self._rows(
            "SELECT connection, event_key, letter_id, kind, label, action, reason, actor,"
            f" remote_id, resolution_id, settled_at FROM export_resolutions {where}"
            " ORDER BY settled_at, letter_id",
            params,
        )
        return [
            Settlement(r[0], r[1], int(r[2]), r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10])
            for r in rows
        ]

    def blocked_customers(self, connection: str) -> set[str]:
        return {
            row[0]
            for row in self._rows(
                "SELECT DISTINCT customer_id FROM export_dead_letters WHERE connection = ?"
                " AND status IN ('dead', 'parked')",
                [connection],
            )
        }


def money_text(amount: Decimal) -> str:
    return format(amount, "f")
