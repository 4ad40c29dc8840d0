"""Why the relay stops: NATS away for too long, or JetStream refusing what it asks."""

from __future__ import annotations


class RelayError(Exception):
    pass


class RelayUnavailable(RelayError):
    """NATS cannot be reached, or JetStream did not answer for longer than ``retry_for``."""


class RelayRefused(RelayError):
    """JetStream answered with an error a retry cannot change (a stream config it refuses,
    subjects another stream holds), or the stream holds messages that are not the relay's."""
