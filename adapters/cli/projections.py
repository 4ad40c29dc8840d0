"""``tollbook projections ...``: status, catch-up, rebuild and follow the read models."""

from __future__ import annotations

import math
import threading
from typing import Any

import click
import structlog
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from adapters.cli.context import console, emit_json, json_option, passes_state, say, table
from adapters.cli.read_side import read_models, stopped_text, warn_stopped
from adapters.ledger.application import Ledger
from adapters.views import fault_doc
from projections.runner import REBUILD_BATCH_SIZE

log = structlog.get_logger("tollbook.projections")

#: a transaction bigger than this holds SQLite's write lock for too long to be of use
MAX_BATCH = 100_000


@click.group()
def projections() -> None:
    """Read models (balances, payment history, invoice register, aged receivables)."""


@projections.command("status")
@json_option
@passes_state
def status(ledger: Ledger, actor: str, as_json: bool) -> None:
    """Each read model's tracking position and how many events it is behind."""
    del actor
    runner = read_models(catch_up=None)
    head = runner.head()
    runner.store.ensure(runner.projections)
    stopped = runner.stopped()
    docs: list[dict[str, Any]] = [
        {
            "name": row.name,
            "state": "stopped" if row.name in stopped else "ok",
            "position": row.position,
            "head": head,
            "lag": lag,
            "generation": row.generation,
            "updated_at": row.updated_at,
            "stopped_at": fault_doc(stopped[row.name]) if row.name in stopped else None,
        }
        for row, lag in runner.status()
    ]
    if as_json:
        emit_json(docs)
        return
    table(
        "Read models",
        [
            "read model",
            "state",
            "position",
            "log head",
            "lag (events)",
            "rebuilds",
            "updated (UTC)",
        ],
        [
            [
                d["name"],
                d["state"],
                d["position"],
                head,
                d["lag"],
                d["generation"] - 1,
                d["updated_at"] or "",
            ]
            for d in docs
        ],
    )
    for fault in stopped.values():
        say(stopped_text(fault))


def _with_progress(title: str, work: object, quiet: bool = False) -> int:
    """Run ``work(progress_callback)`` with a progress bar on a terminal."""
    assert callable(work)
    if quiet or not console.is_terminal:
        result: int = work(None)
        return result
    with Progress(
        TextColumn(title),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bar:
        task = bar.add_task(title, total=None)

        def advance(position: int, head: int) -> None:
            bar.update(task, completed=position, total=head)

        result = work(advance)
        return result


@projections.command("rebuild")
@click.argument("names", nargs=-1)
@click.option(
    "--batch-size",
    default=REBUILD_BATCH_SIZE,
    type=click.IntRange(1, MAX_BATCH),
    show_default=True,
    help="Events per transaction (smaller: shorter write locks on SQLite, more work).",
)
@json_option
@passes_state
def rebuild(
    ledger: Ledger, actor: str, names: tuple[str, ...], batch_size: int, as_json: bool
) -> None:
    """Drop read models (all, or NAMES) and rebuild them from event zero.

    Works in short transactions, so the ledger keeps taking writes meanwhile; reading
    commands catch up before they read, so they never show a half-built model."""
    runner = read_models(catch_up=None, batch_size=batch_size)
    chosen = [p.name for p in runner.select(names)]
    head = runner.head()  # reached at least: a rebuild goes to the head it starts from
    applied = _with_progress(
        "rebuilding", lambda progress: runner.rebuild(chosen, progress), quiet=as_json
    )
    log.info("read models rebuilt", read_models=chosen, events=applied, actor=actor)
    if as_json:
        emit_json({"read_models": chosen, "events": applied, "head": head})
    else:
        say(f"rebuilt {', '.join(chosen)} from {applied} events (log head {head})")
    warn_stopped(runner, chosen)


@projections.command("catch-up")
@click.argument("names", nargs=-1)
@click.option(
    "--batch-size",
    default=5000,
    type=click.IntRange(1, MAX_BATCH),
    show_default=True,
    help="Events per transaction.",
)
@json_option
@passes_state
def catch_up(
    ledger: Ledger, actor: str, names: tuple[str, ...], batch_size: int, as_json: bool
) -> None:
    """Apply every event the read models have not seen yet, then stop."""
    del actor
    runner = read_models(catch_up=None, batch_size=batch_size)
    chosen = [p.name for p in runner.select(names)]
    # reached at least: a catch-up goes to the head it starts from (later events are the next
    # one's), so the head read after it could name events it never saw
    head = runner.head()
    applied = _with_progress(
        "catching up", lambda progress: runner.catch_up(chosen, progress), quiet=as_json
    )
    if as_json:
        emit_json({"read_models": chosen, "events": applied, "head": head})
    else:
        say(f"applied {applied} events; read models at log head {head}")
    warn_stopped(runner, chosen)


def _finite(seconds: float) -> float:
    if math.isnan(seconds):  # a range check lets NaN through: every comparison is false
        raise click.BadParameter("not a number of seconds")
    return seconds


@projections.command("follow")
@click.option(
    "--interval",
    default=0.2,
    type=click.FloatRange(0.05, 3600),
    callback=lambda ctx, param, value: _finite(value),
    show_default=True,
    help="Seconds between polls.",
)
@click.option("--json", "as_json", is_flag=True, help="Announce where it starts as JSON.")
@passes_state
def follow(ledger: Ledger, actor: str, interval: float, as_json: bool) -> None:
    """Keep the read models current as new events arrive (until interrupted)."""
    del actor
    runner = read_models(catch_up=None)
    stop = threading.Event()
    if as_json:
        emit_json({"following_from": runner.head(), "interval": interval})
    else:
        say(f"following the log from position {runner.head()}; Ctrl-C to stop")
    try:
        runner.follow(stop, interval)
    except KeyboardInterrupt:
        stop.set()
