"""Idempotency-Key on POST: a keyed write happens once; a replay gets the first answer back and
writes nothing — after a late error, a lost race, or (test_serve_idempotency.py) a crash."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from adapters.app.context import Services
from adapters.http import routers
from adapters.http.idempotency import owner_of
from adapters.http.replay import ROUTES
from adapters.ledger.application import Ledger
from adapters.ledger.base import LedgerBase
from adapters.service.app import create_app
from domain.errors import BillingError
from domain.idempotency import KeyAlreadyCommitted, KeyedRequest
from tests.helpers import event_count
from tests.service.conftest import Api, issued_invoice, make_customer, ok


def keyed(key: str) -> dict[str, str]:
    return {"Idempotency-Key": key}


def test_a_replayed_post_returns_the_first_response_and_writes_nothing(writer, reader, services):
    make_customer(writer)
    body = {"customer": "ACME", "amount": "42.00"}
    first = writer.post("/payments", body, keyed("pay-001"))
    events = event_count(services.ledger)
    again = writer.post("/payments", body, keyed("pay-001"))
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["etag"] == first.headers["etag"]
    assert "idempotent-replayed" not in first.headers
    assert event_count(services.ledger) == events
    assert len(ok(reader.get("/payments"))) == 1

    # a different key is a different request
    assert writer.post("/payments", body, keyed("pay-002")).status_code == 201
    assert len(ok(reader.get("/payments"))) == 2


def test_every_keyed_route_replays_exactly_its_first_answer(writer, services):
    """Each route's answer is derived again from the committed record (adapters/http/replay.py):
    this walks every one of them, changes the resources afterwards, and replays them all."""
    sent: list[tuple[str, str, Any, Any]] = []

    def post(route: str, path: str, body: Any, status: int = 200) -> Any:
        key = f"key-{len(sent)}"
        first = writer.post(path, body, keyed(key))
        assert first.status_code == status, first.text
        sent.append((route, path, body, first))
        return first.json()

    post("/packages", "/packages", {"name": "SIP", "unit_price": "10.00"}, 201)
    customer = {"account_number": "ACME", "name": "Acme", "tax_rate": "20", "currency": "GBP"}
    post("/customers", "/customers", customer, 201)
    assigned = post(
        "/customers/{ref}/assignments",
        "/customers/ACME/assignments",
        {"package": "SIP", "start_date": "2026-10-01"},
        201,
    )
    post(
        "/customers/{ref}/assignments/{assignment_id}/end",
        f"/customers/ACME/assignments/{assigned['assignment_id']}/end",
        {"end_date": "2026-12-31"},
    )
    invoice = post("/invoices", "/invoices", {"customer": "ACME"}, 201)
    line = {"description": "Calls", "quantity": "2", "unit_price": "50.00"}
    post("/invoices/{ref}/lines", f"/invoices/{invoice['id']}/lines", line, 201)
    post("/invoices/{ref}/lines", f"/invoices/{invoice['id']}/lines", line, 201)
    # an invoice discount, then one of the first line (which edits the invoice discount's line)
    post("/invoices/{ref}/discounts", f"/invoices/{invoice['id']}/discounts", {"amount": "9"}, 201)
    line_discount = {"percent": "10", "line": "1"}
    post("/invoices/{ref}/discounts", f"/invoices/{invoice['id']}/discounts", line_discount, 201)
    number = post("/invoices/{ref}/issue", f"/invoices/{invoice['id']}/issue", None)["number"]
    later = {"due_date": "2099-12-31", "reason": "payment plan"}
    post("/invoices/{ref}/due-date", f"/invoices/{invoice['id']}/due-date", later)
    credit = {"invoice": number, "amount": "10.00", "reason": "goodwill"}
    post("/credit-notes", "/credit-notes", credit, 201)
    payment = post("/payments", "/payments", {"customer": "ACME", "amount": "80.00"}, 201)["id"]
    post("/payments/{ref}/complete", f"/payments/{payment}/complete", None)
    allocation = {"allocations": [{"invoice": number, "amount": "30.00"}]}
    post("/payments/{ref}/allocations", f"/payments/{payment}/allocations", allocation)
    unallocation = {"invoice": number, "amount": "5.00", "reason": "split"}
    post("/payments/{ref}/unallocations", f"/payments/{payment}/unallocations", unallocation)
    post("/payments/{ref}/refunds", f"/payments/{payment}/refunds", {"amount": "5.00"})
    other = post("/payments", "/payments", {"customer": "ACME", "amount": "1.00"}, 201)["id"]
    post("/payments/{ref}/cancel", f"/payments/{other}/cancel", {"reason": "bounced"})
    spare = issued_invoice(writer)  # unkeyed
    post("/invoices/{ref}/void", f"/invoices/{spare['id']}/void", {"reason": "not needed"})
    assert {route for route, *_ in sent} == set(ROUTES)

    events = event_count(services.ledger)
    for number_sent, (route, path, body, first) in enumerate(sent):
        again = writer.post(path, body, keyed(f"key-{number_sent}"))
        assert again.status_code == first.status_code, route
        assert again.json() == first.json(), route
        assert again.content == first.content, route
        assert again.headers["idempotent-replayed"] == "true"
        for header in ("location", "etag", "content-type"):
            assert again.headers.get(header) == first.headers.get(header), (route, header)
    assert event_count(services.ledger) == events


def test_every_api_write_route_records_its_key_in_the_ledger(client):
    """A new POST route that writes the ledger must say how its answer is replayed."""
    paths = client.app.openapi()["paths"]
    posts = {path for path, operations in paths.items() if "post" in operations}
    statuses = {path: min(paths[path]["post"]["responses"]) for path in posts}
    assert {path: str(route.status) for path, route in ROUTES.items()} == {
        path: statuses[path] for path in ROUTES
    }
    # not answered from the ledger: a webhook's key is in its row; a send's answer (what the
    # mail server said) is kept in the key table, and its own send id makes it go out once;
    # so is a dunning run's, whose reminders each have a send id of their own
    assert posts - set(ROUTES) == {
        "/webhooks",
        "/invoices/{ref}/send",
        "/credit-notes/{ref}/send",
        "/dunning/run",
        "/customers/{ref}/statement/send",
    }
    assert set(ROUTES) <= posts


def test_the_same_key_with_another_body_path_or_query_is_refused(writer, reader, services):
    make_customer(writer)
    ok(writer.post("/payments", {"customer": "ACME", "amount": "1"}, keyed("k")), 201)
    events = event_count(services.ledger)
    refusals = [
        writer.post("/payments", {"customer": "ACME", "amount": "2"}, keyed("k")),
        writer.post("/invoices", {"customer": "ACME"}, keyed("k")),
        writer.client.post(
            "/payments?x=1",
            json={"customer": "ACME", "amount": "1"},
            headers={"Authorization": f"Bearer {writer.key}", **keyed("k")},
        ),
    ]
    for reused in refusals:
        assert reused.status_code == 422
        assert reused.headers["content-type"] == "application/problem+json"
        assert reused.json()["code"] == "idempotency_key_reused"
    assert event_count(services.ledger) == events
    assert [p["amount"] for p in ok(reader.get("/payments"))] == ["1.00"]


def test_a_refused_request_leaves_no_record_so_a_corrected_retry_runs(writer, services):
    body = {"customer": "ACME", "amount": "5.00"}
    refused = writer.post("/payments", body, keyed("pay-1"))
    assert refused.status_code == 404, refused.text
    assert event_count(services.ledger) == 0
    make_customer(writer)  # the cause of the refusal is fixed; the client retries as it was
    events = event_count(services.ledger)
    retried = writer.post("/payments", body, keyed("pay-1"))
    assert retried.status_code == 201, retried.text
    assert "idempotent-replayed" not in retried.headers
    assert event_count(services.ledger) == events + 2  # the payment and the key's record
    assert services.ledger.idempotency_record(owner_of(writer.key), "pay-1") is not None

    # a refusal with a body the client then corrects: the corrected one runs
    bad = {"account_number": "NEW", "name": "New", "tax_rate": "150"}
    assert writer.post("/customers", bad, keyed("cust-1")).status_code == 422
    good = {"account_number": "NEW", "name": "New", "tax_rate": "15"}
    assert writer.post("/customers", good, keyed("cust-1")).status_code == 201


def test_auth_failures_leave_no_record_and_a_revoked_key_gets_no_replay(client, services, keys):
    reader = Api(client, keys["read"])
    good = {"account_number": "ACME", "name": "Acme"}
    assert reader.post("/customers", good, keyed("c2")).status_code == 403
    writer_key = services.api_keys.create("soon-revoked", "write")
    writer = Api(client, writer_key)
    assert writer.post("/customers", good, keyed("c2")).status_code == 201
    services.api_keys.revoke("soon-revoked")
    replay = writer.post("/customers", good, keyed("c2"))
    assert replay.status_code == 401
    assert replay.json()["code"] == "unauthorised"


def test_keys_are_scoped_to_the_caller(client, services, writer):
    other = Api(client, services.api_keys.create("other-writer", "write"))
    make_customer(writer)
    body = {"customer": "ACME", "amount": "3"}
    a = writer.post("/payments", body, keyed("same"))
    b = other.post("/payments", body, keyed("same"))
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]


def test_bearer_and_x_api_key_are_the_same_caller(writer, services):
    make_customer(writer)
    body = {"customer": "ACME", "amount": "3"}
    first = writer.post("/payments", body, keyed("either"))
    again = writer.client.post(
        "/payments", json=body, headers={"X-Api-Key": writer.key, **keyed("either")}
    )
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()


# ------------------------------------------------------------------------------ late errors


@pytest.fixture
def lenient(services: Services, keys: dict[str, str]) -> Iterator[Api]:
    """A client that gets 500s as responses instead of exceptions."""
    with TestClient(create_app(services), raise_server_exceptions=False) as test_client:
        yield Api(test_client, keys["write"])


def test_an_error_after_the_commit_does_not_release_the_key(lenient, reader, services, monkeypatch):
    make_customer(lenient)

    def broken(*_: object) -> dict[str, Any]:
        raise RuntimeError("the answer could not be built")

    body = {"customer": "ACME", "amount": "12.00"}
    with monkeypatch.context() as patch:
        patch.setattr(routers.payments, "payment_doc", broken)
        failed = lenient.post("/payments", body, keyed("late-500"))
        assert failed.status_code == 500
        events = event_count(services.ledger)
        # while the fault lasts the retry still writes nothing (the answer is derived apart)
        retried = lenient.post("/payments", body, keyed("late-500"))
        assert retried.status_code == 201
    assert event_count(services.ledger) == events
    replay = lenient.post("/payments", body, keyed("late-500"))
    assert replay.status_code == 201
    assert replay.headers["idempotent-replayed"] == "true"
    [payment] = ok(reader.get("/payments"))
    assert replay.json() == retried.json() == payment
    assert replay.headers["location"] == f"/payments/{payment['id']}"
    assert event_count(services.ledger) == events


# --------------------------------------------------------------------------- lost races


def _miss_the_first_look(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the next request's first look for its key miss, as when a concurrent request with
    the same key commits between that look and this one's save."""
    real = Ledger.idempotency_record
    calls: list[int] = []

    def racing(self: Ledger, owner: str, key: str) -> Any:
        calls.append(1)
        return None if len(calls) == 1 else real(self, owner, key)

    monkeypatch.setattr(Ledger, "idempotency_record", racing)


