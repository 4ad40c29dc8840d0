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
    from adapters.usage.location import usage_database
    from scheduler import service
    from scheduler.context import JobContext, SchedulerSettings

    settings = SchedulerSettings.from_env()
    # with the JetStream source, webhooks and exports are the consumers' (their own workers)
    settings.event_source = services.event_source
    # no TOLLBOOK_SMTP_HOST: nothing is ever sent, so nothing to retry; a host with a wrong
    # setting beside it stops the service here rather than failing every minute
    mail = SmtpConfig.from_env(os.environ) if os.environ.get("TOLLBOOK_SMTP_HOST") else None
    ctx = JobContext(
        services.ledger,
        services.db,
        settings=settings,
        connections=load_connections(),
        stopping=services.stopping,
        mail=mail,
        usage_db=usage_database(services.db, tenant=services.tenant),
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


def webhooks_worker(services: Services) -> Run:
    """Webhook delivery alone (``serve --role webhooks``), reading events from the source
    ``TOLLBOOK_EVENT_SOURCE`` names: the ledger's log, or a durable JetStream consumer per
    subscription. Several of these processes share the work by subscription leases."""
    import os

    from adapters.relay.config import consumer_settings_from_env
    from adapters.relay.consumer import StreamReader
    from adapters.webhooks.worker import WebhookWorker

    reader = None
    if services.event_source == "jetstream":
        reader = StreamReader(consumer_settings_from_env(os.environ, services.tenant))
    services.webhooks.ensure_schema()
    worker = WebhookWorker(services.ledger, services.webhooks, stream=reader)

    def run() -> None:
        try:
            worker.run(services.stopping)
        finally:
            if reader is not None:
                reader.close()

    return run


def exports_worker(services: Services) -> Run:
    """Accounting exports alone (``serve --role exports``): with ``TOLLBOOK_EVENT_SOURCE=
    jetstream`` one durable consumer per connection, each in its own thread (any number of
    these processes share each consumer, one event in flight at a time); else each
    connection's exporter every ``TOLLBOOK_EXPORT_EVERY`` seconds under its lease."""
    import os

    from adapters.accounting.config import load_connections
    from adapters.accounting.consumer import ExportConsumer
    from adapters.accounting.exporter import Exporter
    from adapters.accounting.factory import client_for, policy_for
    from adapters.accounting.store import ExportStore
    from adapters.relay.config import consumer_settings_from_env
    from adapters.relay.consumer import StreamReader
    from scheduler import jobs
    from scheduler.context import JobContext, SchedulerSettings

    connections = load_connections()
    if services.event_source == "database":
        ctx = JobContext(
            services.ledger,
            services.db,
            settings=SchedulerSettings.from_env(),
            connections=connections,
            stopping=services.stopping,
        )

        def poll() -> None:
            while not services.stopping.is_set():
                for name in connections:
                    jobs.export_connection(ctx, name)
                services.stopping.wait(ctx.settings.export_every)

        return poll

    reader = StreamReader(consumer_settings_from_env(os.environ, services.tenant))
    consumers = [
        ExportConsumer(
            Exporter(services.ledger, ExportStore(services.db), c, client_for(c, policy_for(c))),
            reader,
        )
        for c in connections.values()
    ]

    def run() -> None:
        threads = [
            threading.Thread(target=c.run, args=(services.stopping,), name=c.durable, daemon=True)
            for c in consumers
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        reader.close()

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
    # webhook delivery and exports on their own, e.g. as JetStream consumers on other machines
    WorkerSpec("webhooks", webhooks_worker, by_default=False),
    WorkerSpec("exports", exports_worker, by_default=False),
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
