"""The subject scheme: ``tollbook.<tenant>.<aggregate>.<event>``, every token lowercase.

The aggregate and event come from the event's catalogue type (``Invoice.LineAdded``) in
snake_case (``invoice.line_added``), so a subject only ever holds ``a-z 0-9 _ -`` and dots
between its four tokens: no wildcards, no whitespace, nothing a NATS client would have to
escape. The tenant label's rules are domain/messaging.py's.
"""

from __future__ import annotations

import re
from typing import Any

PREFIX = "tollbook"

# header names (docs/integrators.md); Nats-Msg-Id is JetStream's own de-duplication header
MSG_ID = "Nats-Msg-Id"
TENANT = "Tollbook-Tenant"
POSITION = "Tollbook-Position"
TYPE = "Tollbook-Type"

_WORD_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def snake(name: str) -> str:
    """``CreditNote`` -> ``credit_note``, ``LineAdded`` -> ``line_added``."""
    return _WORD_BOUNDARY.sub("_", name).lower()


def subject(tenant: str, event_type: str) -> str:
    """The subject of one event, from its catalogue type (``Invoice.Issued``)."""
    aggregate, _, event = event_type.partition(".")
    return f"{PREFIX}.{tenant}.{snake(aggregate)}.{snake(event)}"


def tenant_subjects(tenant: str) -> str:
    """Every subject of one tenant (what the stream must hold, what resuming reads)."""
    return f"{PREFIX}.{tenant}.>"


def msg_id(tenant: str, position: int) -> str:
    return f"{tenant}:{position}"


def headers(tenant: str, doc: dict[str, Any]) -> dict[str, str]:
    """The headers of one event's message (``doc``: its feed envelope)."""
    position = int(doc["position"])
    return {
        MSG_ID: msg_id(tenant, position),
        TENANT: tenant,
        POSITION: str(position),
        TYPE: str(doc["type"]),
    }
