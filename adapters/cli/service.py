"""``tollbook serve``, ``tollbook apikey ...`` and ``tollbook webhook ...``."""

from __future__ import annotations

import os
import time

import click

from adapters.app.api_keys import ApiKey
from adapters.app.context import Services
from adapters.cli.context import emit_json, json_option, say, state, table
from adapters.config import ConfigError, control_database_url
from adapters.feed import head_position, topics_for
from adapters.logging import configure_logging
from adapters.webhooks.signing import new_secret


def _services() -> Services:
    current = state()
    try:
        services = Services.from_url(current.database_url, tenant=current.tenant)
    except ConfigError:
        raise
    except ValueError as error:  # e.g. memory://, which has no SQL tables for keys and hooks
        raise ConfigError(str(error)) from None
    click.get_current_context().call_on_close(services.close)
    return services


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--role",
    type=click.Choice(["all", "api", "worker", "relay"]),
    default="all",
    show_default=True,
    help="all: API and workers in one process; api / worker: split across processes;"
    " relay: only the NATS JetStream relay.",
)
@click.option(
    "--log-format",
    type=click.Choice(["json", "console"]),
    default=lambda: os.environ.get("TOLLBOOK_LOG_FORMAT", "json"),
    show_default="json (env TOLLBOOK_LOG_FORMAT)",
    help="Log lines on stderr: one JSON object per line, or human-readable.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=lambda: os.environ.get("TOLLBOOK_WORKERS", "1"),
    show_default="1 (env TOLLBOOK_WORKERS)",
    help="API processes sharing the port (the background workers still run once).",
)
@click.option(
    "--metrics-bind",
    metavar="HOST:PORT",
    default=lambda: os.environ.get("TOLLBOOK_METRICS_BIND") or None,
    show_default="none (env TOLLBOOK_METRICS_BIND)",
    help="Also serve /metrics here, without an API key (an address only monitoring reaches).",
)
@click.option("--json", "as_json", is_flag=True, help="Announce where it listens as JSON.")
def serve(
    host: str,
    port: int,
    role: str,
    log_format: str,
    workers: int,
    metrics_bind: str | None,
    as_json: bool,
) -> None:
    """Run the HTTP API and the background workers: read models, the scheduler (invoice
    schedules, accounting exports, webhook delivery)."""
    from adapters.app.readiness import max_lag_from_env
    from adapters.service.server import ProcessSettings, parse_bind
    from adapters.service.server import serve as run

    if role in ("worker", "relay") and workers > 1:
        raise click.UsageError("--workers counts API processes: not with --role worker")
    bind = parse_bind(metrics_bind)
    max_lag_from_env()  # a bad readiness setting stops the start, not the first probe
    if any(name.startswith("TOLLBOOK_SIGNING_") and value for name, value in os.environ.items()):
        from adapters.einvoice.signing import configured_signer

        configured_signer()  # a broken signing key stops the start, not the first download

    # a service logs its requests and jobs: info unless the environment says otherwise
    level = os.environ.get("TOLLBOOK_LOG_LEVEL", "info")
    if state().tenant is None and control_database_url() is not None:
        _serve_tenants(host, port, role, workers, bind is not None, as_json, level, log_format)
        return
    configure_logging(level=level, fmt=log_format)
    services = _services()
    if as_json:
        url = None if role in ("worker", "relay") else f"http://{host}:{port}"
        metrics_url = f"http://{bind.host}:{bind.port}/metrics" if bind else None
        portal = f"{url}/portal" if url else None
        emit_json({"role": role, "url": url, "portal": portal, "metrics": metrics_url})
    elif role in ("worker", "relay"):
        running = "workers" if role == "worker" else "relay"
        say(f"tollbook {running} running (Ctrl-C or SIGTERM to stop)")
    else:
        say(
            f"tollbook {role} on http://{host}:{port} (OpenAPI at /docs, /openapi.json;"
            " finance portal at /portal)"
        )
    settings = ProcessSettings(state().database_url, level, log_format, state().tenant)
    run(
        services,
        host,
        port,
        role,  # type: ignore[arg-type]
        workers=workers,
        settings=settings,
        metrics_bind=bind,
    )


def _serve_tenants(
    host: str,
    port: int,
    role: str,
    workers: int,
    metrics: bool,
    as_json: bool,
    level: str,
    log_format: str,
) -> None:
    """Every tenant's API and portal in this process (docs/scaling.md); the workers of each
    tenant run as their own processes (``tollbook --tenant NAME serve --role worker``)."""
    if role != "api":
        raise click.UsageError(
            "with TOLLBOOK_CONTROL_DATABASE_URL and no --tenant, serve runs every tenant's API:"
            " give --role api, and run each tenant's workers with"
            " `tollbook --tenant NAME serve --role worker` (or --role relay)"
        )
    if workers > 1 or metrics:
        raise click.UsageError(
            "a service of many tenants runs one API process without --metrics-bind"
            " (run several behind a load balancer)"
        )
    from adapters.config import open_directory
    from adapters.service.server import serve_tenants, tenant_capacity

    capacity = tenant_capacity()
    directory = open_directory()
    configure_logging(level=level, fmt=log_format)
    if as_json:
        url = f"http://{host}:{port}"
        emit_json({"role": role, "url": url, "portal": f"{url}/portal", "tenants": True})
    else:
        say(f"tollbook api for every tenant on http://{host}:{port} (keys and sessions choose)")
    serve_tenants(directory, host, port, capacity)


