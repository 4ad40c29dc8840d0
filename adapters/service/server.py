"""``tollbook serve``: the API and the background workers, in one process or split by role.

- ``--role all`` (default): API + workers in one process; fine on the embedded SQLite file.
- ``--role api`` / ``--role worker``: the same code as separate processes, for PostgreSQL,
  where several API processes and workers share one database (workers take per-subscription
  leases, so running two is safe).
"""

from __future__ import annotations

import signal
import threading
from typing import Literal

import structlog
import uvicorn

from adapters.app.context import Services
from adapters.service.app import create_app
from adapters.service.workers import start_workers, stop_workers

Role = Literal["all", "api", "worker"]
log = structlog.get_logger("tollbook.service")


def serve(services: Services, host: str, port: int, role: Role = "all") -> None:
    threads = start_workers(services) if role in ("all", "worker") else []
    try:
        if role == "worker":
            _wait_for_signal(services)
        else:
            config = uvicorn.Config(
                create_app(services),
                host=host,
                port=port,
                log_level="warning",
                log_config=None,  # uvicorn logs through ours (structlog, JSON lines)
                access_log=False,
                timeout_graceful_shutdown=10,
            )
            log.info("serving", host=host, port=port, role=role)
            _Server(config, services).run()  # returns after SIGINT/SIGTERM, requests drained
    finally:
        stop_workers(services, threads)
        log.info("stopped", role=role)


class _Server(uvicorn.Server):
    """Tells long-polls, event streams and workers to finish as soon as shutdown begins, so
    the graceful drain is not held up by open streams."""

    def __init__(self, config: uvicorn.Config, services: Services) -> None:
        super().__init__(config)
        self.services = services

    def handle_exit(self, sig: int, frame: object) -> None:
        self.services.stopping.set()
        super().handle_exit(sig, frame)  # type: ignore[arg-type]
        # uvicorn would re-raise the signal after draining, killing the process before the
        # workers are stopped; we finish the shutdown ourselves and exit normally instead
        self._captured_signals.clear()


def _wait_for_signal(services: Services) -> None:
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        del signum, frame
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    while not stop.wait(0.5) and not services.stopping.is_set():
        pass
