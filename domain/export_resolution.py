"""A person's decision on an accounting export the remote system refused for good.

An export that Xero, Clear Books or FreshBooks refuses becomes a dead letter, and the later
exports of the same customer wait behind it. When re-sending cannot help, a person decides,
with a reason: the document was put right by hand in the accounting system (``resolved``,
optionally naming the remote id so later payments find it) or it is not to be exported at all
(``skipped``). The decision is a fact of the books, so it is an event, kept for audit.
"""

from __future__ import annotations

from typing import Any, Literal
from uuid import NAMESPACE_URL, UUID, uuid5

from domain import limits
from domain.aggregate import Aggregate, Created, Stamp
from domain.errors import InvalidInput

Action = Literal["resolved", "skipped"]


def resolution_id(connection: str, event_key: str, attempt: int) -> UUID:
    """The same decision on the same dead letter is one aggregate, however often it is sent."""
    return uuid5(NAMESPACE_URL, f"tollbook:export-resolution:{connection}:{event_key}:{attempt}")


class ExportResolution(Aggregate):
    """How one dead letter of one accounting connection was settled by a person."""

    connection: str
    system: str
    event_key: str
    kind: str
    label: str
    customer_id: UUID
    action: Action
    remote_id: str

    class Recorded(Created):
        """A person settled the dead letter of ledger event `event_key` on `connection`:
        `resolved` by hand in the accounting system (`remote_id` if given) or `skipped`."""

        connection: str
        system: str
        event_key: str
        kind: str
        label: str
        customer_id: UUID
        action: Action
        remote_id: str = ""

        def apply(self, aggregate: Any) -> None:
            for name in (
                "connection",
                "system",
                "event_key",
                "kind",
                "label",
                "customer_id",
                "action",
                "remote_id",
            ):
                setattr(aggregate, name, getattr(self, name))


def record_resolution(
    resolution: UUID,
    stamp: Stamp,
    *,
    connection: str,
    system: str,
    event_key: str,
    kind: str,
    label: str,
    customer_id: UUID,
    action: Action,
    remote_id: str = "",
) -> ExportResolution:
    # the reason is the event's stamp's: Ledger.stamp checked it (limits.REASON), as for a void
    reason = (stamp.reason or "").strip()
    if not reason:
        raise InvalidInput(f"{action} needs a reason (--reason): say what was done and why")
    if action not in ("resolved", "skipped"):
        raise InvalidInput(f"unknown action {action!r}: resolved or skipped")
    if remote_id and action != "resolved":
        raise InvalidInput("a remote id is given only when resolving by hand")
    limits.check_text(remote_id, limits.REMOTE_ID)
    if " " in remote_id:
        raise InvalidInput("the remote id must be one word (no spaces)")
    return ExportResolution._start(
        ExportResolution.Recorded,
        resolution,
        stamp,
        connection=connection,
        system=system,
        event_key=event_key,
        kind=kind,
        label=label,
        customer_id=customer_id,
        action=action,
        remote_id=remote_id,
    )
