"""Routers that skip requests for other parts of the API still route every request as before:
the same route, the same 404 and 405, the same answer under a root path."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from starlette.routing import Match

from adapters.http.routing import Router, head


def app_with(*routers: Router, root_path: str = "") -> TestClient:
    app = FastAPI()
    for router in routers:
        app.include_router(router)
    return TestClient(app, root_path=root_path)


def router_of(*routes: tuple[str, str, str]) -> Router:
    """A router answering ``{"route": name, **path parameters}`` at each (method, path, name)."""
    router = Router()
    for method, path, name in routes:

        def answer(request: Request, name: str = name) -> dict[str, str]:
            return {"route": name, **request.path_params}

        router.add_api_route(path, answer, methods=[method])
    return router


def invoices() -> Router:
    return router_of(("GET", "/invoices", "list"), ("GET", "/invoices/{ref}", "show"))


def payments() -> Router:
    return router_of(("POST", "/payments/{ref}/allocations", "allocate"))


def catch_all() -> Router:
    return router_of(("GET", "/{page}", "any"))


def test_head_is_the_first_path_segment() -> None:
    assert head("/invoices/INV-1") == "invoices"
    assert head("/invoices") == "invoices"
    assert head("/") == ""
    assert head("/payments/") == "payments"


def test_a_path_starting_with_none_of_its_segments_is_no_match_at_once() -> None:
    router = payments()
    scope = {"type": "http", "method": "POST", "path": "/invoices/p1/allocations"}
    assert router.matches(scope) == (Match.NONE, {})


def test_requests_reach_their_route_past_routers_for_other_paths() -> None:
    client = app_with(invoices(), payments())
    assert client.post("/payments/p1/allocations").json() == {"route": "allocate", "ref": "p1"}
    assert client.get("/invoices/INV-1").json() == {"route": "show", "ref": "INV-1"}
    assert client.get("/invoices").json() == {"route": "list"}


def test_unknown_paths_and_wrong_methods_answer_as_before() -> None:
    client = app_with(invoices(), payments())
    assert client.get("/nothing/here").status_code == 404
    assert client.get("/payments/p1/allocations").status_code == 405  # the path matches
    assert client.delete("/invoices/INV-1").status_code == 405


def test_a_router_with_a_parameter_first_segment_is_always_asked() -> None:
    router = catch_all()
    assert router.heads() is None
    client = app_with(invoices(), router)
    assert client.get("/anything-else").json() == {"route": "any", "page": "anything-else"}
    assert client.get("/invoices/INV-2").json() == {"route": "show", "ref": "INV-2"}


def test_routes_added_later_are_seen() -> None:
    router = payments()
    assert router.heads() == frozenset({"payments"})
    router.add_api_route("/balances", lambda: {"route": "balances"}, methods=["GET"])
    assert router.heads() == frozenset({"payments", "balances"})
    assert app_with(router).get("/balances").json() == {"route": "balances"}


def test_under_a_root_path_routes_match_as_before() -> None:
    client = app_with(invoices(), payments(), root_path="/api")
    assert client.get("/api/invoices/INV-3").json() == {"route": "show", "ref": "INV-3"}
    assert client.post("/api/payments/p2/allocations").json() == {
        "route": "allocate",
        "ref": "p2",
    }
