"""What route handlers share: the services, the caller's API key, ETags and If-Match."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from adapters.app.api_keys import ApiKey, ApiKeys, Scope, allows
from adapters.app.context import Services
from adapters.http.conditional import parse_tags, presented_key
from adapters.http.problems import Problem
from domain.aggregate import Aggregate


# The dependencies are coroutines: FastAPI runs a plain function on the thread pool, one hop
# per dependency per request; the key's look-up is the one hop these make.
async def services(request: Request) -> Services:
    found = request.app.state.services
    assert isinstance(found, Services)
    return found


# Declared so the OpenAPI document names the two ways to present a key (either will do); the
# key itself is read and refused (as a problem document) by ``require``, not by these.
bearer = HTTPBearer(
    scheme_name="bearer", description="An API key: `tollbook apikey create`", auto_error=False
)
api_key_header = APIKeyHeader(
    name="X-API-Key", scheme_name="apiKey", description="The same key", auto_error=False
)


async def authenticate(api_keys: ApiKeys, presented: str) -> ApiKey | None:
    """``api_keys.authenticate`` on the event loop's thread where that is cheaper than the hop
    to a worker thread (``ApiKeys.inline``), else on a worker thread."""
    if api_keys.inline:
        return api_keys.authenticate(presented)
    return await run_in_threadpool(api_keys.authenticate, presented)


#: the scope a key check admits, on the check itself (``write_lane`` runs the same check)
KEY_SCOPE = "tollbook_key_scope"


def require(needed: Scope) -> Callable[..., Coroutine[Any, Any, ApiKey]]:
    """A dependency admitting only live keys whose scope covers ``needed``."""

    async def check(
        request: Request,
        _bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
        _header: Annotated[str | None, Depends(api_key_header)],
    ) -> ApiKey:
        presented = presented_key(request.headers)
        if presented is None:
            raise Problem(
                401,
                "unauthorised",
                "an API key is required: send 'Authorization: Bearer <key>'",
                {"WWW-Authenticate": 'Bearer realm="tollbook"'},
            )
        key = await authenticate((await services(request)).api_keys, presented)
        if key is None:
            raise Problem(
                401,
                "unauthorised",
                "the API key is unknown or revoked",
                {"WWW-Authenticate": 'Bearer realm="tollbook", error="invalid_token"'},
            )
        if not allows(key.scope, needed):
            raise Problem(
                403,
                "forbidden",
                f"API key {key.name!r} has scope {key.scope!r}; this needs {needed!r}",
            )
        request.state.api_key = key
        return key

    setattr(check, KEY_SCOPE, needed)
    return check


Svc = Annotated[Services, Depends(services)]
Reader = Annotated[ApiKey, Depends(require("read"))]
Writer = Annotated[ApiKey, Depends(require("write"))]
Admin = Annotated[ApiKey, Depends(require("admin"))]


def etag(version: int) -> str:
    return f'"{version}"'


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = etag(version)


def check_if_match(request: Request, aggregate: Aggregate) -> int | None:
    """Honour ``If-Match``: refuse (412) an edit made against a version that is not current.

    Returns the version the command must find (its ``expected_version``): the ledger checks
    it again when the command loads the aggregate (also on a retry after a race), so a write
    landing in between is a 412, never overwritten. Without the header (None) the edit
    applies to whatever is current (the ledger still refuses anything its rules forbid);
    ``*`` matches any version.
    """
    header = request.headers.get("if-match")
    tags = parse_tags(header, "If-Match")  # a malformed header: 400 invalid_if_match
    if header is None or tags is None or "*" in tags:
        return None
    if str(aggregate.version) not in tags:
        raise version_mismatch(header, aggregate.version)
    return aggregate.version


def version_mismatch(header: str, current_version: int) -> Problem:
    return Problem(
        412,
        "version_mismatch",
        f"If-Match {header} does not match the current version {etag(current_version)}",
        {"ETag": etag(current_version)},
        current_version=current_version,
    )
