"""The write routes' short lane (adapters/http/write_lane.py) answers every request exactly as
FastAPI's own handler does: the same status, headers and body, for ordinary writes and for
every way a request can be refused (body, content type, key, scope, domain rules, If-Match)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from adapters.app.api_keys import ApiKey
from adapters.http.deps import Writer
from adapters.http.routers import payments
from adapters.http.write_lane import Lane
from tests.service.conftest import Api, issued_invoice, make_customer, ok

UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
COMPARED_HEADERS = ("content-type", "location", "etag", "www-authenticate")


def _same_shape(text: str, account: str) -> str:
    """An answer with what differs between two runs (ids, the account, numbers) named
    in order of appearance, so the runs' answers can be compared byte for byte."""
    names: dict[str, str] = {}

    def name(found: re.Match[str]) -> str:
        return names.setdefault(found.group(0), f"<id{len(names)}>")

    text = UUID_TEXT.sub(name, text.replace(account, "<account>"))
    return re.sub(r"[A-Z]+-[0-9-]*\d", "<number>", text)


def _scenario(client: TestClient, keys: dict[str, str], account: str) -> list[tuple[Any, ...]]:
    """The same requests, on a customer of their own; each answer as (status, headers, body)."""
    write = {"Authorization": f"Bearer {keys['write']}"}
    read = {"Authorization": f"Bearer {keys['read']}"}
    json_type = {"Content-Type": "application/json"}

    make_customer(Api(client, keys["write"]), account)
    invoice = issued_invoice(Api(client, keys["write"]), account)
    good = {"customer": account, "amount": "100.00", "status": "completed"}
    answers = []

    def send(path: str, body: bytes, headers: dict[str, str]) -> Any:
        response = client.post(path, content=body, headers=headers)
        answers.append(
            (
                response.status_code,
                [_same_shape(response.headers.get(h, ""), account) for h in COMPARED_HEADERS],
                _same_shape(response.text, account),
            )
        )
        return response

    paid = send("/payments", json.dumps(good).encode(), {**write, **json_type}).json()
    send(
        "/payments",
        json.dumps(good).encode(),
        {**write, "Content-Type": "application/json; charset=utf-8"},
    )
    send("/payments", json.dumps(good).encode(), {**write, "Content-Type": "text/plain"})
    send("/payments", json.dumps(good).encode(), write)  # no content type
    send("/payments", b"", {**write, **json_type})
    send("/payments", b'{"customer": ', {**write, **json_type})
    send("/payments", b"[1, 2]", {**write, **json_type})
    send("/payments", json.dumps({**good, "amount": "-5"}).encode(), {**write, **json_type})
    send("/payments", json.dumps({**good, "colour": 1}).encode(), {**write, **json_type})
    send("/payments", json.dumps({**good, "customer": "NOPE"}).encode(), {**write, **json_type})
    send("/payments", json.dumps(good).encode(), json_type)  # no key
    send("/payments", json.dumps(good).encode(), {**read, **json_type})  # below the scope
    send("/payments", json.dumps(good).encode(), {"Authorization": "Bearer tbk_nope", **json_type})
    send("/payments", b'{"customer": ', json_type)  # no key and a broken body

    pid = paid["id"]
    allocation = {"allocations": [{"invoice": invoice["number"], "amount": "10.00"}]}
    body = json.dumps(allocation).encode()
    send(f"/payments/{pid}/allocations", body, {**write, **json_type})
    send(f"/payments/{pid}/allocations", body, {**write, **json_type, "If-Match": '"0"'})
    send(f"/payments/{pid}/allocations", body, {**write, **json_type, "If-Match": '"2"'})
    send(f"/payments/{pid}/allocations", body, {**write, **json_type, "If-Match": "nonsense"})
    too_much = {"allocations": [{"invoice": invoice["number"], "amount": "500.00"}]}
    send(f"/payments/{pid}/allocations", json.dumps(too_much).encode(), {**write, **json_type})
    send("/payments/no-such-payment/allocations", body, {**write, **json_type})
    send(f"/payments/{pid}/allocations", b'{"allocations": []}', {**write, **json_type})
    send(f"/payments/{pid}/allocations", body, {**read, **json_type})
    send(f"/payments/{pid}/cancel", b'{"reason": "typo"}', {**write, **json_type})
    send(f"/payments/{pid}/cancel", b'{"reason": "again"}', {**write, **json_type})
    return answers


def test_the_lane_answers_as_fastapis_own_handler(
    client: TestClient, keys: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    by_lane = _scenario(client, keys, "LANE")

    async def declined(self: Lane, request: Any) -> None:
        return None  # every request to FastAPI's handler

    monkeypatch.setattr(Lane, "serve", declined)
    by_fastapi = _scenario(client, keys, "FAPI")
    assert [status for status, _, _ in by_lane][:2] == [201, 201]
    for lane_answer, fastapi_answer in zip(by_lane, by_fastapi, strict=True):
        assert lane_answer == fastapi_answer


def test_the_hot_writes_take_the_lane() -> None:
    """A FastAPI upgrade that changes what a route declares must not silently send every
    write back through the dependency solver."""
    lanes = {
        route.path: Lane.of(route)
        for route in payments.router.routes
        if getattr(route, "methods", None) == {"POST"}
    }
    assert lanes["/payments"] is not None
    assert lanes["/payments/{ref}/allocations"] is not None
    assert lanes["/payments/{ref}/complete"] is None  # no body: FastAPI's handler


def test_a_write_by_the_lane_records_its_key_and_keeps_idempotency(
    client: TestClient, keys: dict[str, str]
) -> None:
    make_customer(Api(client, keys["write"]))
    write = {"Authorization": f"Bearer {keys['write']}", "Idempotency-Key": "lane-1"}
    body = {"customer": "ACME", "amount": "5.00", "status": "completed"}
    first = client.post("/payments", json=body, headers=write)
    again = client.post("/payments", json=body, headers=write)
    assert first.status_code == again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    history = ok(client.get(f"/payments/{first.json()['id']}/history", headers=write))
    assert [event["actor"] for event in history] == ["write-key"]


def test_overridden_dependencies_are_honoured(client: TestClient, keys: dict[str, str]) -> None:
    """While a dependency is overridden, FastAPI's own solver answers (it knows the override)."""
    make_customer(Api(client, keys["write"]))
    check = Writer.__metadata__[0].dependency
    stand_in = ApiKey("stand-in", "write", "tbk_…", "2026-01-01T00:00:00+00:00", None)
    client.app.dependency_overrides[check] = lambda: stand_in  # type: ignore[attr-defined]
    try:
        body = {"customer": "ACME", "amount": "5.00", "status": "completed"}
        # the key presented is a live one: only the override says whose write it is
        paid = ok(client.post("/payments", json=body, headers=_bearer(keys["write"])), 201)
    finally:
        client.app.dependency_overrides.clear()  # type: ignore[attr-defined]
    history = ok(client.get(f"/payments/{paid['id']}/history", headers=_bearer(keys["read"])))
    assert [event["actor"] for event in history] == ["stand-in"]
    refused = client.post("/payments", json=body)
    assert refused.status_code == 401


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