def test_a_request_that_loses_its_key_to_another_writes_nothing(
    writer, reader, services, monkeypatch
):
    make_customer(writer)
    body = {"customer": "ACME", "amount": "7.00"}
    first = ok(writer.post("/payments", body, keyed("race")), 201)
    events = event_count(services.ledger)
    _miss_the_first_look(monkeypatch)
    loser = writer.post("/payments", body, keyed("race"))
    assert loser.status_code == 201, loser.text
    assert loser.headers["idempotent-replayed"] == "true"
    assert loser.json() == first
    assert event_count(services.ledger) == events
    assert len(ok(reader.get("/payments"))) == 1


def test_a_rule_refusal_caused_by_the_winner_answers_with_the_winners_outcome(
    writer, services, monkeypatch
):
    make_customer(writer)
    draft = ok(writer.post("/invoices", {"customer": "ACME"}), 201)
    line = {"description": "Calls", "quantity": "1", "unit_price": "9.00"}
    ok(writer.post(f"/invoices/{draft['id']}/lines", line), 201)
    issued = ok(writer.post(f"/invoices/{draft['id']}/issue", None, keyed("issue-1")))
    events = event_count(services.ledger)
    _miss_the_first_look(monkeypatch)
    # run again, the command itself refuses (already issued); the key's outcome is the answer
    again = writer.post(f"/invoices/{draft['id']}/issue", None, keyed("issue-1"))
    assert again.status_code == 200, again.text
    assert again.json() == issued
    assert event_count(services.ledger) == events


