"""Hostile relay settings: a stream, tenant, NATS URL or replica count the relay cannot use is
refused before it connects anywhere (exit 2, the option named); NATS away is exit 5."""

from __future__ import annotations

import socket

import pytest

from tests.helpers import customer, event_count


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--stream", "A.B"), "stream must be"),
        (("--stream", "ORDERS>"), "stream must be"),
        (("--stream", "S" * 65), "stream must be"),
        (("--stream", ""), "stream must be"),
        (("--tenant", "tollbook.*"), "tenant must be"),
        (("--tenant", "Acme"), "tenant must be"),  # upper case: one tenant, one subject
        (("--tenant", "a" * 64), "tenant must be"),
        (("--tenant", "-x"), "tenant must be"),
        (("--nats", "http://127.0.0.1:4222"), "not a nats://host:port URL"),
        (("--nats", "nats://127.0.0.1:port"), "not a nats://host:port URL"),
        (("--nats", ",".join(["nats://h:1"] * 17)), "more than 16 NATS servers"),
        (("--nats", "nats://" + "h" * 3000), "longer than 2048"),
    ],
)
def test_a_bad_setting_is_refused_before_connecting(tollbook, make_ledger, args, says) -> None:
    ledger = make_ledger()
    customer(ledger, "ACME")
    before = event_count(ledger)
    result = tollbook("relay", "--once", *args)
    assert result.code == 2, result.err
    assert says in result.err and result.err.rstrip().endswith("[invalid_input]")
    assert event_count(ledger) == before


def test_replicas_beyond_jetstream_s_limit_are_a_usage_error(tollbook) -> None:
    result = tollbook("relay", "--once", "--replicas", "6")
    assert result.code == 2 and "[usage]" in result.err


def test_nats_away_is_a_clear_storage_like_error(tollbook, make_ledger) -> None:
    make_ledger()
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = tollbook("relay", "--once", "--nats", f"nats://127.0.0.1:{port}")
    assert result.code == 5
    assert "cannot connect to NATS" in result.err and "[nats_unavailable]" in result.err


def test_the_command_publishes_and_says_how_many(tollbook, make_ledger, local_stream) -> None:
    stream, tenant = local_stream
    customer(make_ledger(), "ACME")
    first = tollbook("relay", "--once", "--stream", stream, "--tenant", tenant, "--json")
    again = tollbook("relay", "--once", "--stream", stream, "--tenant", tenant, "--json")
    assert first.code == again.code == 0, first.err
    assert '"published": 1' in first.out and '"published": 0' in again.out


@pytest.mark.parametrize("role", ["webhooks", "exports"])
def test_an_unknown_event_source_is_a_usage_error(tollbook, role, monkeypatch) -> None:
    result = tollbook("serve", "--role", role, "--source", "kafka")
    assert result.code == 2 and "[usage]" in result.err and "'kafka'" in result.err
    monkeypatch.setenv("TOLLBOOK_EVENT_SOURCE", "polling")
    from_env = tollbook("serve", "--role", role)
    assert from_env.code == 2 and "'polling'" in from_env.err


def test_consumers_with_a_bad_nats_url_stop_before_they_start(tollbook, monkeypatch) -> None:
    monkeypatch.setenv("TOLLBOOK_NATS_URL", "http://127.0.0.1:4222")
    result = tollbook("serve", "--role", "webhooks", "--source", "jetstream")
    assert result.code == 2, result.err
    assert "not a nats://host:port URL" in result.err
