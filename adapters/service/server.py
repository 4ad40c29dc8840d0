"""``tollbook serve``: the API and the background workers, in one process or split by role.

- ``--role all`` (default): API + workers in one process; fine on the embedded SQLite file.
- ``--role api`` / ``--role worker``: the same code as separate processes, for PostgreSQL,
  where several API processes and workers share one database (workers take per-subscription
  leases, so running two is safe).
- ``--role relay``: only the relay, publishing every event to NATS JetStream (adapters/relay/;
  TOLLBOOK_NATS_URL, TOLLBOOK_RELAY_STREAM, TOLLBOOK_RELAY_REPLICAS).
- ``--workers N``: N API processes on one listening socket (the kernel hands each new
  connection to one of them), each with its own connections, pools and kept reads; the
  background workers run once, in the parent. SIGTERM/SIGINT to the parent stops them all
  gracefully. Nothing is shared in memory between them: every read checks the database.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import click
import structlog
import uvicorn

from adapters.app.context import Services
from adapters.logging import configure_logging
from adapters.service.app import create_app
from adapters.service.metrics_server import Bind, metrics_listener, shared_metrics
from adapters.service.workers import start_workers, stop_workers

if TYPE_CHECKING:
    from adapters.tenancy.directory import Directory

Role = Literal["all", "api", "worker", "relay"]
log = structlog.get_logger("tollbook.service")


#: the workers a role runs (None: every worker started by default)
ROLE_WORKERS: dict[str, list[str] | None] = {"all": None, "worker": None, "relay": ["relay"]}

#: seconds a request in flight is given to finish once shutdown begins
GRACE_SECONDS = 10
#: the most API processes ``--workers`` starts
MAX_WORKERS = 64


@dataclass(frozen=True)
class ProcessSettings:
    """What an API process started by ``--workers`` needs to build its own service."""

    database_url: str | None  # None: from the environment, as the parent took it
    log_level: str
    log_format: str
    tenant: str | None = None  # the tenant a single-tenant service acts for (--tenant)


def serve(
    services: Services,
    host: str,
    port: int,
    role: Role = "all",
    *,
    workers: int = 1,
    settings: ProcessSettings | None = None,
    metrics_bind: Bind | None = None,
) -> None:
    # before anything counts: with several API processes every one writes its metrics where
    # each scrape adds them up (adapters/service/metrics_server.py)
    with shared_metrics(workers), metrics_listener(services, metrics_bind):
        _serve(services, host, port, role, workers, settings)


def _serve(
    services: Services,
    host: str,
    port: int,
    role: Role,
    workers: int,
    settings: ProcessSettings | None,
) -> None:
    threads = start_workers(services, ROLE_WORKERS.get(role)) if role != "api" else []
    try:
        if role in ("worker", "relay"):
            _wait_for_signal(services)
        elif workers > 1:
            if settings is None:
                raise ValueError("--workers needs the settings each API process starts from")
            log.info("serving", host=host, port=port, role=role, workers=workers)
            _serve_processes(services, host, port, workers, settings)
        else:
            log.info("serving", host=host, port=port, role=role)
            _Server(_config(create_app(services), host, port), services).run()
    finally:
        stop_workers(services, threads)
        log.info("stopped", role=role)


def _config(app: object, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        app,  # type: ignore[arg-type]
        host=host,
        port=port,
        log_level="warning",
        log_config=None,  # uvicorn logs through ours (structlog, JSON lines)
        access_log=False,
        timeout_graceful_shutdown=GRACE_SECONDS,
    )


def _serve_processes(
    services: Services, host: str, port: int, workers: int, settings: ProcessSettings
) -> None:
    """``workers`` API processes sharing one listening socket, until SIGTERM/SIGINT (or one
    of them ends by itself: then the others are stopped too, and the exit says so)."""
    listening = _config(None, host, port).bind_socket()
    # spawned, not forked: a child never inherits the parent's threads, pools or locks
    context = multiprocessing.get_context("spawn")
    children = [
        context.Process(
            target=_api_process, args=(settings, host, port, listening), name=f"api-{n}"
        )
        for n in range(1, workers + 1)
    ]
    for child in children:
        child.start()
    listening.close()  # the children hold it now
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        del signum, frame
        services.stopping.set()
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    ended = None
    while not stop.wait(0.5):
        ended = next((child for child in children if not child.is_alive()), None)
        if ended is not None:
            log.error("an API process ended; stopping the others", process=ended.name)
            break
    for child in children:
        if child.is_alive() and child.pid is not None:
            os.kill(child.pid, signal.SIGTERM)
    for child in children:
        child.join(GRACE_SECONDS + 5)
        if child.is_alive():
            log.warning("an API process did not stop in time; killed", process=child.name)
            child.kill()
            child.join()
    if ended is not None:
        raise SystemExit(f"API process {ended.name} ended with {ended.exitcode}")


def _api_process(settings: ProcessSettings, host: str, port: int, listening: socket.socket) -> None:
    """One API process of ``--workers``: its own service on the shared socket."""
    configure_logging(level=settings.log_level, fmt=settings.log_format)
    services = Services.from_url(settings.database_url, tenant=settings.tenant)
    try:
        _Server(_config(create_app(services), host, port), services).run(sockets=[listening])
    finally:
        services.close()


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


def parse_bind(text: str | None) -> Bind | None:
    """``--metrics-bind`` / ``TOLLBOOK_METRICS_BIND``; a bad value is a usage error (exit 2)."""
    if text is None or not text.strip():
        return None
    try:
        return Bind.parse(text)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="'--metrics-bind'") from None


def tenant_capacity() -> int:
    """How many tenants one service keeps open (``TOLLBOOK_TENANT_CACHE``; ConfigError)."""
    from adapters.service.tenants import capacity_from_env

    return capacity_from_env()


def serve_tenants(directory: Directory, host: str, port: int, capacity: int) -> None:
    """Every tenant's API and portal in this process (adapters/service/tenants.py)."""
    from adapters.service import tenants

    tenants.serve_tenants(directory, host, port, capacity)