def test_the_ledger_commits_one_save_per_key(services):
    """The guarantee itself, below HTTP: a second save carrying a committed key fails whole."""
    ledger = services.ledger
    ledger.register_customer("ops", account_number="ACME", name="Acme")

    def request() -> KeyedRequest:
        return KeyedRequest("owner", "k-1", "fp", "/payments", "/payments", 201)

    with LedgerBase.keyed(first := request()):
        ledger.record_payment("ACME", "ops", amount=5)
    assert first.committed is not None
    events = event_count(ledger)
    with LedgerBase.keyed(second := request()), pytest.raises(KeyAlreadyCommitted):
        ledger.record_payment("ACME", "ops", amount=5)
    assert second.lost and second.committed is None
    assert event_count(ledger) == events
    record = ledger.idempotency_record("owner", "k-1")
    assert record is not None
    [effect] = record.effects
    assert (effect.kind, effect.version) == ("Payment", 1)


def test_a_keyed_request_commits_once_only(services):
    ledger = services.ledger
    ledger.register_customer("ops", account_number="ACME", name="Acme")
    with LedgerBase.keyed(KeyedRequest("o", "k", "fp", "/payments", "/payments", 201)):
        ledger.record_payment("ACME", "ops", amount=5)
        events = event_count(ledger)
        with pytest.raises(RuntimeError, match="only once"):
            ledger.record_payment("ACME", "ops", amount=6)
    assert event_count(ledger) == events


