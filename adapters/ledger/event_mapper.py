"""Stores pydantic events as their JSON dump and loads them back through validation.

The library's default mapper rebuilds events without validation (Decimals and nested models
would come back as strings and dicts); this one round-trips every field exactly.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.persistence import Mapper, StoredEvent
from eventsourcing.utils import get_topic, resolve_topic

from domain.aggregate import Event

#: Stored beside the payload (the store's own columns), so left out of it.
KEYS = frozenset({"originator_id", "originator_version"})


#: msgspec's untyped JSON decoder, a number with a fraction or exponent made a float by
#: ``float`` of its text as ``json.loads`` makes it: the same dict as ``json.loads`` in 40%
#: of its time (a rebuild of the invoice documents decodes every invoice event this way).
_decode_json = msgspec.json.Decoder(float_hook=float).decode


def load_json(data: bytes | str) -> Any:
    """``json.loads`` of a stored event's JSON, done by msgspec where it can: what msgspec
    refuses and ``json.loads`` may take (``NaN``, a lone surrogate escape, a BOM, bytes in
    another encoding) goes to ``json.loads``, so the result and the errors are its own."""
    try:
        return _decode_json(data)
    except msgspec.DecodeError:
        return json.loads(data)


def event_payload(event: Event) -> dict[str, Any]:
    """The event's own fields as JSON-ready values (ids and version excluded)."""
    return event.model_dump(mode="json", exclude=set(KEYS))


def event_json(event: Event) -> bytes:
    """``event_payload`` as compact UTF-8 JSON, encoded by pydantic in one pass (in field
    order). ``json.dumps`` of the payload dict, sorted, was most of the cost of saving a
    billing run's invoices (~14 KB of lines each); both forms load the same way."""
    return event.model_dump_json(exclude=set(KEYS)).encode("utf-8")


class PydanticMapper(Mapper[UUID]):
    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        if not isinstance(domain_event, Event):
            raise TypeError(f"not a tollbook event: {type(domain_event).__name__}")
        data = event_json(domain_event)
        if self.compressor:
            data = self.compressor.compress(data)
        if self.cipher:
            data = self.cipher.encrypt(data)
        return StoredEvent(
            originator_id=domain_event.originator_id,
            originator_version=domain_event.originator_version,
            topic=get_topic(type(domain_event)),
            state=data,
        )

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        data = stored_event.state
        if self.cipher:
            data = self.cipher.decrypt(data)
        if self.compressor:
            data = self.compressor.decompress(data)
        cls = resolve_topic(stored_event.topic)
        state = load_json(data)
        originator_id = stored_event.originator_id
        state["originator_id"] = (
            originator_id if isinstance(originator_id, UUID) else UUID(str(originator_id))
        )
        state["originator_version"] = stored_event.originator_version
        return cls.model_validate(state)
