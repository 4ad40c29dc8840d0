"""CLI start: the wall time of ``tollbook --help``, ``tollbook settings show`` and ``tollbook
invoice show <number>``, each beside ``python -c "import click"`` (the yardstick: starting Python
and importing the CLI library, the least a click command can cost) in the same run.

    .venv/bin/python -m bench.cli_start            # 7 rounds, 300 invoices in the store
    .venv/bin/python -m bench.cli_start --quick    # 5 rounds, 1 invoice

Each figure is one fresh process, run through the installed console script (``.venv/bin/
tollbook``) as a user runs it; rounds alternate command and yardstick. ``settings show`` and
``invoice show`` run on a fresh SQLite store and on a fresh PostgreSQL database
(``own_database``), seeded beforehand (not timed) with one customer and its issued invoices,
the read models then caught up (``invoice show`` reads the invoice documents read model when it
is at the log's head, else the ledger).

The project's modules are compiled to bytecode first (not timed), as ``pip install`` does for
an installed package and as the yardstick's click already is: with PYTHONDONTWRITEBYTECODE set
and no ``__pycache__``, every start would compile tollbook's sources again.

Goal: each command within 2x the yardstick. Wall time on a shared machine is noisy: the CPU
time of the same processes (user + system) is given beside it as a note.
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from bench.harness import Goal, header, interleave, median, own_database, report

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("domain", "projections", "adapters", "scheduler")
TOLLBOOK = str(Path(sys.executable).with_name("tollbook"))
YARDSTICK = [sys.executable, "-c", "import click"]
YARDSTICK_NAME = 'python -c "import click"'


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class Process:
    """Runs one command line per call; returns its wall seconds and keeps its CPU seconds."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.argv = argv
        self.env = env
        self.cpu: list[float] = []

    def __call__(self) -> float:
        cpu = _children_cpu()
        began = time.perf_counter()
        done = subprocess.run(
            self.argv, env=self.env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        wall = time.perf_counter() - began
        self.cpu.append(_children_cpu() - cpu)
        if done.returncode:
            raise RuntimeError(f"{' '.join(self.argv)} failed: {done.stderr.decode()[-500:]}")
        return wall


def seed(url: str, invoices: int) -> str:
    """One customer with ``invoices`` issued invoices, the read models caught up (as ``tollbook
    serve`` keeps them, or any list command); returns the number of the middle one."""
    from adapters.config import build_ledger
    from adapters.queries import queries_for
    from tests.helpers import customer, issued_invoice  # the tests' builders, same ledger API

    ledger = build_ledger(url)
    try:
        customer(ledger, "BENCH01")
        numbers = [issued_invoice(ledger, "BENCH01", "10.00") for _ in range(invoices)]
        queries_for(ledger).runner.catch_up()
        return numbers[len(numbers) // 2]
    finally:
        ledger.close()


def measure(
    work: str, argv: list[str], env: dict[str, str], rounds: int, yardstick_env: dict[str, str]
) -> Goal:
    ours, yardstick = Process(argv, env), Process(YARDSTICK, yardstick_env)
    ours()  # one unmeasured run: the store's tables and the read models exist afterwards
    figures: dict[str, list[float]] = interleave(rounds, ours=ours, yardstick=yardstick)
    ratio_cpu = median(ours.cpu[1:]) / median(yardstick.cpu)
    return Goal.at_most(
        work,
        ours=median(figures["ours"]),
        yardstick=median(figures["yardstick"]),
        unit="s",
        yardstick_name=YARDSTICK_NAME,
        target=2,
        note=(
            f"CPU {median(ours.cpu[1:]):.3f} s vs {median(yardstick.cpu):.3f} s"
            f" ({ratio_cpu:.2f}×); median of {rounds} rounds"
        ),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 rounds, 1 invoice in the store")
    args = parser.parse_args()
    rounds, invoices = (5, 1) if args.quick else (7, 300)
    header(f"CLI start ({rounds} rounds; {invoices} issued invoices in each store)")
    for package in PACKAGES:  # as installed: bytecode written once, not at every start
        compileall.compile_dir(ROOT / package, quiet=1)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOLLBOOK_")}
    env["TOLLBOOK_LOG_LEVEL"] = "warning"
    goals: list[Goal] = [measure("tollbook --help", [TOLLBOOK, "--help"], env, rounds, env)]
    for store in ("sqlite", "postgres"):
        with own_database(store, "cli") as url:
            began = time.perf_counter()
            number = seed(url, invoices)
            print(f"  seeded {store}: {invoices} invoices in {time.perf_counter() - began:.1f} s")
            on_store = {**env, "TOLLBOOK_DATABASE_URL": url}
            commands: list[tuple[str, list[str]]] = [
                ("settings show", ["settings", "show"]),
                ("invoice show", ["invoice", "show", number]),
            ]
            for name, command in commands:
                goals.append(
                    measure(
                        f"tollbook {name} ({store})", [TOLLBOOK, *command], on_store, rounds, env
                    )
                )
    report(*goals)


if __name__ == "__main__":
    main()
