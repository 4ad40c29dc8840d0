"""A write route's ordinary request, served without FastAPI's per-request dependency solving.

A ``POST /payments`` spent ~0.3-0.4 ms of its ~1.5 ms of CPU in FastAPI's request handler
before the endpoint ran: solving the dependency tree (the services, the key check and its two
OpenAPI-only security sub-dependencies), re-deriving each dependency's kind and cache key, and
one thread hop per synchronous dependency. ``WriteRoute`` serves the request that needs none of
that — a JSON body that FastAPI's own validation accepts, a live key whose scope allows the
route — with the same steps in the same order, and hands anything else to FastAPI's own
handler, which answers it exactly as before (a bad body, a missing or refused key, another
content type, an empty body). The route, its OpenAPI operation, the middlewares, the exception
handlers and the endpoint itself are FastAPI's and unchanged; only the request's plumbing is
shorter:

- the body is read and parsed as FastAPI does (``application/json`` only; anything else, and
  any body FastAPI would refuse, goes to FastAPI) and validated by FastAPI's own
  ``request_body_to_args`` against the route's own body field;
- path parameters are validated by their own fields;
- the key is checked by the same ``authenticate`` (on the event loop where that is cheaper,
  else in the endpoint's own worker-thread hop, before the endpoint runs: one hop, not two);
- the endpoint is called with the values FastAPI would pass (the request, a fresh sub-response,
  the services, the key) in one worker-thread hop.

A route is served this way only when every parameter of its endpoint is one of those kinds and
the endpoint answers with a ``Response`` (so there is no response model to apply); otherwise it
is FastAPI's handler alone. While any dependency is overridden (``app.dependency_overrides``),
every request goes to FastAPI's handler, which knows what replaces what.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response
from fastapi import routing as fastapi_routing
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from adapters.app.api_keys import ApiKey, Scope, allows
from adapters.app.context import Services
from adapters.http.conditional import presented_key
from adapters.http.deps import KEY_SCOPE, services

try:  # FastAPI's own body validation; not public API, so a FastAPI without it is served whole
    from fastapi.dependencies.utils import request_body_to_args
except ImportError:  # pragma: no cover - FastAPI as pinned in pyproject.toml has it
    request_body_to_args = None  # type: ignore[assignment]

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
#: the endpoint was not run: FastAPI's handler answers the request
_DECLINED = object()


class WriteRoute(APIRoute):
    """An ``APIRoute`` whose ordinary requests skip FastAPI's dependency solving (see above)."""

    def get_route_handler(self) -> Handler:
        general = super().get_route_handler()
        # FastAPI 0.165 builds the handler of an included route from the route as included
        # (its context, set while this runs); the route itself otherwise
        context = getattr(fastapi_routing, "_effective_route_context_var", None)
        found = context.get() if context is not None else None
        included = found is not None and getattr(found, "original_route", None) is self
        lane = Lane.of(found if included else self)
        if lane is None:
            return general

        async def handle(request: Request) -> Response:
            answer = await lane.serve(request)
            return answer if answer is not None else await general(request)

        return handle


@dataclass(frozen=True)
class Lane:
    """How one eligible route's ordinary request is served."""

    dependant: Dependant
    embed_body_fields: bool
    call: Callable[..., Any]
    service_names: list[str]
    key_names: list[tuple[str, Scope]]
    #: the app whose ``dependency_overrides`` FastAPI consults (tests replace dependencies)
    overrides_provider: Any

    @classmethod
    def of(cls, route: Any) -> Lane | None:
        """The lane for ``route``, or None when any of its parameters is of another kind."""
        if request_body_to_args is None:
            return None
        dependant: Dependant | None = getattr(route, "dependant", None)
        call = getattr(dependant, "call", None)
        if dependant is None or call is None or inspect.iscoroutinefunction(call):
            return None
        if getattr(route, "methods", None) != {"POST"} or not dependant.body_params:
            return None
        if inspect.signature(call).return_annotation not in (Response, "Response"):
            return None
        if (
            dependant.query_params
            or dependant.header_params
            or dependant.cookie_params
            or dependant.websocket_param_name
            or dependant.http_connection_param_name
            or dependant.background_tasks_param_name
            or dependant.security_scopes_param_name
        ):
            return None
        service_names: list[str] = []
        key_names: list[tuple[str, Scope]] = []
        for sub in dependant.dependencies:
            if sub.name is None:
                return None
            if sub.call is services:
                service_names.append(sub.name)
            elif isinstance(getattr(sub.call, KEY_SCOPE, None), str):
                key_names.append((sub.name, getattr(sub.call, KEY_SCOPE)))
            else:
                return None
        if len(key_names) != 1:
            return None  # a write route checks one key; anything else is FastAPI's
        embed = bool(getattr(route, "_embed_body_fields", True))
        provider = getattr(route, "dependency_overrides_provider", None)
        return cls(dependant, embed, call, service_names, key_names, provider)

    async def serve(self, request: Request) -> Response | None:
        """The endpoint's answer, or None when FastAPI's handler must answer instead."""
        if request.headers.get("content-type") != "application/json":
            return None
        if getattr(self.overrides_provider, "dependency_overrides", None):
            return None  # a dependency replaced: only FastAPI's solver knows what to call
        raw = await request.body()  # kept on the request: FastAPI's handler reads it again
        if not raw:
            return None
        try:
            received = json.loads(raw)  # what ``Request.json`` does
        except ValueError:
            return None
        values, errors = await request_body_to_args(
            self.dependant.body_params, received, self.embed_body_fields
        )
        if errors:
            return None
        for field in self.dependant.path_params:
            if field.alias not in request.path_params:
                return None
            value, errors = field.validate(
                request.path_params[field.alias], values, loc=("path", field.alias)
            )
            if errors:
                return None
            values[field.name] = value
        svc = request.app.state.services
        assert isinstance(svc, Services)
        presented = presented_key(request.headers)
        if presented is None:
            return None
        [(key_name, needed)] = self.key_names
        for name in self.service_names:
            values[name] = svc
        sub_response = Response()
        del sub_response.headers["content-length"]
        sub_response.status_code = None  # type: ignore[assignment]  # as FastAPI's
        if self.dependant.request_param_name:
            values[self.dependant.request_param_name] = request
        if self.dependant.response_param_name:
            values[self.dependant.response_param_name] = sub_response
        api_keys = svc.api_keys
        if api_keys.inline:
            key = api_keys.authenticate(presented)
            if key is None or not allows(key.scope, needed):
                return None
            request.state.api_key = key
            values[key_name] = key
            answer = await run_in_threadpool(self.call, **values)
        else:
            answer = await run_in_threadpool(
                self._checked, request, presented, needed, key_name, values
            )
            if answer is _DECLINED:
                return None
        assert isinstance(answer, Response)
        return answer

    def _checked(
        self, request: Request, presented: str, needed: Scope, key_name: str, values: dict[str, Any]
    ) -> Any:
        """On the worker thread: the key check, then (when it admits) the endpoint."""
        svc = values[self.service_names[0]] if self.service_names else request.app.state.services
        key: ApiKey | None = svc.api_keys.authenticate(presented)
        if key is None or not allows(key.scope, needed):
            return _DECLINED
        request.state.api_key = key
        values[key_name] = key
        return self.call(**values)
