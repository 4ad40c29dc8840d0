"""Hostile Idempotency-Key headers and replays: each refused with its exact problem code, and
not one event written by the refusal."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import event_count
from tests.service import conftest as service
from tests.service.conftest import Api, make_customer, ok

# The HTTP fixtures of the service tier, on the test's store.
services = service.services
keys = service.keys
client = service.client
writer = service.writer
admin = service.admin
receiver_factory = service.receiver_factory
quiet_logs = service._logs_to_this_tests_stderr
local_receivers = service._webhooks_may_reach_the_local_receivers

#: Header values as raw bytes, so nothing between the test and the server tidies them up.
BAD_KEYS: dict[str, bytes] = {
    "empty": b"",
    "one space": b" ",
    "only spaces": b"     ",
    "256 characters": b"k" * 256,
    "300 characters": b"k" * 300,
    "64 KiB": b"k" * 65536,
    "leading space": b" key-1",
    "trailing space": b"key-1 ",
    "NUL": b"key\x00one",
    "tab": b"key\tone",
    "carriage return": b"key\rone",
    "line feed": b"key\none",
    "CRLF header injection": b"key\r\nX-Evil: 1",
    "escape (ANSI colour)": b"key\x1b[31mred",
    "bell": b"key\x07",
    "DEL": b"key\x7f",
    "Latin-1 byte": b"cl\xe9",
    "UTF-8 e-acute": "clé".encode(),
    "right-to-left override": "key\u202eevil".encode(),
    "zero-width space": "key\u200bone".encode(),
    "emoji": "key-\U0001f4b8".encode(),
    "fullwidth digits": "\uff11\uff12\uff13".encode(),
}

ROUTES: dict[str, tuple[str, Any]] = {
    "payment": ("/payments", {"customer": "ACME", "amount": "10.00"}),
    "customer": ("/customers", {"account_number": "NEW", "name": "New Ltd"}),
    "invoice": ("/invoices", {"customer": "ACME"}),
}


def send(api: Api, path: str, body: Any, *key_headers: bytes) -> Any:
    headers: list[tuple[bytes, bytes]] = [
        (b"authorization", f"Bearer {api.key}".encode()),
        (b"content-type", b"application/json"),
    ]
    headers += [(b"idempotency-key", value) for value in key_headers]
    import json

    return api.client.post(path, content=json.dumps(body).encode(), headers=headers)


def refused(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code
    assert response.json()["type"] == f"/problems/{code}"


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("bad", BAD_KEYS)
def test_a_bad_key_is_refused_before_anything_runs(writer, services, route, bad):
    make_customer(writer)
    events = event_count(services.ledger)
    path, body = ROUTES[route]
    refused(send(writer, path, body, BAD_KEYS[bad]), 400, "invalid_idempotency_key")
    assert event_count(services.ledger) == events


@pytest.mark.parametrize("route", ROUTES)
def test_two_key_headers_are_refused(writer, services, route):
    make_customer(writer)
    events = event_count(services.ledger)
    path, body = ROUTES[route]
    refused(send(writer, path, body, b"one", b"two"), 400, "invalid_idempotency_key")
    refused(send(writer, path, body, b"same", b"same"), 400, "invalid_idempotency_key")
    assert event_count(services.ledger) == events


@pytest.mark.parametrize("length", [1, 2, 128, 254, 255])
def test_keys_up_to_the_limit_are_accepted(writer, services, length):
    make_customer(writer)
    events = event_count(services.ledger)
    response = send(writer, "/payments", {"customer": "ACME", "amount": "1"}, b"k" * length)
    assert response.status_code == 201, response.text
    assert event_count(services.ledger) == events + 2  # the payment and its key's record


REUSES: dict[str, tuple[str, Any]] = {
    "another amount": ("/payments", {"customer": "ACME", "amount": "10.01"}),
    "another field": ("/payments", {"customer": "ACME", "amount": "10.00", "reference": "x"}),
    "same fields, reordered": ("/payments", {"amount": "10.00", "customer": "ACME"}),
    "another route": ("/invoices", {"customer": "ACME"}),
    "a query string": ("/payments?dry=1", {"customer": "ACME", "amount": "10.00"}),
    "a trailing slash": ("/payments/", {"customer": "ACME", "amount": "10.00"}),
    "a customer": ("/customers", {"account_number": "X", "name": "X"}),
    "an empty body": ("/payments", {}),
}


@pytest.mark.parametrize("reuse", REUSES)
def test_a_key_reused_for_another_request_is_refused(writer, services, reuse):
    make_customer(writer)
    ok(send(writer, "/payments", {"customer": "ACME", "amount": "10.00"}, b"pay-1"), 201)
    events = event_count(services.ledger)
    path, body = REUSES[reuse]
    refused(send(writer, path, body, b"pay-1"), 422, "idempotency_key_reused")
    assert event_count(services.ledger) == events
    assert len(ok(writer.get("/payments"))) == 1


@pytest.mark.parametrize(
    "case",
    ["same key other case", "same key with a suffix", "a prefix of the key"],
)
def test_near_misses_are_other_keys_not_replays(writer, services, case):
    """Keys are compared exactly: a near miss is a new request, which runs (and a replay of the
    original still answers the original)."""
    make_customer(writer)
    body = {"customer": "ACME", "amount": "10.00"}
    first = ok(send(writer, "/payments", body, b"Pay-Key"), 201)
    other = {"same key other case": b"pay-key", "same key with a suffix": b"Pay-Key2"}.get(
        case, b"Pay"
    )
    events = event_count(services.ledger)
    second = send(writer, "/payments", body, other)
    assert second.status_code == 201
    assert "idempotent-replayed" not in second.headers
    assert second.json()["id"] != first["id"]
    assert event_count(services.ledger) == events + 2
    assert send(writer, "/payments", body, b"Pay-Key").json() == first


@pytest.mark.parametrize(
    "credential",
    [
        None,
        "Bearer not-a-key",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
    ],
)
def test_a_replay_needs_a_live_credential(client, writer, services, credential):
    make_customer(writer)
    body = {"customer": "ACME", "amount": "10.00"}
    ok(send(writer, "/payments", body, b"pay-1"), 201)
    events = event_count(services.ledger)
    headers = {"Idempotency-Key": "pay-1"}
    if credential is not None:
        headers["Authorization"] = credential
    response = client.post("/payments", json=body, headers=headers)
    refused(response, 401, "unauthorised")
    assert event_count(services.ledger) == events


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("/payments", {"customer": "NOPE", "amount": "10.00"}, 404, "not_found"),
        ("/payments", {"customer": "ACME", "amount": "abc"}, 422, "invalid_amount"),
        ("/payments", {"customer": "ACME"}, 422, "validation_error"),
        ("/invoices/00000000-0000-0000-0000-000000000000/issue", None, 404, "not_found"),
        ("/customers", {"account_number": "ACME", "name": "Again"}, 409, "already_exists"),
    ],
)
def test_a_refused_keyed_request_writes_no_record_and_is_refused_again(
    writer, services, path, body, status, code
):
    make_customer(writer)
    events = event_count(services.ledger)
    for _ in range(2):
        response = send(writer, path, body, b"refused-1")
        assert response.status_code == status, response.text
        assert response.json()["code"] == code
        assert "idempotent-replayed" not in response.headers
    assert event_count(services.ledger) == events


def test_a_key_past_its_retention_is_refused_as_expired_and_writes_nothing(
    writer: Api, admin: Api, services: Any, clock: Any, receiver_factory: Any
) -> None:
    """With TOLLBOOK_IDEMPOTENCY_KEY_DAYS=30, a key's answer is given for 30 days after its
    first use (measured from the stored record, or the subscription's creation); later, any
    request with it is refused, 422 idempotency_key_expired, and nothing runs again: the
    record is never deleted, so the key can neither duplicate its write nor be reused."""
    services.key_retention_days = 30
    make_customer(writer)
    payment = {"customer": "ACME", "amount": "10.00"}
    first = ok(writer.post("/payments", payment, {"Idempotency-Key": "pay-old"}), 201)
    hook = {"url": receiver_factory().url}
    ok(admin.post("/webhooks", hook, {"Idempotency-Key": "hook-old"}), 201)
    clock.advance(days=29)
    replay = writer.post("/payments", payment, {"Idempotency-Key": "pay-old"})
    assert replay.status_code == 201 and replay.json() == first  # still within 30 days
    clock.advance(days=2)
    events = event_count(services.ledger)

    for response in (
        writer.post("/payments", payment, {"Idempotency-Key": "pay-old"}),
        writer.post("/payments", {**payment, "amount": "11.00"}, {"Idempotency-Key": "pay-old"}),
        admin.post("/webhooks", hook, {"Idempotency-Key": "hook-old"}),
        writer.post(
            "/customers", {"account_number": "X", "name": "X"}, {"Idempotency-Key": "pay-old"}
        ),
    ):
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "idempotency_key_expired"
        assert "longer ago than keys are kept" in response.json()["detail"]
    assert event_count(services.ledger) == events
    assert len(ok(admin.get("/webhooks"))) == 1
    assert len(ok(writer.get("/payments"))) == 1
    # a new key is a new request
    ok(writer.post("/payments", payment, {"Idempotency-Key": "pay-new"}), 201)
