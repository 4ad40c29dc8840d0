"""The JetStream stream the relay publishes to: created when missing, and read back to find
where publishing stopped."""

from __future__ import annotations

from dataclasses import dataclass

import structlog
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import NotFoundError

from adapters.relay import subjects
from adapters.relay.errors import RelayRefused

log = structlog.get_logger("tollbook.relay")

#: JetStream's own default duplicate window (seconds); re-publishes inside it are dropped
DEFAULT_DUPLICATE_WINDOW = 120.0


@dataclass(frozen=True)
class StreamSettings:
    name: str = "TOLLBOOK"
    replicas: int = 1  # 3 on a JetStream cluster (R3: survives the loss of one server)
    duplicate_window: float = DEFAULT_DUPLICATE_WINDOW  # seconds


async def ensure_stream(js: JetStreamContext, settings: StreamSettings, tenant: str) -> None:
    """Create the stream when missing; when it exists without this tenant's subjects (another
    tenant's relay made it), add them. An existing stream's replicas and window are the
    operator's: the relay does not change them."""
    wanted = subjects.tenant_subjects(tenant)
    try:
        info = await js.stream_info(settings.name)
    except NotFoundError:
        await js.add_stream(
            StreamConfig(
                name=settings.name,
                subjects=[wanted],
                num_replicas=settings.replicas,
                duplicate_window=settings.duplicate_window,
                storage=StorageType.FILE,
            )
        )
        log.info(
            "stream created", stream=settings.name, subjects=wanted, replicas=settings.replicas
        )
        return
    held = list(info.config.subjects or [])
    if wanted not in held and f"{subjects.PREFIX}.>" not in held:
        info.config.subjects = [*held, wanted]
        await js.update_stream(info.config)
        log.info("stream subjects added", stream=settings.name, subjects=wanted)


async def last_position(js: JetStreamContext, stream: str, tenant: str) -> int:
    """The position of the tenant's newest message in the stream (0 when it holds none).

    Read from the stream itself, never from a local file: after a crash between a publish
    and any bookkeeping, the stream is the truth about what was published."""
    try:
        last = await js.get_last_msg(stream, subjects.tenant_subjects(tenant))
    except NotFoundError:
        return 0
    value = (last.headers or {}).get(subjects.POSITION)
    if value is None or not value.isdigit():
        raise RelayRefused(
            f"the last message of {subjects.tenant_subjects(tenant)} in stream {stream}"
            f" (sequence {last.seq}) has no {subjects.POSITION} header: not the relay's"
        )
    return int(value)
