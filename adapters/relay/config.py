"""The relay's settings from outside: which NATS servers (``--nats`` or ``TOLLBOOK_NATS_URL``,
comma-separated ``nats://host:port`` URLs, as ``tollbook doctor`` reads them) and, for
``tollbook serve --role relay``, the stream from the environment."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from adapters.relay.publisher import RelaySettings
from adapters.relay.stream import DEFAULT_DUPLICATE_WINDOW, StreamSettings
from domain.errors import InvalidInput
from domain.messaging import DEFAULT_TENANT, stream_name, tenant_label

DEFAULT_URL = "nats://127.0.0.1:4222"
MAX_SERVERS = 16
MAX_URL_LENGTH = 2048


def parse_servers(text: str | None) -> list[str]:
    """The URLs in ``text`` (the default when empty); anything but ``nats://`` or ``tls://``
    with a host is refused before the relay connects anywhere."""
    if text is None or not text.strip():
        return [DEFAULT_URL]
    if len(text) > MAX_URL_LENGTH:
        raise InvalidInput(f"NATS URLs longer than {MAX_URL_LENGTH} characters", field="nats")
    urls = [url.strip() for url in text.split(",") if url.strip()]
    if len(urls) > MAX_SERVERS:
        raise InvalidInput(f"more than {MAX_SERVERS} NATS servers", field="nats")
    for url in urls:
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            port, parts = -1, urlsplit("")
        if parts.scheme not in ("nats", "tls") or not parts.hostname or port == -1:
            raise InvalidInput(
                f"not a nats://host:port URL: {url[:80]!r} (--nats / TOLLBOOK_NATS_URL)",
                field="nats",
            )
    return urls


MAX_REPLICAS = 5  # JetStream's own limit for a stream


def replicas(value: str | int) -> int:
    number = int(value) if str(value).strip().isdigit() else 0
    if not 1 <= number <= MAX_REPLICAS:
        raise InvalidInput(
            f"replicas must be 1-{MAX_REPLICAS} (got {str(value)[:20]!r})", field="replicas"
        )
    return number


def relay_settings(
    servers: str | None,
    stream: str = "TOLLBOOK",
    replica_count: str | int = 1,
    duplicate_window: float = DEFAULT_DUPLICATE_WINDOW,
    tenant: str = DEFAULT_TENANT,
) -> RelaySettings:
    """Every input checked before the relay connects anywhere."""
    return RelaySettings(
        parse_servers(servers),
        tenant_label(tenant),
        StreamSettings(stream_name(stream), replicas(replica_count), duplicate_window),
    )


def settings_from_env(env: Mapping[str, str], tenant: str | None = None) -> RelaySettings:
    """``serve --role relay``: TOLLBOOK_NATS_URL, TOLLBOOK_RELAY_STREAM (TOLLBOOK),
    TOLLBOOK_RELAY_REPLICAS (1); the label is the tenant the service acts for, if any."""
    return relay_settings(
        env.get("TOLLBOOK_NATS_URL"),
        env.get("TOLLBOOK_RELAY_STREAM") or "TOLLBOOK",
        env.get("TOLLBOOK_RELAY_REPLICAS") or 1,
        tenant=tenant or DEFAULT_TENANT,
    )
