"""What ``GET /health`` reports: the service answers, and whether every read model follows.

A read model stopped at an event it cannot apply (projections/runner.py ``Fault``) makes the
service ``degraded``: it still answers every request (liveness stays 200), and the stopped
read model shows the ledger up to its position. docs/operations.md says what to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog

from adapters.app.context import Services
from adapters.store.read_models import SqlViewStore
from adapters.views import fault_doc
from projections.runner import Fault, Runner, describe_error

log = structlog.get_logger("tollbook.service")


@dataclass(frozen=True)
class ReadModelState:
    head: int  # the log's last position
    positions: dict[str, int]  # read model -> the position it has applied up to
    stopped: dict[str, Fault]  # read model -> the event it is stopped at

    def lag(self, name: str) -> int:
        """Positions the read model is behind the log's head (ids, so a gap left by a
        rolled-back PostgreSQL transaction counts too: an upper bound of events)."""
        return max(0, self.head - self.positions[name])


class ReadModelHealth:
    """The read models' state for ``/health``: read-only queries, after creating the tables
    once per process (not a write transaction per health check)."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._runner: Runner | None = None

    def runner(self) -> Runner:
        if self._runner is None:
            events_table = getattr(self.services.ledger.recorder, "events_table_name", "")
            runner = Runner(self.services.ledger, SqlViewStore(self.services.db, events_table))
            runner.store.ensure(runner.projections)
            self._runner = runner
        return self._runner

    def state(self) -> ReadModelState:
        """The log's head, each read model's position and the stopped ones (raises when the
        database cannot be read)."""
        runner = self.runner()
        stopped = runner.stopped()
        tracking = runner.store.tracking([p.name for p in runner.projections])
        positions = {p.name: tracking[p.name].position for p in runner.projections}
        return ReadModelState(runner.head(), positions, stopped)

    def report(self) -> dict[str, Any]:
        try:
            state = self.state()
        except Exception as error:  # the health check answers even when the database does not
            log.warning("health: read models unavailable", exc_info=True)
            return {"status": "degraded", "read_models": None, "error": describe_error(error)}
        stopped, head = state.stopped, state.head
        models = []
        for name, position in state.positions.items():
            fault = stopped.get(name)
            doc: dict[str, Any] = {
                "name": name,
                "state": "stopped" if fault else "ok",
                "position": position,
            }
            if fault is not None:
                doc["stopped_at"] = fault_doc(fault)
            models.append(doc)
        return {
            "status": "degraded" if stopped else "ok",
            "log_head": head,
            "read_models": models,
        }
