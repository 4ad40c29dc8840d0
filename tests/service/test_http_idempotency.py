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
    assert [p["amount"] for p in ok(reader.get("/payments"))] == ["1.00"]


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


def test_a_key_left_in_progress_by_a_crash_is_taken_over_later(services):
    from datetime import UTC, datetime, timedelta

    from adapters.http.idempotency import IdempotencyStore

    moments = [datetime(2026, 11, 1, 12, 0, tzinfo=UTC)]
    store = IdempotencyStore(services.db, abandoned_after=60, clock=lambda: moments[-1])
    assert store.claim("owner", "k", "fp-1") is None  # claimed, then the process dies
    in_progress = store.claim("owner", "k", "fp-1")
    assert in_progress is not None and in_progress.status is None
    moments.append(moments[-1] + timedelta(seconds=61))
    assert store.claim("owner", "k", "fp-1") is None  # taken over
    store.finish("owner", "k", 201, {"content-type": "application/json"}, '{"id": 1}')
    replay = store.claim("owner", "k", "fp-1")
    assert replay is not None and (replay.status, replay.body) == (201, '{"id": 1}')


def test_a_concurrent_duplicate_is_told_to_retry(services, writer):
    from starlette.datastructures import Headers

    from adapters.http.idempotency import _credential, _fingerprint

    body = b'{"account_number": "A", "name": "A"}'
    owner = _credential(Headers({"authorization": f"Bearer {writer.key}"}))
    fingerprint = _fingerprint({"method": "POST", "path": "/customers", "query_string": b""}, body)
    # the first request has claimed the key and is still running
    services.idempotency.claim(owner, "busy", fingerprint)
    response = writer.client.post(
        "/customers",
        content=body,
        headers={
            "Authorization": f"Bearer {writer.key}",
            "Content-Type": "application/json",
            "Idempotency-Key": "busy",
        },
    )
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_in_progress"
    assert response.headers["retry-after"] == "1"
    assert writer.get("/customers").json() == []


def test_keys_are_kept_for_a_day_then_pruned_and_a_reused_key_runs_anew(services):
    from datetime import UTC, datetime, timedelta

    from adapters.http.idempotency import IdempotencyStore

    moments = [datetime(2026, 11, 1, 12, 0, tzinfo=UTC)]
    store = IdempotencyStore(services.db, clock=lambda: moments[-1])
    assert store.claim("owner", "old", "fp-old") is None
    store.finish("owner", "old", 201, {}, '{"id": 1}')
    moments.append(moments[-1] + timedelta(hours=23))
    assert store.claim("owner", "recent", "fp-recent") is None
    store.finish("owner", "recent", 201, {}, '{"id": 2}')
    kept = store.claim("owner", "old", "fp-old")  # 23 hours on: still replayed
    assert kept is not None and kept.body == '{"id": 1}'

    moments.append(moments[0] + timedelta(hours=24, minutes=30))
    # the first claim after ten minutes prunes what is over a day old, then claims afresh
    assert store.claim("owner", "old", "fp-other") is None
    replay = store.claim("owner", "recent", "fp-recent")
    assert replay is not None and replay.body == '{"id": 2}'
    with services.db.connect() as conn:
        keys = sorted(row[0] for row in conn.execute("SELECT idem_key FROM idempotency_keys"))
    assert keys == ["old", "recent"]
    assert store.prune(moments[-1] + timedelta(days=2)) == 2
