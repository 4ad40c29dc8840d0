"""What every bench shares: interleaved rounds, medians, the machine's load, a database of its
own, and one summary line per goal that ``make bench`` gathers into one table.

A bench compares our figure with the yardstick its issue names, measured on the same data in the
same run. Rounds alternate (ours, yardstick, ours, ...) so a burst of load on a shared machine
hits both sides, and the median of at least three rounds is reported, never the best.

    from bench.harness import Goal, interleave, median, own_database, report

    with own_database("postgres", "import") as url:
        rounds = interleave(3, ours=lambda: import_rows(url), yardstick=lambda: copy_rows(url))
    report(Goal.at_least("CDR import (PostgreSQL)", ours=median(rounds["ours"]), ...))

When ``TOLLBOOK_BENCH_RESULTS`` names a file, each goal is also appended to it as one JSON line:
bench/all.py reads that file to print the table.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import psycopg

RESULTS_ENV = "TOLLBOOK_BENCH_RESULTS"
# The server that holds the benches' own databases; the shared ``test`` database is never used.
ADMIN_URL = os.environ.get("TOLLBOOK_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
MIN_ROUNDS = 3


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def shown(value: float) -> str:
    """A figure as a person reads it: 58,360 (not 5.836e+04), 0.1893, 12.5."""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def median(values: list[float]) -> float:
    if len(values) < MIN_ROUNDS:
        raise ValueError(f"a median needs at least {MIN_ROUNDS} rounds, got {len(values)}")
    return statistics.median(values)


def interleave(rounds: int, **sides: Callable[[], float]) -> dict[str, list[float]]:
    """Run each side once per round, in the order given, and return every side's figures."""
    if rounds < MIN_ROUNDS:
        raise ValueError(f"at least {MIN_ROUNDS} rounds, got {rounds}")
    figures: dict[str, list[float]] = {name: [] for name in sides}
    for n in range(rounds):
        for name, side in sides.items():
            figure = side()
            figures[name].append(figure)
            print(f"  round {n + 1}/{rounds} {name}: {shown(figure)}", file=sys.stderr, flush=True)
    return figures


@dataclass(frozen=True)
class Goal:
    """One row of the issue's table: our figure, the yardstick's, and whether the goal is met."""

    work: str
    figure: str
    yardstick: str
    ratio: str
    goal: str
    met: bool
    load: str
    note: str = ""

    @classmethod
    def at_least(
        cls,
        work: str,
        *,
        ours: float,
        yardstick: float,
        unit: str,
        yardstick_name: str,
        target: float,
        note: str = "",
    ) -> Goal:
        """A throughput goal: ours / yardstick must reach ``target``."""
        ratio = ours / yardstick if yardstick else 0.0
        return cls(
            work=work,
            figure=f"{shown(ours)} {unit}",
            yardstick=f"{yardstick_name} {shown(yardstick)} {unit}",
            ratio=f"{ratio:.2f}×",
            goal=f"≥ {target:g}×",
            met=ratio >= target,
            load=load_average(),
            note=note,
        )

    @classmethod
    def at_most(
        cls,
        work: str,
        *,
        ours: float,
        yardstick: float,
        unit: str,
        yardstick_name: str,
        target: float,
        note: str = "",
    ) -> Goal:
        """A cost goal (seconds, latency): ours / yardstick must stay within ``target``."""
        ratio = ours / yardstick if yardstick else float("inf")
        return cls(
            work=work,
            figure=f"{shown(ours)} {unit}",
            yardstick=f"{yardstick_name} {shown(yardstick)} {unit}",
            ratio=f"{ratio:.2f}×",
            goal=f"≤ {target:g}×",
            met=ratio <= target,
            load=load_average(),
            note=note,
        )

    @classmethod
    def absolute(
        cls,
        work: str,
        *,
        figure: float,
        unit: str,
        limit: float,
        note: str = "",
        below: bool = True,
    ) -> Goal:
        """A goal with no yardstick (memory, latency ceiling): the figure against a limit."""
        return cls(
            work=work,
            figure=f"{shown(figure)} {unit}",
            yardstick="—",
            ratio="—",
            goal=f"{'≤' if below else '≥'} {shown(limit)} {unit}",
            met=figure <= limit if below else figure >= limit,
            load=load_average(),
            note=note,
        )

    def line(self) -> str:
        verdict = "MET" if self.met else "NOT MET"
        return (
            f"goal | {self.work} | {self.figure} | yardstick {self.yardstick} | ratio {self.ratio}"
            f" | goal {self.goal} | {verdict} | load {self.load}"
            + (f" | {self.note}" if self.note else "")
        )


def report(*goals: Goal) -> None:
    """Print one summary line per goal, and hand them to bench/all.py when it is listening."""
    target = os.environ.get(RESULTS_ENV)
    for goal in goals:
        print(goal.line(), flush=True)
        if target:
            with Path(target).open("a", encoding="utf-8") as out:
                out.write(json.dumps(asdict(goal)) + "\n")


@contextmanager
def own_database(store: str, name: str) -> Iterator[str]:
    """A store URL no one else uses, removed afterwards: a new PostgreSQL database, or a SQLite
    file in a temporary folder."""
    if store == "sqlite":
        with tempfile.TemporaryDirectory(prefix=f"tollbook-bench-{name}-") as folder:
            yield f"sqlite:///{folder}/bench.sqlite"
        return
    if store != "postgres":
        raise ValueError(f"store must be sqlite or postgres, got {store!r}")
    database = f"bench_{name}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
    base = ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{database}"
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def header(title: str) -> None:
    print(f"== {title}  (cores {cores()}, load {load_average()})", flush=True)
