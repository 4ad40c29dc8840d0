"""Reads answered cheaply: ``ETag`` / ``If-None-Match`` (304), pages kept while nothing
changed, and JSON written without FastAPI's generic encoder.

- One resource (``GET /invoices/{ref}``): the ETag is the aggregate's version, ``"N"`` (the
  one ``If-Match`` takes back). The document also depends on the day: an issued invoice turns
  ``overdue`` after its due date with no new version. A copy made on or before the due date
  is still right on any day up to it, so a matching ``If-None-Match`` is answered 304 unless
  the invoice is overdue now; an overdue invoice is always sent whole (the copy may predate
  it).
- A list (``GET /invoices``, ``GET /balances``): the weak ETag ``W/"P-D"`` names the position
  ``P`` of the log the read model has applied and the day ``D`` the document was made for; any
  new event or a new day gives a new tag. A page made at a tag is kept (``PageCache``) and sent
  again, byte for byte, to anyone asking for the same URL while the tag holds.
- 304 answers carry the ETag and no body. A malformed ``If-None-Match`` is refused (400
  ``invalid_if_none_match``), never taken as "no match" silently.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

import structlog
from fastapi import Request, Response
from fastapi.encoders import jsonable_encoder
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from adapters.app.api_keys import allows
from adapters.app.context import Services
from adapters.config_error import ConfigError
from adapters.http.problems import Problem
from adapters.store.stored_invoices import NEEDED
from domain.invoice_status import OPEN, on_day

log = structlog.get_logger("tollbook.http")

#: what a stored invoice document must hold to be sent (``stored_invoice``)
STORED_NEEDED = (*NEEDED, "total")

#: the kept lists: path -> the read models each is made from (its catch-up and its tag)
KEPT_LISTS: dict[str, tuple[str, ...]] = {
    "/invoices": ("invoice_register",),
    "/balances": ("balances",),
}
INVOICES = "/invoices/"


@dataclass(frozen=True)
class AnsweredRoute:
    """The route template a kept answer is counted under (``RequestMetrics`` reads
    ``path_format``, as it would of the route that made the answer): matching the path
    against every route to find it again cost 30 to 60 µs a request."""

    path_format: str


#: what a kept answer is counted under, by what it answers
KEPT_ROUTES = {
    **{path: AnsweredRoute(path) for path in KEPT_LISTS},
    INVOICES: AnsweredRoute("/invoices/{ref}"),
}

#: entity-tags taken in one If-None-Match (RFC 9110 §8.8.3 grammar); more is refused
MAX_TAGS = 64
#: the longest If-None-Match taken (characters)
MAX_HEADER = 4096
#: an entity-tag: optional weakness indicator, then opaque characters between quotes
_TAG = re.compile(r'(W/)?"([\x21\x23-\x7e]*)"')
#: what one If-None-Match looks like, for the error message
EXAMPLE = '"3" or W/"1042-20261205" or *'
#: the whole header's grammar (``*`` or 1 to ``MAX_TAGS`` tags), as the document declares it
_ONE_TAG = r'(?:W/)?"[\x21\x23-\x7e]*"'
TAG_LIST = rf"^[ \t]*(?:\*|{_ONE_TAG}(?:[ \t]*,[ \t]*{_ONE_TAG}){{0,{MAX_TAGS - 1}}})[ \t]*$"
_TAG_LIST = re.compile(TAG_LIST)

#: the OpenAPI declaration of what a conditional read adds (``conditional_answers``)
ETAG_HEADER = {
    "description": (
        'The version of what was answered: `"N"` (the aggregate\'s version) for one'
        ' resource, weak `W/"P-D"` for a list. Send it back in `If-None-Match` to be'
        " answered 304 while it still holds."
    ),
    "schema": {"type": "string"},
}
IF_NONE_MATCH = {
    "name": "If-None-Match",
    "in": "header",
    "required": False,
    "description": (
        "ETags of a copy the client holds (comma-separated, or `*`): 304 with no body"
        " when one still holds. At most 64 tags."
    ),
    "schema": {"type": "string", "maxLength": MAX_HEADER, "pattern": TAG_LIST},
}


def conditional_answers(model: Any) -> dict[str, Any]:
    """Route keywords for a conditional read: ``model`` as the 200 body, with its ETag, and
    the 304 answer (``answers`` in documents.py, plus the header and the 304)."""
    return {
        "status_code": 200,
        "response_model": None,
        "responses": {
            200: {"model": model, "description": "The document.", "headers": {"ETag": ETAG_HEADER}},
            304: {
                "description": "Not modified: the If-None-Match tag still holds (no body).",
                "headers": {"ETag": ETAG_HEADER},
            },
        },
        "openapi_extra": {"parameters": [IF_NONE_MATCH]},
    }


def presented_tags(request: Request) -> set[str] | None:
    """The opaque parts of the If-None-Match tags (weak and strong compare alike, RFC 9110
    §13.1.2), ``{"*"}`` for ``*``, None without the header; 400 when it is malformed."""
    return parse_tags(request.headers.get("if-none-match"))


def parse_tags(header: str | None, name: str = "If-None-Match") -> set[str] | None:
    """The tags of an ``If-None-Match`` or ``If-Match`` header (``name``); 400
    ``invalid_if_none_match`` / ``invalid_if_match`` when it is not the RFC 9110 grammar
    (a tag may hold a comma: the header is read tag by tag, never split on commas)."""
    if header is None:
        return None
    code = "invalid_" + name.lower().replace("-", "_")
    if len(header) > MAX_HEADER:
        raise Problem(400, code, f"{name} is longer than {MAX_HEADER} characters")
    if header.count('"') > 2 * MAX_TAGS:
        raise Problem(400, code, f"{name} holds at most {MAX_TAGS} entity tags")
    if not _TAG_LIST.fullmatch(header):
        raise Problem(
            400, code, f"{name} must be * or a comma-separated list of entity tags ({EXAMPLE})"
        )
    if header.strip(" \t") == "*":
        return {"*"}
    return {found.group(2) for found in _TAG.finditer(header)}


def holds(presented: set[str] | None, current: str) -> bool:
    """Whether a presented tag names ``current`` (its opaque part)."""
    return presented is not None and ("*" in presented or current in presented)


def not_modified(tag: str) -> Response:
    """304: no body, the ETag that still holds."""
    return Response(status_code=304, headers={"ETag": tag})


def list_tag(position: int, today: date) -> str:
    return f'W/"{position}-{today:%Y%m%d}"'


def opaque(tag: str) -> str:
    return tag.removeprefix("W/").strip('"')


def document(content: Any, response: Response | None = None, status_code: int = 200) -> Response:
    """``content`` as JSON, the bytes FastAPI would send (``JSONResponse``), with the headers
    set on ``response``. Documents built by adapters/views.py are JSON values already, so
    FastAPI's ``jsonable_encoder`` walk (the largest cost of a page of 50) is skipped; anything
    else still goes through it."""
    try:
        body = json_bytes(content)
    except (TypeError, ValueError):
        body = json_bytes(jsonable_encoder(content))
    answer = Response(body, status_code, media_type="application/json")
    if response is not None:
        _copy_headers(response.headers.items(), answer)
    return answer


_OWN = frozenset({"content-length", "content-type"})


def _copy_headers(headers: Any, answer: Response) -> None:
    for name, value in headers:
        if name.lower() not in _OWN:
            answer.headers.append(name, value)


def json_bytes(content: Any) -> bytes:
    # exactly JSONResponse.render
    return json.dumps(
        content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode("utf-8")


@dataclass(frozen=True)
class Kept:
    """An answer as sent: what it was made at (``tag``), its body and headers; ``revalidate``
    when a copy of it may not be answered 304 (an overdue invoice)."""

    tag: str
    body: bytes
    headers: tuple[tuple[str, str], ...]
    revalidate: bool = False

    def response(self) -> Response:
        answer = Response(self.body, media_type="application/json")
        _copy_headers(self.headers, answer)
        return answer


#: megabytes of kept answers per process (``TOLLBOOK_READ_CACHE_MB``; 0 keeps none)
READ_CACHE_MB = 16


def read_cache_bytes(environ: Mapping[str, str] | None = None) -> int:
    """``TOLLBOOK_READ_CACHE_MB`` (whole megabytes, 0 to 4096) in bytes; ConfigError else."""
    text = (os.environ if environ is None else environ).get("TOLLBOOK_READ_CACHE_MB", "").strip()
    if not text:
        return READ_CACHE_MB * 1024 * 1024
    if not (text.isascii() and text.isdigit() and len(text) <= 4 and int(text) <= 4096):
        raise ConfigError("TOLLBOOK_READ_CACHE_MB must be a whole number of megabytes, 0 to 4096")
    return int(text) * 1024 * 1024


class PageCache:
    """Answers as sent, by URL (or resource), while their tag holds: a page is made once per
    change of the log (or day), a document once per version (and day), however many clients
    ask for it. Bounded in bytes; the least recently used go first."""

    def __init__(self, max_bytes: int = READ_CACHE_MB * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._pages: OrderedDict[str, Kept] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def holds_any(self, url: str) -> bool:
        """Whether something is kept for ``url`` (at whatever tag): worth asking for the tag."""
        return url in self._pages

    def get(self, url: str, tag: str) -> Kept | None:
        with self._lock:
            kept = self._pages.get(url)
            if kept is None or kept.tag != tag:
                return None
            self._pages.move_to_end(url)
            return kept

    def put(self, url: str, kept: Kept) -> None:
        if len(kept.body) > self.max_bytes // 8:
            return  # a page this large is made each time rather than crowd out the others
        with self._lock:
            old = self._pages.pop(url, None)
            if old is not None:
                self._bytes -= len(old.body)
            self._pages[url] = kept
            self._bytes += len(kept.body)
            while self._bytes > self.max_bytes and self._pages:
                _, dropped = self._pages.popitem(last=False)
                self._bytes -= len(dropped.body)


def pages_of(request: Request) -> PageCache:
    """The application's page cache (one per app: each serves one ledger)."""
    state = request.app.state
    cache = getattr(state, "tollbook_pages", None)
    if cache is None:  # two first requests may each make one: the last one stays, no harm
        cache = state.tollbook_pages = PageCache()
    assert isinstance(cache, PageCache)
    return cache


