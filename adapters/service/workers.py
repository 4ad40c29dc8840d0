"""Background workers that ``tollbook serve`` runs beside the API (or alone, ``--role worker``).

A worker is a named factory: given the service context it returns a callable that runs until
``services.stopping`` is set. Three are registered: ``projections`` (follows the event log into
the read models), ``scheduler`` (invoice schedules, accounting exports, webhook delivery and
e-mail send retries, see scheduler/) and ``relay`` (every event to NATS JetStream,
adapters/relay/; only with ``--role relay``). To add one, append to ``WORKERS`` or call
``register()``; serve starts each in its own thread and stops them all on shutdown.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from adapters.app.context import Services

log = structlog.get_logger("tollbook.service")

Run = Callable[[], None]
WorkerFactory = Callable[[Services], Run]


def projections_worker(services: Services) -> Run:
    from adapters.store.read_models import SqlViewStore
    from projections.runner import Runner

    events_table = getattr(services.ledger.recorder, "events_table_name", "")
    runner = Runner(services.ledger, SqlViewStore(services.db, events_table))
    return lambda: runner.follow(services.stopping, interval=0.5)


def scheduler_worker(services: Services) -> Run:
    import os

    from adapters.accounting.config import load_connections
    from adapters.mail.config import SmtpConfig
    from scheduler import service
    from scheduler.context import JobContext, SchedulerSettings

    # no TOLLBOOK_SMTP_HOST: nothing is ever sent, so nothing to retry; a host with a wrong
    # setting beside it stops the service here rather than failing every minute
    mail = SmtpConfig.from_env(os.environ) if os.environ.get("TOLLBOOK_SMTP_HOST") else None
    ctx = JobContext(
        services.ledger,
        services.db,
        settings=SchedulerSettings.from_env(),
        connections=load_connections(),
        stopping=services.stopping,
        mail=mail,
    )
    return lambda: service.run(ctx)


def relay_worker(services: Services) -> Run:
    """Publishes every event to NATS JetStream (``serve --role relay``). NATS away is no
    reason to stop: it logs and tries again until shutdown; the stream says where to resume."""
    import asyncio
    import os

    from adapters.relay.config import settings_from_env
    from adapters.relay.errors import RelayError
    from adapters.relay.publisher import Relay

    relay = Relay(services.ledger, settings_from_env(os.environ, services.tenant))

    def run() -> None:
        while not services.stopping.is_set():
            try:
                asyncio.run(relay.run(stopping=services.stopping))
            except RelayError as error:
                log.error("relay stopped; retrying", error=str(error))
                services.stopping.wait(RELAY_RETRY_SECONDS)

    return run


#: seconds the relay worker waits before reconnecting after NATS was away too long
RELAY_RETRY_SECONDS = 5.0


@dataclass(frozen=True)
class WorkerSpec:
    name: str
    factory: WorkerFactory
    by_default: bool = True  # started by ``--role all`` / ``worker``; else only when named


WORKERS: list[WorkerSpec] = [
    WorkerSpec("projections", projections_worker),
    WorkerSpec("scheduler", scheduler_worker),
    # its own role: a deployment without NATS runs every other worker unchanged
    WorkerSpec("relay", relay_worker, by_default=False),
]


def register(name: str, factory: WorkerFactory) -> None:
    """Add a worker to every service started after this call."""
    if any(spec.name == name for spec in WORKERS):
        raise ValueError(f"a worker called {name!r} is already registered")
    WORKERS.append(WorkerSpec(name, factory))


def start_workers(services: Services, names: list[str] | None = None) -> list[threading.Thread]:
    """Start the registered workers (or only ``names``), each in a daemon thread."""
    factories = [s for s in WORKERS if (s.by_default if names is None else s.name in names)]
    # build every worker first: a configuration error stops the service before anything runs
    runs = [(spec.name, spec.factory(services)) for spec in factories]
    threads = []
    for name, run in runs:
        thread = threading.Thread(target=_guarded(name, run), name=name, daemon=True)
        thread.start()
        threads.append(thread)
        log.info("worker started", worker=name)
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
