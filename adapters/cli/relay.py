"""``tollbook relay``: publish every event of the ledger to a NATS JetStream stream."""

from __future__ import annotations

import asyncio
import os
import signal
import threading

import click

from adapters.cli.context import emit_json, json_option, passes_state, say, state
from adapters.ledger.application import Ledger
from adapters.relay.config import relay_settings
from adapters.relay.errors import RelayError, RelayUnavailable
from adapters.relay.publisher import Relay
from adapters.relay.stream import DEFAULT_DUPLICATE_WINDOW
from domain.messaging import DEFAULT_TENANT


class NatsUnavailable(click.ClickException):
    """NATS away, or JetStream silent for too long: exit 5, like storage unavailable."""

    exit_code = 5
    code = "nats_unavailable"


class NatsRefused(click.ClickException):
    """JetStream refused what the relay asked (a stream it will not create, say): exit 1."""

    exit_code = 1
    code = "nats_refused"


def _failed(error: RelayError) -> click.ClickException:
    if isinstance(error, RelayUnavailable):
        return NatsUnavailable(str(error))
    return NatsRefused(str(error))


def _stop_on_signal() -> threading.Event:
    """SIGINT / SIGTERM end the relay after the publish in flight (never half-way through)."""
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    return stopping


@click.command("relay")
@click.option("--once", is_flag=True, help="Stop when every event is published.")
@click.option(
    "--nats",
    "servers",
    default=lambda: os.environ.get("TOLLBOOK_NATS_URL", ""),
    show_default="env TOLLBOOK_NATS_URL, else nats://127.0.0.1:4222",
    help="NATS servers, comma-separated nats://host:port.",
)
@click.option("--stream", default="TOLLBOOK", show_default=True, help="JetStream stream name.")
@click.option(
    "--replicas",
    type=click.IntRange(1, 5),
    default=1,
    show_default=True,
    help="Replicas of the stream when the relay creates it (3 on a cluster).",
)
@click.option(
    "--duplicate-window",
    type=click.FloatRange(1, 86400),
    default=DEFAULT_DUPLICATE_WINDOW,
    show_default=True,
    help="Seconds JetStream drops a re-publish (when it creates the stream).",
)
@click.option(
    "--tenant",
    "label",
    default=None,
    show_default="the global --tenant, else 'default'",
    help="The label in subjects and message ids (a single-seller install keeps 'default').",
)
@json_option
@passes_state
def relay(
    ledger: Ledger,
    actor: str,
    once: bool,
    servers: str,
    stream: str,
    replicas: int,
    duplicate_window: float,
    label: str | None,
    as_json: bool,
) -> None:
    """Publish every event to a NATS JetStream stream, exactly once, resuming where the stream
    stopped (docs/integrators.md "Events on NATS JetStream")."""
    del actor
    acting_for = state().tenant
    if label is not None and acting_for is not None and label != acting_for:
        raise click.UsageError(
            f"relay --tenant {label!r} for tenant {acting_for!r}: a tenant's events carry its name"
        )
    tenant = label or acting_for or DEFAULT_TENANT
    settings = relay_settings(servers, stream, replicas, duplicate_window, tenant)
    try:
        report = asyncio.run(Relay(ledger, settings).run(once=once, stopping=_stop_on_signal()))
    except RelayError as error:
        raise _failed(error) from None
    if as_json:
        emit_json(vars(report))
        return
    say(f"published {report.published} event(s) to {stream}; up to position {report.position}")