def list_url(path: str, query: str) -> str:
    return f"{path}?{query}"


def invoice_key(invoice_id: object) -> str:
    return f"invoice/{invoice_id}"


def version_tag(version: int, today: date) -> str:
    return f"{version}@{today.isoformat()}"


def _answer_kept(kept: Kept, presented: set[str] | None, current: str, etag: str) -> Response:
    if not kept.revalidate and holds(presented, current):
        return not_modified(etag)
    return kept.response()


class KeptReads:
    """Pure ASGI middleware answering a GET of a kept read before routing: when the caller's
    key is live with read scope and the read still stands where its kept answer was made
    (one query for both: ``ReadProbe`` on SQLite; on PostgreSQL ``GroupedProbe``, which asks
    for every request waiting at the same time at once, never for one that came in after it
    asked), the kept bytes are sent (or 304). Anything else (no
    key, a refused key, a malformed If-None-Match, nothing kept, the tag moved, a database
    error) goes on to the application, which answers as it always does and keeps the answer
    for the next caller."""

    def __init__(self, app: ASGIApp, services: Services, pages: PageCache) -> None:
        self.app = app
        self.services = services
        self.pages = pages

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            answer = await self._kept(scope)
            if answer is not None:
                path: str = scope["path"]
                scope["route"] = KEPT_ROUTES.get(path) or KEPT_ROUTES[INVOICES]
                await answer(scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _kept(self, scope: Scope) -> Response | None:
        path: str = scope["path"]
        names = KEPT_LISTS.get(path)
        query = scope["query_string"].decode("latin-1")
        invoice_id: UUID | None = None
        if names is not None:
            url = list_url(path, query)
        elif path.startswith(INVOICES) and not query:
            try:
                invoice_id = UUID(path[len(INVOICES) :])
            except ValueError:
                return None
            url = invoice_key(invoice_id)
        else:
            return None
        probe = self.services.read_probe()
        if probe is None:
            return None
        held = self.pages.holds_any(url)
        # a first read of one invoice: its stored document, where the store gives it
        first = not held and invoice_id is not None and probe.documents
        if not held and not first:
            return None
        headers = Headers(scope=scope)
        key = presented_key(headers)
        if key is None:
            return None
        try:
            presented = parse_tags(headers.get("if-none-match"))
        except Problem:
            return None
        try:
            if names is not None:
                found = await probe.list_position(key, names)
            else:
                assert invoice_id is not None
                found = await probe.version(key, invoice_id, document=first)
        except Exception:  # the application answers, and says what is wrong
            log.debug("kept read: probe failed", exc_info=True)
            return None
        if found.scope is None or not allows(found.scope, "read") or found.position is None:
            return None
        today = self.services.ledger.today()
        if names is not None:
            tag = list_tag(found.position, today)
            kept = self.pages.get(url, tag)
            return None if kept is None else _answer_kept(kept, presented, opaque(tag), tag)
        kept = self.pages.get(url, version_tag(found.position, today))
        if kept is None and found.document is not None:
            kept = stored_invoice(found.document, found.position, today)
            if kept is not None:
                self.pages.put(url, kept)
        if kept is None:
            return None
        return _answer_kept(kept, presented, str(found.position), f'"{found.position}"')


def stored_invoice(stored: dict[str, Any], version: int, today: date) -> Kept | None:
    """One invoice's answer made from its stored document (the invoice documents read model,
    at ``version``, the invoice's current one): the bytes, ETag and keeping rule of
    ``GET /invoices/{ref}``, whose document is the same function of the same fold
    (adapters/views.py) with the day's status (``on_day``) applied. None (the route answers)
    for a document this does not know: amounts that could not be computed, a key missing,
    an open invoice without a due date."""
    if "error" in stored or stored.get("version") != version:
        return None
    if any(name not in stored for name in STORED_NEEDED):
        return None
    status, due = stored["status"], stored["due_date"]
    if due is None and status in OPEN:
        return None
    day_status = on_day(status, date.fromisoformat(due), today) if due else status
    content = {**stored, "status": day_status}
    response = Response()
    response.headers["ETag"] = f'"{version}"'
    answer = document(content, response)
    # as the route: a copy made before it turned overdue says otherwise, at the same version
    revalidate = content["total"] is None or day_status == "overdue"
    return Kept(
        version_tag(version, today), bytes(answer.body), tuple(response.headers.items()), revalidate
    )


def presented_key(headers: Headers) -> str | None:
    """The API key a request presents: ``Authorization: Bearer`` or ``X-API-Key``."""
    header = headers.get("authorization")
    if header:
        kind, _, value = header.partition(" ")
        if kind.lower() == "bearer" and value.strip():
            return value.strip()
        return None
    return headers.get("x-api-key") or None


def cached_document(
    request: Request,
    key: str,
    version: int | None,
    today: date,
    make: Callable[[Response], tuple[int, Any, bool]],
) -> Response:
    """One aggregate's document: ``make(response)`` loads it and gives (its version, its
    document, whether a copy needs revalidating) with headers set on ``response``.

    ``version`` is the aggregate's current version, read cheaply beforehand (None: not found
    there, ``make`` says why). The document made at a version (and day) is kept under
    ``key`` and sent again while both hold; If-None-Match naming the version is answered
    304 unless the document says a copy must be revalidated."""
    presented = presented_tags(request)
    cache = pages_of(request)
    kept = None if version is None else cache.get(key, version_tag(version, today))
    if kept is None:
        response = Response()
        made_version, content, revalidate = make(response)
        answer = document(content, response)
        tag = version_tag(made_version, today)
        kept = Kept(tag, bytes(answer.body), tuple(response.headers.items()), revalidate)
        cache.put(key, kept)
        version = made_version
    return _answer_kept(kept, presented, str(version), f'"{version}"')


def cached_page(request: Request, tag: str | None, make: Callable[[Response], Any]) -> Response:
    """A list page: ``make(response)`` gives its documents (headers set on ``response``).

    With a ``tag`` the page made for this URL is kept and sent again while the tag holds, and
    If-None-Match naming the tag is answered 304; only a page that was made (its query
    valid) is ever answered 304. Without a tag (a read model behind the log) the page is
    made each time and carries no ETag."""
    presented = presented_tags(request)
    if tag is None:
        response = Response()
        return document(make(response), response)
    cache = pages_of(request)
    url = list_url(request.url.path, request.url.query)
    kept = cache.get(url, tag)
    if kept is None:
        response = Response()
        response.headers["ETag"] = tag
        answer = document(make(response), response)
        cache.put(url, Kept(tag, bytes(answer.body), tuple(response.headers.items())))
        return not_modified(tag) if holds(presented, opaque(tag)) else answer
    if holds(presented, opaque(tag)):
        return not_modified(tag)
    return kept.response()
