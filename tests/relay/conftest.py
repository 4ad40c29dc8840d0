from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

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