def test_a_refusal_inside_a_keyed_request_writes_no_record(services):
    ledger = services.ledger
    ledger.register_customer("ops", account_number="ACME", name="Acme")
    invoice_id = ledger.create_invoice("ACME", "ops")
    events = event_count(ledger)
    req = KeyedRequest("o", "k", "fp", "/x", "/x", 200)
    with LedgerBase.keyed(req), pytest.raises(BillingError):
        ledger.issue_invoice(invoice_id, "ops")  # no lines: refused
    assert req.committed is None
    assert ledger.idempotency_record("o", "k") is None
    assert event_count(ledger) == events


# --------------------------------------------------------- keys of non-ledger writes (table)


def test_a_webhook_key_is_replayed_from_its_subscription(admin, services, receiver_factory):
    receiver = receiver_factory()
    body = {"url": receiver.url}
    first = ok(admin.post("/webhooks", body, keyed("hook-1")), 201)
    again = admin.post("/webhooks", body, keyed("hook-1"))
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first
    assert len(ok(admin.get("/webhooks"))) == 1
    # the key now names that request, in both stores
    assert (
        admin.post("/customers", {"account_number": "A", "name": "A"}, keyed("hook-1")).json()[
            "code"
        ]
        == "idempotency_key_reused"
    )


def test_a_webhook_key_is_committed_with_its_subscription(
    admin, services, receiver_factory, monkeypatch
):
    """An error after the subscription's INSERT committed (the answer could not be sent) does
    not free the key: the key is in the subscription's row, so every retry answers with it and
    no second subscription is made. (The key once sat in a side table, released on error.)"""
    from adapters.webhooks.store import WebhookStore

    real = WebhookStore.add

    def add_then_fail(self: WebhookStore, *args: Any) -> Any:
        real(self, *args)
        raise RuntimeError("the answer could not be built")

    body = {"url": receiver_factory().url}
    with monkeypatch.context() as patch:
        patch.setattr(WebhookStore, "add", add_then_fail)
        first = admin.post("/webhooks", body, keyed("hook-late"))
        retried = admin.post("/webhooks", body, keyed("hook-late"))
    [subscription] = ok(admin.get("/webhooks"))
    for response in (first, retried, admin.post("/webhooks", body, keyed("hook-late"))):
        assert response.status_code == 201, response.text
        assert response.headers["idempotent-replayed"] == "true"
        assert response.headers["location"] == f"/webhooks/{subscription['id']}"
        assert response.json()["id"] == subscription["id"] and response.json()["secret"]
    assert len(ok(admin.get("/webhooks"))) == 1
    other = admin.post("/webhooks", {"url": receiver_factory().url}, keyed("hook-late"))
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")


