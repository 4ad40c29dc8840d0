"""Run every bench against its yardstick and print one table of the goals (``make bench``).

    .venv/bin/python -m bench.all            # the issue's sizes (long: see docs/performance.md)
    .venv/bin/python -m bench.all --quick    # smaller sizes, same yardsticks, a look in minutes
    .venv/bin/python -m bench.all --only pdf cli

Each bench runs in its own process (so one's memory or imports never colour another's) and
appends its goals to a results file; this script prints them as a table at the end, with the
load average each was measured under.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.harness import RESULTS_ENV, cores, load_average

ROOT = Path(__file__).resolve().parents[1]
# name -> module; every bench takes --quick for smaller sizes with the same yardsticks.
BENCHES: dict[str, str] = {
    "import": "bench.cdr_import",
    "billing": "bench.billing",
    "rebuild": "bench.projections",
    "reads": "bench.api_reads",
    "writes": "bench.api_writes",
    "pdf": "bench.pdf",
    "cli": "bench.cli_start",
    "scale": "bench.scale",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, same yardsticks")
    parser.add_argument("--only", nargs="*", choices=sorted(BENCHES), help="run only these")
    args = parser.parse_args()
    chosen = args.only or list(BENCHES)
    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="tollbook-bench-") as folder:
        results = Path(folder) / "results.jsonl"
        results.touch()
        env = {**os.environ, RESULTS_ENV: str(results)}
        for n, name in enumerate(chosen, 1):
            began = time.perf_counter()
            print(f"[{n}/{len(chosen)}] {name} (load {load_average()})", flush=True)
            command = [sys.executable, "-m", BENCHES[name], *(["--quick"] if args.quick else [])]
            if subprocess.run(command, cwd=ROOT, env=env, check=False).returncode:
                failed.append(name)
            print(
                f"[{n}/{len(chosen)}] {name} took {time.perf_counter() - began:,.0f} s", flush=True
            )
        goals = [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines()]
    table = Table(
        title=f"tollbook benchmarks ({'quick' if args.quick else 'full'}, {cores()} cores)"
    )
    for column in ("work", "ours", "yardstick", "ratio", "goal", "met", "load"):
        table.add_column(column, overflow="fold")
    for goal in goals:
        table.add_row(
            goal["work"],
            goal["figure"],
            goal["yardstick"],
            goal["ratio"],
            goal["goal"],
            "[green]met[/]" if goal["met"] else "[red]not met[/]",
            goal["load"],
        )
    Console(width=160).print(table)
    met = sum(goal["met"] for goal in goals)
    print(
        f"{met} of {len(goals)} goals met" + (f"; benches that failed: {failed}" if failed else "")
    )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
