"""What the backup tests share: the CLI as a user runs it, fresh empty targets on the test's
kind of store, a billing cycle to back up, and ways to damage a piece as an attacker would."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import psycopg
import pytest

from adapters.backup.manifest import read_manifest
from adapters.backup.write import take_backup
from adapters.clock import SteppingClock
from adapters.config import build_ledger
from adapters.ledger.application import Ledger
from adapters.store.database import Database
from adapters.store.migrations.runner import migrate
from tests.conftest import PG_ADMIN_URL
from tests.helpers import Result, cli_result
from tests.integration.billing import customer, issued_invoice, paid
from tests.integration.usage_helpers import cdr, write_cdrs

Run = Callable[..., Result]


@pytest.fixture
def tollbook_at(capsys: pytest.CaptureFixture[str]) -> Run:
    """``tollbook --db URL ARGS...`` in-process, exit code and output as a user sees them."""

    def run(url: str, *args: str) -> Result:
        return cli_result(capsys, ["--db", url, "--actor", "ops:test", *args])

    return run


@pytest.fixture
def fresh_url(store_url: str, tmp_path: Path) -> Iterator[Callable[[], str]]:
    """New empty databases of the test's kind (a SQLite file, a PostgreSQL schema)."""
    schemas: list[str] = []

    def make() -> str:
        if store_url.startswith("sqlite"):
            return f"sqlite:///{tmp_path}/restored-{uuid.uuid4().hex[:8]}.sqlite"
        schema = f"t_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        schemas.append(schema)
        return f"{PG_ADMIN_URL}{'&' if '?' in PG_ADMIN_URL else '?'}schema={schema}"

    yield make
    if schemas:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            for schema in schemas:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def first_cycle(ledger: Ledger, url: str, run: Run, tmp_path: Path) -> None:
    """Customers, a package, invoices issued, a payment allocated, a credit note, CDRs."""
    customer(ledger, "ACME")
    customer(ledger, "BETA", currency="EUR")
    ledger.define_package("t", name="SIP Trunk", unit_price=D("120.00"), currency="GBP")
    invoice = ledger.create_invoice("ACME", "t")
    ledger.add_package_line(invoice, "SIP Trunk", "t")
    ledger.add_line(invoice, "t", description="Calls", quantity=D("5321.5"), unit_price=D("0.0123"))
    acme = ledger.issue_invoice(invoice, "t")
    beta = issued_invoice(ledger, "BETA", "250.00")
    ledger.allocate(paid(ledger, "ACME", "100.00"), [(acme, D("60.00"))], "t")
    ledger.issue_credit_note(beta, "t", "goodwill", amount=D("10.00"))
    cdrs = write_cdrs(tmp_path / "cdrs-1.csv", [cdr("c1"), cdr("c2", charge="0.5000")])
    assert run(url, "usage", "import", str(cdrs)).code == 0


def second_cycle(ledger: Ledger, url: str, run: Run, tmp_path: Path) -> None:
    """More of the same after the full backup: an invoice paid in full, more CDRs."""
    number = issued_invoice(ledger, "ACME", "80.00", period_start=date(2026, 11, 1))
    ledger.allocate(paid(ledger, "ACME", "96.00"), [(number, D("96.00"))], "t")
    cdrs = write_cdrs(tmp_path / "cdrs-2.csv", [cdr("c3", start="2026-11-02T08:00:00Z")])
    assert run(url, "usage", "import", str(cdrs)).code == 0


def third_cycle(ledger: Ledger) -> None:
    customer(ledger, "GAMMA")
    issued_invoice(ledger, "GAMMA", "12.34")


def backup(
    run: Run, url: str, folder: Path, since: Path | None = None, progress: list[str] | None = None
) -> dict[str, Any]:
    """``tollbook backup``'s manifest; ``progress`` collects its progress lines (else quiet)."""
    args = ["backup", "-o", str(folder), "--json", *([] if progress is not None else ["--quiet"])]
    result = run(url, *args, *(["--since", str(since / "manifest.json")] if since else []))
    assert result.code == 0, result.err
    if progress is not None:
        progress += result.err.splitlines()
    document: dict[str, Any] = result.json()
    return document


def rewrite_manifest(folder: Path, change: Callable[[dict[str, Any]], None]) -> None:
    """Edit a piece's manifest as an attacker would, then fix every file's checksum so only
    the chain can tell."""
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    for entry in manifest["files"]:
        data = (folder / entry["name"]).read_bytes()
        entry["sha256"], entry["bytes"] = hashlib.sha256(data).hexdigest(), len(data)
        entry["lines"] = data.count(b"\n")
    path.write_text(json.dumps(manifest))


def alter_event(folder: Path, index: int) -> int:
    """Change one byte of the stored state of the ``index``-th event of a piece; its position."""
    path = folder / "events.jsonl"
    lines = path.read_text().splitlines()
    event = json.loads(lines[index])

    state = bytearray(base64.b64decode(event["state"]))
    state[len(state) // 2] ^= 0x01  # one bit of one byte
    event["state"] = base64.b64encode(bytes(state)).decode()
    lines[index] = json.dumps(event, separators=(",", ":"))
    path.write_text("\n".join(lines) + "\n")
    return int(event["position"])


def event_rows(url: str) -> int:
    from adapters.store.database import Database

    db = Database.from_url(url)
    table = "stored_events" if db.dialect == "sqlite" else "tollbook_events"
    try:
        with db.connect(write=False) as conn:
            return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
    except Exception:  # no table at all: nothing was written
        return 0


def small_ledger_pieces(folder: Path, account: str) -> None:
    """A small ledger on SQLite in ``folder``, and its pieces full, inc-1, inc-2."""
    url = f"sqlite:///{folder}/source.sqlite"
    ledger = build_ledger(url, clock=SteppingClock(datetime(2026, 10, 1, tzinfo=UTC)))
    db = Database.from_url(url)
    migrate(db)
    try:
        customer(ledger, account)
        issued_invoice(ledger, account, "100.00")
        take_backup(db, "stored_events", folder / "full")
        paid(ledger, account, "10.00")
        take_backup(db, "stored_events", folder / "inc-1", read_manifest(folder / "full"))
        issued_invoice(ledger, account, "20.00")
        take_backup(db, "stored_events", folder / "inc-2", read_manifest(folder / "inc-1"))
    finally:
        ledger.close()
