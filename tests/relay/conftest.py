from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.relay.cluster import Cluster
from tests.relay.support import LOCAL_NATS, delete_stream, unique_names


@pytest.fixture
def local_stream() -> Iterator[tuple[str, str]]:
    """(stream, tenant) on the machine's NATS (127.0.0.1:4222); the stream is deleted after."""
    try:
        socket.create_connection(("127.0.0.1", 4222), timeout=2).close()
    except OSError:
        pytest.skip("no NATS server on 127.0.0.1:4222 (nats-server -js)")
    stream, tenant = unique_names()
    yield stream, tenant
    delete_stream([LOCAL_NATS], stream)


@pytest.fixture(scope="package")
def shared_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if shutil.which("nats-server") is None:
        pytest.skip("nats-server is not installed (make system-deps)")
    cluster = Cluster(Path(tmp_path_factory.mktemp("jetstream")))
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def cluster(shared_cluster: Cluster) -> Cluster:
    """The package's 3-node JetStream cluster, every server running (a test may kill one)."""
    shared_cluster.revive()
    return shared_cluster
