"""A month's PDFs rendered by this process beside worker processes (SQLite and PostgreSQL):
the same files whoever renders them, workers without a ledger, and workers that start late,
never or die on the way.

The workers' initializers are in tests/integration/pdf_workers.py.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable
from pathlib import Path
from uuid import UUID

import pytest

from adapters.ledger.application import Ledger
from adapters.pdf.batch import Batch, Failed, Written, invoice_ids_for, render_all
from domain.errors import UnreadableRecord
from domain.invoice import Invoice
from tests.helpers import customer, issued_invoice
from tests.integration.pdf_workers import (
    LEDGER_MODULES,
    RENDERED,
    STARTED,
    dying_worker,
    failing_worker,
    recording_worker,
    slow_worker,
)


@pytest.fixture
def october(ledger: Ledger) -> list[UUID]:
    """Six issued invoices dated in October (the test clock's month), in the batch's order."""
    customer(ledger, "ZRH01", "CHF", "8.1")
    for n in range(6):
        issued_invoice(ledger, "ZRH01", f"{100 + n}.00")
    return invoice_ids_for(ledger, "2026-10")


@pytest.fixture
def signals(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    started, rendered = tmp_path / "worker-started", tmp_path / "worker-rendered"
    monkeypatch.setenv(STARTED, str(started))
    monkeypatch.setenv(RENDERED, str(rendered))
    rendered.write_text("")
    return started, rendered


def files(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())}


def wait_for(path: Path) -> None:
    for _ in range(1200):  # the worker's start-up, on a loaded machine
        if path.exists():
            return
        time.sleep(0.05)
    raise AssertionError(f"the worker never started ({path} not written)")


def one_process(ledger: Ledger, ids: list[UUID], directory: Path) -> Batch:
    return render_all(ledger, ids, directory, jobs=1)


def beside_a_worker(
    ledger: Ledger,
    ids: list[UUID],
    directory: Path,
    start_worker: Callable[[], None],
    done: Callable[[Written | Failed], None] = lambda result: None,
) -> Batch:
    """The batch on 2 jobs: this process and one worker started by ``start_worker``."""
    return render_all(ledger, ids, directory, jobs=2, start_worker=start_worker, done=done)


def test_files_rendered_here_and_by_a_worker_are_those_of_one_process(
    ledger: Ledger, october: list[UUID], signals: tuple[Path, Path], tmp_path: Path
) -> None:
    started, rendered = signals

    def once_the_worker_started(result: Written | Failed) -> None:
        wait_for(started)  # this process renders slower than the worker starts
        time.sleep(0.2)

    alone = one_process(ledger, october, tmp_path / "one")
    together = beside_a_worker(
        ledger, october, tmp_path / "two", recording_worker, once_the_worker_started
    )

    assert together.failed == [] and len(together.written) == 6
    by_worker = set(rendered.read_text().splitlines())
    assert by_worker and by_worker < {w.label for w in together.written}  # both rendered some
    assert files(tmp_path / "two") == files(tmp_path / "one")  # SHA256SUMS included
    assert [w.sha256 for w in together.written] == [w.sha256 for w in alone.written]


def test_a_worker_imports_no_ledger_and_renders_what_it_is_handed(
    ledger: Ledger, october: list[UUID], signals: tuple[Path, Path], tmp_path: Path
) -> None:
    started, rendered = signals
    beside_a_worker(
        ledger, october, tmp_path / "two", recording_worker, lambda _: wait_for(started)
    )

    imported = set(started.read_text().splitlines())
    assert "adapters.pdf.render" in imported
    assert not imported & set(LEDGER_MODULES)
    assert "structlog" not in imported  # imported once something logs: nothing failed yet
    assert rendered.read_text()  # and it rendered


def test_a_worker_that_cannot_start_leaves_the_batch_to_this_process(
    ledger: Ledger, october: list[UUID], tmp_path: Path
) -> None:
    one_process(ledger, october, tmp_path / "one")

    batch = beside_a_worker(ledger, october, tmp_path / "two", failing_worker)

    assert batch.failed == [] and len(batch.written) == 6
    assert files(tmp_path / "two") == files(tmp_path / "one")


def test_a_batch_done_before_its_worker_started_does_not_wait_for_it(
    ledger: Ledger, october: list[UUID], signals: tuple[Path, Path], tmp_path: Path
) -> None:
    started, _ = signals
    one_process(ledger, october, tmp_path / "one")

    batch = beside_a_worker(ledger, october, tmp_path / "two", slow_worker)

    assert batch.failed == [] and len(batch.written) == 6
    assert files(tmp_path / "two") == files(tmp_path / "one")
    assert not started.exists()  # stopped while starting, not waited for
    assert multiprocessing.active_children() == []


def test_a_worker_that_dies_fails_what_it_held_and_this_process_renders_the_rest(
    ledger: Ledger, october: list[UUID], signals: tuple[Path, Path], tmp_path: Path
) -> None:
    started, _ = signals
    alone = one_process(ledger, october, tmp_path / "one")

    batch = beside_a_worker(
        ledger, october, tmp_path / "two", dying_worker, lambda _: wait_for(started)
    )

    assert batch.failed, "the worker held invoices when it died"
    assert all("terminated abruptly" in failure.error for failure in batch.failed)
    lost = {failure.invoice_id for failure in batch.failed}
    assert len(lost) <= 2 and len(batch.written) == 6 - len(lost)
    kept = {w.path.name: w.sha256 for w in alone.written}
    assert all(kept[w.path.name] == w.sha256 for w in batch.written)
    sums = (tmp_path / "two" / "SHA256SUMS").read_text().splitlines()
    assert sorted(sums) == sorted(f"{w.sha256}  {w.path.name}" for w in batch.written)


def test_an_invoice_that_cannot_be_read_fails_and_the_worker_renders_others(
    ledger: Ledger,
    october: list[UUID],
    signals: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started, rendered = signals
    unreadable = october[-1]  # read once the worker has started (this process reads for both)
    read = ledger.invoice

    def invoice(ref: str | UUID) -> Invoice:
        if ref == unreadable:
            raise UnreadableRecord("invoice INV-X: its stored events cannot be read")
        return read(ref)

    monkeypatch.setattr(ledger, "invoice", invoice)

    batch = beside_a_worker(
        ledger, october, tmp_path / "two", recording_worker, lambda _: wait_for(started)
    )

    assert batch.failed == [Failed(unreadable, "invoice INV-X: its stored events cannot be read")]
    assert len(batch.written) == 5 and rendered.read_text()  # the worker rendered some
    sums = (tmp_path / "two" / "SHA256SUMS").read_text().splitlines()
    assert sorted(sums) == sorted(f"{w.sha256}  {w.path.name}" for w in batch.written)
