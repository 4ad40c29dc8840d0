"""``--metrics-bind HOST:PORT``: the forms an operator writes are taken as meant."""

from __future__ import annotations

import pytest

from adapters.service.metrics_server import Bind


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("127.0.0.1:9464", "127.0.0.1", 9464),
        ("0.0.0.0:0", "0.0.0.0", 0),
        ("[::1]:9464", "::1", 9464),
        (" metrics.internal:65535 ", "metrics.internal", 65535),
    ],
)
def test_a_host_and_port_are_taken_as_written(text: str, host: str, port: int) -> None:
    assert Bind.parse(text) == Bind(host, port)


@pytest.mark.parametrize("text", [":9464", "9464", "host:", "host:65536", "a b:1"])
def test_anything_else_says_what_is_wrong(text: str) -> None:
    with pytest.raises(ValueError, match=r"HOST:PORT|port must be"):
        Bind.parse(text)
