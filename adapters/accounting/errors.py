"""How a remote accounting system said no: for now (retry later) or for good (dead letter)."""

from __future__ import annotations


class RemoteError(Exception):
    """A call to an accounting system did not succeed."""


class RemoteUnavailable(RemoteError):
    """A transient failure (429, 5xx, timeout, connection refused): the same call may work later.

    ``retry_after`` is the wait in seconds the remote asked for, when it said.
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RemoteRejected(RemoteError):
    """A permanent refusal (validation error): re-sending the same request cannot succeed."""


class MappingMissing(RemoteRejected):
    """Our own configuration lacks a mapping (tax rate, account code) the item needs."""


class NotAuthorised(RemoteUnavailable):
    """The credentials were refused: stop the run (re-sending will not help, nor will
    dead-lettering every item); fix the connection's configuration and run again."""
