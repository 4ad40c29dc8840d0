"""The ledger simulation (tests/simulation/machine.py) in the default suite: a bounded run on
SQLite and on PostgreSQL. ``make simulate`` runs a long one (docs/simulation.md)."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from tests.simulation.machine import simulation_for

#: bounded for `make test` (about 10 s on SQLite, 15-40 s on PostgreSQL, whose every history
#: opens a schema of its own); `make simulate` raises them (SIM_EXAMPLES, SIM_STEPS)
STEPS = int(os.environ.get("SIM_STEPS", "30"))


def examples(store_url: str) -> int:
    default = "8" if store_url.startswith("sqlite") else "3"
    return int(os.environ.get("SIM_EXAMPLES", default))


def simulation_settings(examples: int, steps: int) -> settings:
    return settings(
        max_examples=examples,
        stateful_step_count=steps,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        # the example database would replay a failure of another store's run: keep each run
        # to its seed (`make simulate SEED=...` replays one)
        database=None,
        phases=[Phase.explicit, Phase.generate]
        + ([] if os.environ.get("SIM_NO_SHRINK") else [Phase.shrink, Phase.explain]),
        print_blob=True,
    )


def test_the_ledger_simulation_keeps_every_invariant(store_url: str, tmp_path: Path) -> None:
    machine = simulation_for(store_url, tmp_path)
    run_state_machine_as_test(machine, settings=simulation_settings(examples(store_url), STEPS))
