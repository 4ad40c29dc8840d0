"""One service process for many tenants: each request goes to its tenant's own web app.

The tenant is read from what the request presents, never from what it asks for:
- an API key names its tenant (``tbk_<tenant>.…``, adapters/app/api_keys.py);
- a portal session token names its tenant (``<tenant>.…``, adapters/app/users.py);
- before signing in, the portal takes the tenant from ``/portal/login?tenant=NAME``, kept in
  a ``tollbook_tenant`` cookie for the sign-in form's post.
The name only chooses whose store the key or session is then checked in: a key of tenant A
sent with B's name is unknown in B's store (401), and A's key reaches only A's store, where
B's invoices, payments, customers and events do not exist (404). Each tenant's app is the
single-tenant app (adapters/service/app.py) on that tenant's own ``Services``; at most
``capacity`` are kept open, the least recently used closed first once no request uses it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs

import structlog
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adapters.app.api_keys import tenant_of_key
from adapters.app.context import Services
from adapters.config_error import ConfigError
from adapters.http.conditional import presented_key
from adapters.http.problems import RETRY_AFTER, STORAGE_ERRORS
from adapters.portal.web import PREFIX as PORTAL_PREFIX
from adapters.portal.web import SESSION_COOKIE
from adapters.tenancy.directory import Directory
from domain.errors import InvalidInput, NotFound
from domain.tenancy import tenant_name, tenant_of_token

log = structlog.get_logger("tollbook.service")

TENANT_COOKIE = "tollbook_tenant"
DEFAULT_CAPACITY = 32
#: how often an open tenant's store is checked against the directory (a move switches it)
REVALIDATE_SECONDS = 2.0
MAX_CAPACITY = 10_000
#: a tenant's store cannot be opened: its node is down (503, the other tenants go on)
UNAVAILABLE: tuple[type[Exception], ...] = (*STORAGE_ERRORS, sqlite3.OperationalError)
#: answered without a tenant: a load balancer's liveness probe names none
LIVENESS_PATH = "/health/live"


def capacity_from_env(environ: dict[str, str] | None = None) -> int:
    """``TOLLBOOK_TENANT_CACHE``: how many tenants' apps (stores, pools) one process keeps."""
    environ = dict(os.environ) if environ is None else environ
    text = environ.get("TOLLBOOK_TENANT_CACHE", "").strip()
    if not text:
        return DEFAULT_CAPACITY
    if not (
        text.isascii() and text.isdigit() and len(text) <= 6 and 1 <= int(text) <= MAX_CAPACITY
    ):
        raise ConfigError(
            f"TOLLBOOK_TENANT_CACHE must be a whole number from 1 to {MAX_CAPACITY:,}"
        )
    return int(text)


@dataclass
class _Open:
    services: Services
    app: ASGIApp
    url: str  # the store, as the directory named it when opened
    checked: float  # when the directory last said so (time.monotonic)
    in_flight: int = 0
    retired: bool = field(default=False)


def tenant_app(services: Services) -> ASGIApp:
    from adapters.service.app import create_app

    return create_app(services)


