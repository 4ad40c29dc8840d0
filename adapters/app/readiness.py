"""What ``GET /ready`` answers: may a load balancer send this process traffic?

Ready when all of these hold, each reported with its reason:

- ``store``: the database answers (the log's head is read);
- ``migrations``: every schema step this code knows has been applied, and none it does not
  know (a database upgraded by newer code than this);
- ``read_models``: no read model is stopped at an event it cannot apply, and each is at most
  ``max_lag`` positions behind the log (``TOLLBOOK_READY_MAX_LAG``, default 1000).

``/health`` stays 200 while the process answers (liveness); ``/ready`` turns 503 so traffic
goes elsewhere until the reason is gone. Every check is a few index look-ups.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from adapters.app.context import Services
from adapters.app.health import ReadModelHealth, ReadModelState
from adapters.config_error import ConfigError
from adapters.store.migrations.runner import applied, migrations
from adapters.views import fault_doc
from projections.runner import describe_error

log = structlog.get_logger("tollbook.service")

MAX_LAG_ENV = "TOLLBOOK_READY_MAX_LAG"
DEFAULT_MAX_LAG = 1000
#: the largest lag setting taken (a billion positions: beyond it the check means nothing)
MAX_LAG_LIMIT = 1_000_000_000


def max_lag_from_env(environ: Mapping[str, str] | None = None) -> int:
    """``TOLLBOOK_READY_MAX_LAG``: a whole number 0 to 1,000,000,000 (default 1000)."""
    env = os.environ if environ is None else environ
    text = env.get(MAX_LAG_ENV, "").strip()
    if not text:
        return DEFAULT_MAX_LAG
    if not (text.isascii() and text.isdigit()) or int(text) > MAX_LAG_LIMIT:
        raise ConfigError(
            f"{MAX_LAG_ENV}={text[:40]!r}: give a whole number of positions, 0 to {MAX_LAG_LIMIT}"
        )
    return int(text)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    reason: str
    detail: dict[str, Any]

    def doc(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "reason": self.reason, **self.detail}


class Readiness:
    def __init__(self, services: Services, read_models: ReadModelHealth, max_lag: int) -> None:
        self.services = services
        self.read_models = read_models
        self.max_lag = max_lag

    def report(self) -> dict[str, Any]:
        """``{"status": "ready" | "unready", "checks": [...]}``; ready when every check is."""
        try:
            state = self.read_models.state()
        except Exception as error:  # the database is away: the other checks cannot run
            log.warning("readiness: the store cannot be read", exc_info=True)
            reason = f"the store cannot be read: {describe_error(error)}"
            checks = [Check("store", False, reason, {})]
        else:
            checks = [
                Check("store", True, "the store answers", {"log_head": state.head}),
                self._migrations(),
                self._read_models(state),
            ]
        ready = all(check.ok for check in checks)
        return {"status": "ready" if ready else "unready", "checks": [c.doc() for c in checks]}

    def _migrations(self) -> Check:
        try:
            done = {a.version for a in applied(self.services.db)}
        except Exception as error:
            return Check("migrations", False, describe_error(error), {})
        known = {m.version for m in migrations()}
        pending, unknown = sorted(known - done), sorted(done - known)
        detail = {"pending": pending, "unknown": unknown}
        if pending:
            return Check(
                "migrations", False, f"{len(pending)} step(s) pending: run tollbook migrate", detail
            )
        if unknown:
            return Check(
                "migrations",
                False,
                "the database has steps this version does not know (newer code migrated it)",
                detail,
            )
        return Check("migrations", True, "up to date", detail)

    def _read_models(self, state: ReadModelState) -> Check:
        models = []
        reasons = []
        for name, position in state.positions.items():
            fault = state.stopped.get(name)
            lag = state.lag(name)
            doc: dict[str, Any] = {"name": name, "position": position, "lag": lag}
            if fault is not None:
                doc["stopped_at"] = fault_doc(fault)
                reasons.append(f"{name} is stopped at event {fault.event_id}")
            elif lag > self.max_lag:
                reasons.append(f"{name} is {lag} positions behind (at most {self.max_lag})")
            models.append(doc)
        reason = "; ".join(reasons) or f"every read model within {self.max_lag} positions"
        return Check(
            "read_models", not reasons, reason, {"max_lag": self.max_lag, "read_models": models}
        )