def test_a_ledger_key_cannot_be_reused_for_a_webhook(admin, receiver_factory):
    ok(admin.post("/customers", {"account_number": "A", "name": "A"}, keyed("k-9")), 201)
    reused = admin.post("/webhooks", {"url": receiver_factory().url}, keyed("k-9"))
    assert reused.status_code == 422
    assert reused.json()["code"] == "idempotency_key_reused"
    assert ok(admin.get("/webhooks")) == []


def test_a_table_key_left_in_progress_by_a_crash_is_taken_over_later(services):
    from datetime import UTC, datetime, timedelta

    from adapters.app.idempotency_keys import IdempotencyStore

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


def test_table_keys_are_kept_for_a_day_then_pruned(services):
    from datetime import UTC, datetime, timedelta

    from adapters.app.idempotency_keys import IdempotencyStore

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


def test_ledger_keys_are_kept_for_ever(writer, services, clock):
    make_customer(writer)
    body = {"customer": "ACME", "amount": "1.00"}
    first = ok(writer.post("/payments", body, keyed("old-key")), 201)
    clock.advance(days=400)
    again = writer.post("/payments", body, keyed("old-key"))
    assert again.status_code == 201
    assert again.json() == first


def test_a_replay_is_the_answer_of_the_commits_day(writer, reader, clock):
    """The answer is derived as of the commit's day, not the replay's: an invoice issued then
    and overdue now replays as it was first answered."""
    make_customer(writer)
    draft = ok(writer.post("/invoices", {"customer": "ACME"}), 201)
    line = {"description": "Calls", "quantity": "1", "unit_price": "9.00"}
    ok(writer.post(f"/invoices/{draft['id']}/lines", line), 201)
    issued = ok(writer.post(f"/invoices/{draft['id']}/issue", None, keyed("i")))
    clock.advance(days=90)
    assert ok(reader.get(f"/invoices/{draft['id']}"))["status"] == "overdue"
    replay = writer.post(f"/invoices/{draft['id']}/issue", None, keyed("i"))
    assert replay.json() == issued
    assert issued["status"] == "issued"


def test_a_redirected_keyed_post_can_be_followed_with_the_same_key(writer, services):
    make_customer(writer)
    body = {"customer": "ACME", "amount": "3.00"}
    redirected = writer.client.post(
        "/payments/",
        json=body,
        headers={"Authorization": f"Bearer {writer.key}", **keyed("slash")},
        follow_redirects=False,
    )
    assert redirected.status_code == 307
    assert event_count(services.ledger) == 1
    followed = writer.post("/payments", body, keyed("slash"))
    assert followed.status_code == 201, followed.text
    assert "idempotent-replayed" not in followed.headers
