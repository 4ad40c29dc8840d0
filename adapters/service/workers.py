"""Background workers that ``tollbook serve`` runs beside the API (or alone, ``--role worker``).

A worker is a named factory: given the service context it returns a callable that runs until
``services.stopping`` is set. To add one (e.g. the scheduler), append to ``WORKERS`` or call
``register()``; serve starts each in its own thread and stops them all on shutdown.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from adapters.service.context import Services
from adapters.webhooks.worker import WebhookWorker

log = structlog.get_logger("tollbook.service")

Run = Callable[[], None]
WorkerFactory = Callable[[Services], Run]


def webhook_worker(services: Services) -> Run:
    worker = WebhookWorker(services.ledger, services.webhooks)
    return lambda: worker.run(services.stopping)


@dataclass(frozen=True)
class WorkerSpec:
    name: str
    factory: WorkerFactory


WORKERS: list[WorkerSpec] = [WorkerSpec("webhooks", webhook_worker)]


def register(name: str, factory: WorkerFactory) -> None:
    """Add a worker to every service started after this call."""
    if any(spec.name == name for spec in WORKERS):
        raise ValueError(f"a worker called {name!r} is already registered")
    WORKERS.append(WorkerSpec(name, factory))


def start_workers(services: Services, names: list[str] | None = None) -> list[threading.Thread]:
    """Start the registered workers (or only ``names``), each in a daemon thread."""
    threads = []
    for spec in WORKERS:
        if names is not None and spec.name not in names:
            continue
        run = spec.factory(services)
        thread = threading.Thread(target=_guarded(spec.name, run), name=spec.name, daemon=True)
        thread.start()
        threads.append(thread)
        log.info("worker started", worker=spec.name)
    return threads


def stop_workers(services: Services, threads: list[threading.Thread], timeout: float = 30) -> None:
    """Ask every worker to finish its current step, and wait for them."""
    services.stopping.set()
    for thread in threads:
        thread.join(timeout)
        if thread.is_alive():
            log.warning("worker did not stop in time", worker=thread.name)


def _guarded(name: str, run: Run) -> Run:
    def target() -> None:
        try:
            run()
        except Exception:
            log.exception("worker crashed", worker=name)

    return target
