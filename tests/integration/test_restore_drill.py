"""The restore drill, on SQLite and PostgreSQL: a billing cycle, a full backup, more activity,
two increments, a restore into a fresh database that proves itself — same chain head, same
balances, same PDFs byte for byte — and pieces tampered with or left out, refused by name
(one test: the pieces take most of its time to make)."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from adapters.backup.pieces import read_pieces, verify_chain
from adapters.backup.write import take_backup
from adapters.config import build_ledger
from adapters.ledger.application import Ledger
from adapters.ledger.folds import LogFolds
from adapters.pdf.config import PdfConfig
from adapters.pdf.render import render
from adapters.pdf.sources import credit_note_source, invoice_source
from adapters.store.database import Database
from adapters.store.migrations.runner import migrate, migrations
from tests import backup_support
from tests.backup_support import (
    Run,
    alter_event,
    backup,
    event_rows,
    first_cycle,
    rewrite_manifest,
    second_cycle,
    small_ledger_pieces,
    third_cycle,
)
from tests.integration.billing import customer as customer_of
from tests.integration.billing import execute, issued_invoice

tollbook_at = backup_support.tollbook_at
fresh_url = backup_support.fresh_url


def pdfs(ledger: Ledger) -> dict[str, bytes]:
    """Every issued document's PDF, by number."""
    config = PdfConfig.from_env()
    documents = {}
    folds = LogFolds(ledger)
    for invoice in folds.invoices():
        if invoice.number:
            documents[invoice.number] = render(invoice_source(ledger, invoice.id), config).pdf
    for note in folds.credit_notes():
        documents[note.number] = render(credit_note_source(ledger, note.id), config).pdf
    return documents


def refused(run: Run, target: str, *pieces: Path) -> dict[str, Any]:
    """Restore pieces that must be refused; the failed step (nothing written to ``target``)."""
    result = run(target, "restore", *(str(p) for p in pieces), "--json")
    assert result.code == 1
    assert "[restore_failed]" in result.err
    assert event_rows(target) == 0  # refused before anything was written
    verdict: dict[str, Any] = result.json()
    assert verdict["verdict"] == "FAILED"
    return next(s for s in verdict["steps"] if s["status"] == "failed")


def damaged_pieces_are_refused(run: Run, fresh_url: Callable[[], str], tmp_path: Path) -> None:
    """A missing increment, and an increment with one event byte altered (its checksums
    left alone, or fixed up to match): each refused, naming the piece (and the position)."""
    missing = refused(run, fresh_url(), tmp_path / "full", tmp_path / "inc-2")
    assert missing["name"] == "chain"
    assert f"piece 2 ({tmp_path / 'inc-2'}) does not continue piece 1" in missing["detail"]

    altered_piece = tmp_path / "inc-1-altered"
    shutil.copytree(tmp_path / "inc-1", altered_piece)
    position = alter_event(altered_piece, 1)
    pieces = (tmp_path / "full", altered_piece, tmp_path / "inc-2")
    altered = refused(run, fresh_url(), *pieces)
    assert altered["name"] == "checksums"
    assert f"piece 2 ({altered_piece}): events.jsonl has" in altered["detail"]

    rewrite_manifest(altered_piece, lambda manifest: None)  # checksums fixed up to match
    rechained = refused(run, fresh_url(), *pieces)
    assert rechained["name"] == "chain"
    assert f"piece 2 ({altered_piece}): position {position}" in rechained["detail"]
    assert "it was altered" in rechained["detail"]


def read_side(run: Run, url: str) -> dict[str, Any]:
    """What finance reads: balances, ageing, the invoice register, the chain head."""
    return {
        "balances": run(url, "balance", "--json").json(),
        "aged": run(url, "aged", "--as-of", "2026-12-31", "--json").json(),
        "invoices": run(url, "invoice", "list", "--json").json(),
        "head": run(url, "audit", "verify", "--json").json(),
    }