class TenantApps:
    """The ASGI application of a service of many tenants (see the module's docstring)."""

    def __init__(
        self,
        directory: Directory,
        *,
        capacity: int = DEFAULT_CAPACITY,
        open_services: Callable[[str, str], Services] | None = None,
        make_app: Callable[[Services], ASGIApp] = tenant_app,
        revalidate_seconds: float = REVALIDATE_SECONDS,
    ) -> None:
        self.directory = directory
        self.capacity = capacity
        self.revalidate_seconds = revalidate_seconds
        self._open_services = open_services or (
            lambda url, name: Services.from_url(url, tenant=name)
        )
        self._make_app = make_app
        self._apps: OrderedDict[str, _Open] = OrderedDict()
        self._lock = threading.Lock()
        self._opening: dict[str, threading.Lock] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send, self.close)
            return
        if scope["type"] != "http":
            return
        if scope["path"] == LIVENESS_PATH:
            await _json(send, 200, {"status": "ok"}, "application/json")
            return
        name, chosen_by_query = _tenant_of(scope)
        if name is None:
            await self._unnamed(scope, send)
            return
        try:
            entry = await run_in_threadpool(self._acquire, name)
        except NotFound:
            await self._unnamed(scope, send, unknown=True)
            return
        except UNAVAILABLE as error:
            # its node is down: this tenant answers 503, every other tenant goes on
            log.error("tenant store unavailable", tenant=name, error=str(error))
            await _json(
                send,
                503,
                {
                    "type": "about:blank",
                    "title": "Service unavailable",
                    "status": 503,
                    "code": "storage_unavailable",
                    "detail": "the ledger's store is unavailable; nothing was written:"
                    " try again shortly",
                },
                "application/problem+json",
                [(b"retry-after", RETRY_AFTER.encode())],
            )
            return
        try:
            if chosen_by_query:
                send = _setting_tenant_cookie(send, name)
            await entry.app(scope, receive, send)
        finally:
            await run_in_threadpool(self._release, entry)

    async def _unnamed(self, scope: Scope, send: Send, *, unknown: bool = False) -> None:
        if scope["path"].startswith(PORTAL_PREFIX):
            page = (
                "<!doctype html><title>tollbook</title><p>"
                + ("That tenant is unknown." if unknown else "Which tenant?")
                + f" Sign in at <code>{PORTAL_PREFIX}/login?tenant=NAME</code>.</p>"
            )
            await _body(send, 404 if unknown else 401, page.encode(), "text/html; charset=utf-8")
            return
        # an unknown tenant reads as an unknown key: which tenants exist is nobody's business
        detail = (
            "the API key is unknown or revoked"
            if unknown or presented_key(Headers(scope=scope)) is not None
            else "an API key is required: send 'Authorization: Bearer <key>'"
        )
        await _json(
            send,
            401,
            {
                "type": "about:blank",
                "title": "Unauthorised",
                "status": 401,
                "code": "unauthorised",
                "detail": detail,
            },
            "application/problem+json",
            [(b"www-authenticate", b'Bearer realm="tollbook"')],
        )

    # ------------------------------------------------------------------ the cache

    def _taken(self, name: str) -> _Open | None:
        """The open app of ``name``, marked in use and most recent (call holding the lock)."""
        entry = self._apps.get(name)
        if entry is not None:
            self._apps.move_to_end(name)
            entry.in_flight += 1
        return entry

    def _acquire(self, name: str) -> _Open:
        with self._lock:
            entry = self._taken(name)
        if entry is not None:
            if self._still_there(name, entry):
                return entry
            self._retire(name, entry)  # moved (or removed): its old store is closed
            self._release(entry)
        with self._lock:
            opening = self._opening.setdefault(name, threading.Lock())
        with opening:  # one opening per tenant; other tenants' requests are not held up
            with self._lock:
                entry = self._taken(name)
                if entry is not None:
                    return entry
            try:
                url = self.directory.tenant(name).store_url  # NotFound: no such tenant
                services = self._open_services(url, name)
                app = self._make_app(services)
                entry = _Open(services, app, url, time.monotonic(), in_flight=1)
                log.info("tenant opened", tenant=name)
                with self._lock:
                    self._apps[name] = entry
                    retired = self._evict()
            finally:
                with self._lock:
                    self._opening.pop(name, None)
        for old in retired:
            self._close(old)
        return entry

    def _still_there(self, name: str, entry: _Open) -> bool:
        """Whether the directory still names the store ``entry`` has open; asked at most
        every ``revalidate_seconds``, so a tenant moved to another node (``tenant move``) is
        served from its new store within that time. Until then its old store, read-only
        since the move began, answers reads as the copy would and refuses writes (503
        ``store_read_only``, to be retried)."""
        if time.monotonic() - entry.checked < self.revalidate_seconds:
            return True
        try:
            url = self.directory.tenant(name).store_url
        except NotFound:
            return False
        entry.checked = time.monotonic()
        return url == entry.url

    def _retire(self, name: str, entry: _Open) -> None:
        with self._lock:
            if self._apps.get(name) is entry:
                del self._apps[name]
            entry.retired = True
        log.info("tenant closed (moved)", tenant=name)

    def _evict(self) -> list[_Open]:
        """Entries beyond capacity, least recently used first, taken out of the cache; those
        still serving a request are closed by their last one (``_release``)."""
        closing: list[_Open] = []
        for name in list(self._apps):
            if len(self._apps) <= self.capacity:
                break
            entry = self._apps.pop(name)
            entry.retired = True
            log.info("tenant closed (cache full)", tenant=name)
            if entry.in_flight == 0:
                closing.append(entry)
        return closing

    def _release(self, entry: _Open) -> None:
        with self._lock:
            entry.in_flight -= 1
            done = entry.retired and entry.in_flight == 0
        if done:
            self._close(entry)

    @staticmethod
    def _close(entry: _Open) -> None:
        entry.services.close()

    def open_tenants(self) -> list[str]:
        with self._lock:
            return list(self._apps)

    def close(self) -> None:
        with self._lock:
            entries = list(self._apps.values())
            self._apps.clear()
        for entry in entries:
            self._close(entry)


