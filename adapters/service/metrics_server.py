"""What ``tollbook serve`` adds for monitoring: metrics shared by several API processes, and
``/metrics`` on an address of its own (``--metrics-bind``, every role, no API key).

With ``--workers N`` each API process would count only the requests it answered, and a scrape
would show whichever process took the connection. So the parent switches prometheus-client
to its multiprocess mode before anything counts: every process (the parent's background
workers too) writes its counters and histograms to files in one directory, and every scrape,
whichever process answers it, adds them all up. The directory is
``PROMETHEUS_MULTIPROC_DIR`` when set (emptied at start), else a temporary one removed at exit.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import structlog
from prometheus_client import start_http_server

from adapters import metrics
from adapters.app.context import Services
from adapters.app.exposition import Exposition
from adapters.app.health import ReadModelHealth

log = structlog.get_logger("tollbook.service")


@dataclass(frozen=True)
class Bind:
    """``HOST:PORT`` of the metrics listener."""

    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> Bind:
        """``127.0.0.1:9464``, ``0.0.0.0:9464``, ``[::1]:9464``; raises ValueError saying why."""
        host, sep, port = text.strip().rpartition(":")
        host = host.removeprefix("[").removesuffix("]")
        if not sep or not host or len(host) > 253 or any(c.isspace() for c in host):
            raise ValueError(f"{text[:80]!r} is not HOST:PORT (e.g. 127.0.0.1:9464)")
        if not (port.isascii() and port.isdigit()) or not 0 <= int(port) <= 65535:
            raise ValueError(f"{text[:80]!r}: the port must be a number from 0 to 65535")
        return cls(host, int(port))


@contextmanager
def shared_metrics(workers: int) -> Iterator[None]:
    """Multiprocess metrics for the block when more than one API process will count, or
    when ``PROMETHEUS_MULTIPROC_DIR`` says so (prometheus-client then keeps every process's
    metrics in files from its import on; the files of an earlier run are removed here)."""
    given = metrics.multiprocess_dir()
    if workers <= 1 and given is None:
        yield
        return
    directory = given or Path(tempfile.mkdtemp(prefix="tollbook-metrics-"))
    metrics.enable_multiprocess(directory)
    try:
        yield
    finally:
        if given is None:
            shutil.rmtree(directory, ignore_errors=True)


@contextmanager
def metrics_listener(services: Services, bind: Bind | None) -> Iterator[None]:
    """Serve ``/metrics`` on ``bind`` (no key: put it on an address only the monitoring
    system reaches) for the block."""
    if bind is None:
        yield
        return
    exposition = Exposition(services, ReadModelHealth(services))
    server, thread = start_http_server(bind.port, bind.host, registry=exposition.registry)
    log.info("metrics listening", host=bind.host, port=server.server_port)
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