def test_the_restore_drill_proves_the_copy_and_refuses_damaged_pieces(
    ledger: Ledger,
    store_url: str,
    tollbook_at: Run,
    fresh_url: Callable[[], str],
    tmp_path: Path,
    clock: Any,
) -> None:
    first_cycle(ledger, store_url, tollbook_at, tmp_path)
    full = backup(tollbook_at, store_url, tmp_path / "full")
    second_cycle(ledger, store_url, tollbook_at, tmp_path)
    one = backup(tollbook_at, store_url, tmp_path / "inc-1", since=tmp_path / "full")
    third_cycle(ledger)
    two = backup(tollbook_at, store_url, tmp_path / "inc-2", since=tmp_path / "inc-1")

    assert (tmp_path / "full").stat().st_mode & 0o777 == 0o700  # secrets inside: owner only
    assert one["base"]["position"] == full["last_position"] < one["last_position"]
    assert one["base"]["chain_head"] == full["chain_head"]
    assert one["event_counts"]["Payment.Allocated"] == 1  # only what came after the base
    assert two["base"]["chain_head"] == one["chain_head"]

    target = fresh_url()
    pieces = [str(tmp_path / name) for name in ("full", "inc-1", "inc-2")]
    result = tollbook_at(target, "restore", *pieces, "--json", "--quiet")

    verdict = result.json()
    assert result.code == 0, verdict
    assert verdict["verdict"] == "OK"
    assert [s["status"] for s in verdict["steps"]] == ["ok"] * 9
    assert verdict["chain_head"] == two["chain_head"]
    original, restored = read_side(tollbook_at, store_url), read_side(tollbook_at, target)
    assert restored == original
    assert restored["head"]["head_hash"] == two["chain_head"]
    assert {b["customer_account"] for b in restored["balances"]} == {"ACME", "BETA", "GAMMA"}
    copy = build_ledger(target, clock=clock)
    try:
        documents = pdfs(ledger)
        assert len(documents) == 5  # four invoices and a credit note
        assert pdfs(copy) == documents
        # the restored ledger goes on where the original stopped, and so do its backups
        third = issued_invoice(copy, "GAMMA", "1.00")
        assert third.endswith("000005")  # numbering carries on without a gap
    finally:
        copy.close()
    progress: list[str] = []
    three = backup(
        tollbook_at, target, tmp_path / "inc-3", since=tmp_path / "inc-2", progress=progress
    )
    assert three["base"]["position"] == two["last_position"]
    assert f"events copied: {three['events']}" in progress  # progress on stderr, not stdout
    assert "3 CDRs" in next(s["detail"] for s in verdict["steps"] if s["name"] == "usage")

    damaged_pieces_are_refused(tollbook_at, fresh_url, tmp_path)


def test_pieces_made_on_sqlite_restore_into_either_store(
    tollbook_at: Run, fresh_url: Callable[[], str], tmp_path: Path
) -> None:
    small_ledger_pieces(tmp_path, "ACME")
    target = fresh_url()
    pieces = [str(tmp_path / name) for name in ("full", "inc-1", "inc-2")]
    result = tollbook_at(target, "restore", *pieces)
    assert result.code == 0, result.out
    assert "restore OK: position" in result.out
    assert "events loaded: " in result.err  # progress on stderr, the verdict on stdout
    assert "events loaded" not in result.out
    source = f"sqlite:///{tmp_path}/source.sqlite"
    balances = tollbook_at(target, "balance", "--json").json()
    assert balances == tollbook_at(source, "balance", "--json").json()
    assert balances[0]["outstanding"] == "144.00"  # 120.00 + 24.00, the payment unallocated


def test_usage_re_rated_after_the_full_backup_is_refused_before_anything_is_written(
    ledger: Ledger,
    store_url: str,
    tollbook_at: Run,
    fresh_url: Callable[[], str],
    tmp_path: Path,
) -> None:
    first_cycle(ledger, store_url, tollbook_at, tmp_path)
    backup(tollbook_at, store_url, tmp_path / "full")
    execute(store_url, "UPDATE usage_cdrs SET charge_micros = charge_micros + 1")  # a re-rate
    backup(tollbook_at, store_url, tmp_path / "inc-1", since=tmp_path / "full")
    target = fresh_url()
    result = tollbook_at(target, "restore", str(tmp_path / "full"), str(tmp_path / "inc-1"))
    assert result.code == 1
    assert "[restore_failed]" in result.err
    assert "re-rated or purged after the full backup" in result.out
    assert event_rows(target) == 0


def test_a_backup_taken_while_the_ledger_takes_writes_is_consistent(
    make_ledger: Callable[[], Ledger], store_url: str, tmp_path: Path
) -> None:
    writer = make_ledger()
    migrate(Database.from_url(store_url))
    customer_of(writer, "BUSY")
    stop = threading.Event()
    written: list[str] = []

    def write() -> None:
        while not stop.is_set() and len(written) < 150:
            written.append(issued_invoice(writer, "BUSY", "1.00"))

    thread = threading.Thread(target=write)
    thread.start()
    try:
        while len(written) < 3:  # the backup starts with writers busy
            time.sleep(0.01)
        events_table = writer.recorder.events_table_name  # type: ignore[attr-defined]
        piece = take_backup(Database.from_url(store_url), events_table, tmp_path / "full")
    finally:
        stop.set()
        thread.join()
    # the piece proves itself link by link to its head (the drill above restores such pieces)
    proof = verify_chain(read_pieces([tmp_path / "full"], len(migrations())), lambda *_: None)
    assert proof.endswith(f"chain head {piece.chain_head}")
    issued = piece.event_counts["Invoice.Issued"]
    # whole saves only: each issue is one atomic save with its number and sequence
    assert piece.event_counts["DocumentNumber.Given"] == issued
    assert piece.event_counts["NumberSequence.NumberTaken"] == issued
    assert 3 <= issued <= len(written)