def _tenant_of(scope: Scope) -> tuple[str | None, bool]:
    """The tenant the request names, and whether it was named by ``?tenant=`` (the portal's
    sign-in page, before any session)."""
    headers = Headers(scope=scope)
    key = presented_key(headers)
    if key is not None:
        return tenant_of_key(key), False
    cookies = _cookies(headers)
    session = cookies.get(SESSION_COOKIE)
    if session:
        found = tenant_of_token(session)
        if found is not None:
            return found, False
    if not scope["path"].startswith(PORTAL_PREFIX):
        return None, False
    asked = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("tenant")
    if asked:
        try:
            return tenant_name(asked[0]), True
        except InvalidInput:
            return None, False
    chosen = cookies.get(TENANT_COOKIE)
    if chosen:
        try:
            return tenant_name(chosen), False
        except InvalidInput:
            return None, False
    return None, False


def _cookies(headers: Headers) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(headers.get("cookie", ""))
    except Exception:  # a malformed Cookie header names no tenant
        return {}
    return {key: morsel.value for key, morsel in jar.items()}


def _setting_tenant_cookie(send: Send, name: str) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            cookie = f"{TENANT_COOKIE}={name}; Path={PORTAL_PREFIX}; HttpOnly; SameSite=Lax"
            message = {
                **message,
                "headers": [*message.get("headers", []), (b"set-cookie", cookie.encode("ascii"))],
            }
        await send(message)

    return sending


async def _lifespan(receive: Receive, send: Send, close: Callable[[], None]) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await run_in_threadpool(close)
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _json(
    send: Send,
    status: int,
    doc: dict[str, Any],
    content_type: str,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    await _body(send, status, json.dumps(doc).encode(), content_type, extra)


async def _body(
    send: Send,
    status: int,
    body: bytes,
    content_type: str,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    await send(
        {"type": "http.response.start", "status": status, "headers": headers + (extra or [])}
    )
    await send({"type": "http.response.body", "body": body})


def serve_tenants(directory: Directory, host: str, port: int, capacity: int) -> None:
    """``tollbook serve --role api`` with a control database and no ``--tenant``: the API and
    portal of every tenant in the directory, until SIGTERM/SIGINT."""
    import uvicorn

    apps = TenantApps(directory, capacity=capacity)
    log.info("serving tenants", host=host, port=port, capacity=capacity)
    config = uvicorn.Config(
        apps, host=host, port=port, log_level="warning", log_config=None, access_log=False
    )
    try:
        uvicorn.Server(config).run()
    finally:
        apps.close()
        log.info("stopped", role="api", tenants=True)