@click.group("apikey")
def apikey() -> None:
    """API keys for the HTTP API: scoped read, write or admin; stored hashed."""


@apikey.command("create")
@click.argument("name")
@click.option(
    "--scope", type=click.Choice(["read", "write", "admin"]), default="read", show_default=True
)
@json_option
def apikey_create(name: str, scope: str, as_json: bool) -> None:
    """Create a key called NAME (recorded as the actor of its writes); printed only once."""
    key = _services().api_keys.create(name, scope)
    if as_json:
        emit_json({"name": name, "scope": scope, "key": key})
    else:
        say(f"API key {name!r} ({scope}); store it now, it is not shown again:")
        click.echo(key)


@apikey.command("list")
@json_option
def apikey_list(as_json: bool) -> None:
    """List keys (names, scopes and hints; never the keys)."""
    keys = _services().api_keys.list()
    docs = [_key_doc(k) for k in keys]
    if as_json:
        emit_json(docs)
        return
    table(
        "API keys",
        ["name", "scope", "key", "created", "revoked"],
        [[k.name, k.scope, k.hint, k.created_at[:19], (k.revoked_at or "")[:19]] for k in keys],
    )


@apikey.command("revoke")
@click.argument("name")
@json_option
def apikey_revoke(name: str, as_json: bool) -> None:
    """Revoke key NAME at once."""
    keys = _services().api_keys
    keys.revoke(name)
    if as_json:
        emit_json(next(_key_doc(k) for k in keys.list() if k.name == name))
    else:
        say(f"revoked API key {name!r}")


def _key_doc(key: ApiKey) -> dict[str, object]:
    return {
        "name": key.name,
        "scope": key.scope,
        "hint": key.hint,
        "created_at": key.created_at,
        "revoked_at": key.revoked_at,
    }


@click.group("webhook")
def webhook() -> None:
    """Webhook subscriptions for integrators, and their delivery log."""


@webhook.command("add")
@click.argument("url")
@click.option("--events", "types", default="", help="Comma-separated event types (default all).")
@click.option("--secret", help="Signing secret (generated when omitted).")
@click.option("--from-start", is_flag=True, help="Also deliver every event already recorded.")
@json_option
def webhook_add(url: str, types: str, secret: str | None, from_start: bool, as_json: bool) -> None:
    """Subscribe URL to billing events (from now on, unless --from-start)."""
    services = _services()
    event_types = [t.strip() for t in types.split(",") if t.strip()]
    topics_for(event_types)
    secret = secret or new_secret()
    position = 0 if from_start else head_position(services.ledger)
    subscription = services.webhooks.add(url, secret, event_types, position, state().actor)
    if as_json:
        emit_json({**subscription.doc(), "secret": secret})
        return
    say(f"webhook {subscription.id} -> {url}")
    say("signing secret (store it now, it is not shown again):")
    click.echo(secret)


@webhook.command("list")
@click.option("--all", "include_removed", is_flag=True, help="Include removed subscriptions.")
@json_option
def webhook_list(include_removed: bool, as_json: bool) -> None:
    """List webhook subscriptions."""
    docs = [s.doc() for s in _services().webhooks.subscriptions(include_removed)]
    if as_json:
        emit_json(docs)
        return
    table(
        "Webhooks",
        ["id", "url", "events", "status", "position", "created by"],
        [
            [
                d["id"],
                d["url"],
                ",".join(d["event_types"]) or "(all)",
                d["status"],
                d["position"],
                d["created_by"],
            ]
            for d in docs
        ],
    )


@webhook.command("remove")
@click.argument("subscription")
@json_option
def webhook_remove(subscription: str, as_json: bool) -> None:
    """Stop deliveries to SUBSCRIPTION (its delivery log is kept)."""
    removed = _services().webhooks.remove(subscription)
    if as_json:
        emit_json(removed.doc())
    else:
        say(f"removed webhook {removed.id}")


@webhook.command("retry")
@click.argument("subscription")
@json_option
def webhook_retry(subscription: str, as_json: bool) -> None:
    """Put SUBSCRIPTION's failed deliveries (that gave up) back in the queue."""
    webhooks = _services().webhooks
    count = webhooks.retry_failed(subscription, time.time())
    if as_json:
        emit_json({**webhooks.subscription(subscription).doc(), "queued_again": count})
    else:
        say(f"{count} failed deliveries queued again")


@webhook.command("deliveries")
@click.option("--subscription", help="Only this subscription (id or prefix).")
@click.option("--status", type=click.Choice(["pending", "delivered", "failed"]))
@click.option(
    "--limit", default=50, show_default=True, type=click.IntRange(1, 1000), help="At most 1000."
)
@json_option
def webhook_deliveries(
    subscription: str | None, status: str | None, limit: int, as_json: bool
) -> None:
    """The delivery log, newest first."""
    services = _services()
    subscription_id = services.webhooks.subscription(subscription).id if subscription else None
    docs = [d.doc() for d in services.webhooks.deliveries(subscription_id, status, limit)]
    if as_json:
        emit_json(docs)
        return
    table(
        "Webhook deliveries",
        ["position", "event", "subscription", "status", "attempts", "last", "error"],
        [
            [
                d["position"],
                d["event_type"],
                d["subscription_id"][:8],
                d["status"],
                d["attempts"],
                d["last_status"] or "",
                d["last_error"] or "",
            ]
            for d in docs
        ],
    )
