"""Idempotency-Key on POST: replays return the first response and change nothing."""

from __future__ import annotations

from tests.service.conftest import Api, make_customer, ok


def test_a_replayed_post_returns_the_first_response(writer, reader):
    make_customer(writer)
    body = {"customer": "ACME", "amount": "42.00"}
    headers = {"Idempotency-Key": "pay-001"}
    first = writer.post("/payments", body, headers)
    again = writer.post("/payments", body, headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"] == first.headers["location"]
    assert "idempotent-replayed" not in first.headers
    assert len(ok(reader.get("/payments"))) == 1

    # a different key is a different request
    assert writer.post("/payments", body, {"Idempotency-Key": "pay-002"}).status_code == 201
    assert len(ok(reader.get("/payments"))) == 2


def test_the_same_key_with_another_body_is_refused(writer, reader):
    make_customer(writer)
    writer.post("/payments", {"customer": "ACME", "amount": "1"}, {"Idempotency-Key": "k"})
    reused = writer.post("/payments", {"customer": "ACME", "amount": "2"}, {"Idempotency-Key": "k"})
    assert reused.status_code == 422
    assert reused.headers["content-type"] == "application/problem+json"
    assert reused.json()["code"] == "idempotency_key_reused"
    assert [p["amount"] for p in ok(reader.get("/payments"))] == ["1"]


def test_refusals_are_replayed_too_but_auth_failures_are_not_kept(client, writer, keys):
    headers = {"Idempotency-Key": "cust-1"}
    body = {"account_number": "ACME", "name": "Acme", "tax_rate": "150"}
    first = writer.post("/customers", body, headers)
    assert first.status_code == 422
    assert writer.post("/customers", body, headers).json() == first.json()

    # a read key is refused (403); the same key then works with a write key of its own
    reader = Api(client, keys["read"])
    good = {"account_number": "ACME", "name": "Acme"}
    assert reader.post("/customers", good, {"Idempotency-Key": "c2"}).status_code == 403
    assert reader.post("/customers", good, {"Idempotency-Key": "c2"}).status_code == 403
    assert writer.post("/customers", good, {"Idempotency-Key": "c2"}).status_code == 201


def test_keys_are_scoped_to_the_caller(client, services, writer):
    other = Api(client, services.api_keys.create("other-writer", "write"))
    make_customer(writer)
    body = {"customer": "ACME", "amount": "3"}
    a = writer.post("/payments", body, {"Idempotency-Key": "same"})
    b = other.post("/payments", body, {"Idempotency-Key": "same"})
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]


def test_an_over_long_key_is_a_400(writer):
    response = writer.post(
        "/customers", {"account_number": "A", "name": "A"}, {"Idempotency-Key": "x" * 300}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_idempotency_key"
