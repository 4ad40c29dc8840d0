"""Webhook delivery against real local receivers on 127.0.0.1: signatures, back-off, isolation
of failing endpoints, order per aggregate, and resuming after a restart."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections import defaultdict

from adapters.app.context import Services
from adapters.webhooks.sender import HttpSender
from adapters.webhooks.signing import verify
from adapters.webhooks.worker import RetryPolicy, WebhookWorker
from tests.service.conftest import issued_invoice, make_customer, ok

SECRET = "whsec_test_secret_0123456789"


def _worker(services: Services, fake_time, **options) -> WebhookWorker:
    return WebhookWorker(
        services.ledger,
        services.webhooks,
        sender=HttpSender(timeout=options.pop("timeout", 5.0)),
        policy=options.pop("policy", RetryPolicy(base=10, cap=100, max_attempts=5)),
        now=fake_time,
        **options,
    )


def _subscribe(services: Services, url: str, types: tuple[str, ...] = ()) -> str:
    return services.webhooks.add(url, SECRET, list(types), 0, "test").id


def _positions(services: Services, types: tuple[str, ...] = ()) -> list[int]:
    return [
        p
        for p, e in services.ledger.all_events()
        if not types or f"{type(e).__qualname__}" in types
    ]


def test_deliveries_are_signed_and_complete(services, writer, receiver_factory, fake_time):
    receiver = receiver_factory()
    _subscribe(services, receiver.url)
    make_customer(writer)
    issued_invoice(writer)
    report = _worker(services, fake_time).run_once()
    assert report.delivered == len(_positions(services)) > 0

    bodies = [r.json() for r in receiver.requests]
    assert [b["position"] for b in bodies] == _positions(services)
    for request in receiver.requests:
        timestamp = request.headers["tollbook-timestamp"]
        assert timestamp == str(int(fake_time.now))
        # an integrator's own check, written from the documented recipe
        expected = hmac.new(
            SECRET.encode(), timestamp.encode() + b"." + request.body, hashlib.sha256
        ).hexdigest()
        assert request.headers["tollbook-signature"] == f"v1={expected}"
        assert verify(
            SECRET,
            request.headers["tollbook-signature"],
            timestamp,
            request.body,
            now=fake_time.now,
        )
        assert not verify(
            "whsec_wrong_secret_0000000",
            request.headers["tollbook-signature"],
            timestamp,
            request.body,
            now=fake_time.now,
        )
        assert not verify(
            SECRET,
            request.headers["tollbook-signature"],
            timestamp,
            request.body + b" ",
            now=fake_time.now,
        )
        assert not verify(
            SECRET,
            request.headers["tollbook-signature"],
            timestamp,
            request.body,
            now=fake_time.now + 3600,
        )
        body = json.loads(request.body)
        assert request.headers["tollbook-event-id"] == body["id"]
        assert request.headers["tollbook-event-type"] == body["type"]

    # nothing new: the next pass sends nothing
    assert _worker(services, fake_time).run_once().delivered == 0
    assert len(receiver.requests) == len(bodies)


def test_failures_are_retried_with_exponential_backoff(
    services, writer, receiver_factory, fake_time
):
    receiver = receiver_factory(statuses=[500, 503, 502])
    sub = _subscribe(services, receiver.url, ("Customer.Registered",))
    make_customer(writer)
    worker = _worker(services, fake_time)

    def tries() -> int:
        return len(receiver.requests)

    worker.run_once()
    assert tries() == 1
    worker.run_once()  # not due yet
    assert tries() == 1
    fake_time.advance(10)  # 1st back-off: base
    worker.run_once()
    assert tries() == 2
    fake_time.advance(19)  # 2nd back-off: 2 x base = 20
    worker.run_once()
    assert tries() == 2
    fake_time.advance(1)
    worker.run_once()
    assert tries() == 3
    fake_time.advance(40)  # 3rd back-off: 4 x base
    worker.run_once()
    assert tries() == 4 and receiver.requests[-1].headers["x-test-status"] == "2xx"

    [delivery] = services.webhooks.deliveries(sub)
    assert (delivery.status, delivery.attempts, delivery.last_status) == ("delivered", 4, 200)
    log = services.webhooks.attempts(delivery.id)
    assert [a["status_code"] for a in log] == [500, 503, 502, 200]
    # the same event each time, re-signed at each attempt
    assert len({r.headers["tollbook-event-id"] for r in receiver.requests}) == 1
    assert [r.headers["tollbook-timestamp"] for r in receiver.requests] == sorted(
        {r.headers["tollbook-timestamp"] for r in receiver.requests}
    )


def test_giving_up_marks_failed_and_retry_requeues(
    services, writer, receiver_factory, fake_time, tollbook
):
    receiver = receiver_factory(default=500)
    sub = _subscribe(services, receiver.url, ("Customer.Registered",))
    make_customer(writer)
    worker = _worker(services, fake_time, policy=RetryPolicy(base=1, cap=1, max_attempts=2))
    worker.run_once()
    fake_time.advance(1)
    worker.run_once()
    [delivery] = services.webhooks.deliveries(sub)
    assert (delivery.status, delivery.attempts) == ("failed", 2)
    fake_time.advance(100)
    worker.run_once()
    assert len(receiver.requests) == 2  # given up: no more attempts

    listed = tollbook("webhook", "deliveries", "--status", "failed", "--json")
    assert [d["id"] for d in json.loads(listed.out)] == [delivery.id]
    receiver.default = 200
    assert tollbook("webhook", "retry", sub).code == 0
    worker.now = lambda: 10**10  # well past any back-off
    worker.run_once()
    assert services.webhooks.deliveries(sub)[0].status == "delivered"


def test_a_failing_endpoint_does_not_block_another(services, writer, receiver_factory, fake_time):
    broken = receiver_factory(default=500)
    slow = receiver_factory(delay=1.5)
    healthy = receiver_factory()
    for receiver in (broken, slow, healthy):
        _subscribe(services, receiver.url)
    make_customer(writer)
    issued_invoice(writer)
    worker = _worker(services, fake_time, timeout=0.5)
    worker.run_once()
    worker.run_once()
    assert [r.json()["position"] for r in healthy.requests] == _positions(services)
    assert len(broken.requests) == 1  # one failed attempt, then it waits for its back-off
    assert len(slow.accepted) == 0  # timed out: not counted as delivered
    assert {d.status for d in services.webhooks.deliveries(status="delivered")} == {"delivered"}


def test_order_is_kept_per_aggregate(services, writer, receiver_factory, fake_time):
    # every other request fails: the endpoint sees retries, but never an aggregate's events
    # out of order
    receiver = receiver_factory(statuses=[500, 200] * 30)
    _subscribe(services, receiver.url)
    make_customer(writer, "A")
    make_customer(writer, "B")
    issued_invoice(writer, "A")
    issued_invoice(writer, "B")
    worker = _worker(services, fake_time)
    for _ in range(60):
        worker.run_once()
        fake_time.advance(1000)
        if len(receiver.accepted) == len(_positions(services)):
            break
    accepted = [r.json() for r in receiver.accepted]
    assert sorted(b["position"] for b in accepted) == _positions(services)
    versions = defaultdict(list)
    for body in accepted:
        versions[body["aggregate_id"]].append(body["aggregate_version"])
    for seen in versions.values():
        assert seen == list(range(1, len(seen) + 1))


def test_deliveries_resume_after_a_restart(
    store_url, clock, services, writer, receiver_factory, fake_time
):
    receiver = receiver_factory(default=503)
    _subscribe(services, receiver.url)
    make_customer(writer)
    _worker(services, fake_time).run_once()
    assert receiver.accepted == []

    # the service stops; events keep coming from elsewhere; a new process starts
    issued_invoice(writer)
    receiver.default = 200
    restarted = Services.from_url(store_url, clock=clock)
    try:
        worker = _worker(restarted, fake_time)
        for _ in range(3):
            fake_time.advance(3600)
            worker.run_once()
        positions = [r.json()["position"] for r in receiver.accepted]
        assert positions == [p for p, _ in restarted.ledger.all_events()]
        assert len(set(positions)) == len(positions)
    finally:
        restarted.close()


def test_two_workers_share_the_work_without_double_delivery(
    services, writer, receiver_factory, fake_time
):
    receiver = receiver_factory()
    _subscribe(services, receiver.url)
    make_customer(writer)
    issued_invoice(writer)
    one, two = _worker(services, fake_time), _worker(services, fake_time)
    assert services.webhooks.claim(
        services.webhooks.subscriptions()[0].id, one.worker_id, fake_time(), 60
    )
    assert two.run_once().delivered == 0  # leased to the other worker
    services.webhooks.release(services.webhooks.subscriptions()[0].id, one.worker_id)
    one.run_once()
    two.run_once()
    positions = [r.json()["position"] for r in receiver.requests]
    assert positions == _positions(services)


def test_webhooks_managed_over_http_and_cli(
    admin, writer, reader, services, tollbook, receiver_factory, fake_time
):
    receiver = receiver_factory()
    assert reader.post("/webhooks", {"url": receiver.url}).status_code == 403
    bad = admin.post("/webhooks", {"url": receiver.url, "event_types": ["Nope.Never"]})
    assert bad.status_code == 422
    assert admin.post("/webhooks", {"url": "ftp://x"}).status_code == 422
    created = ok(
        admin.post("/webhooks", {"url": receiver.url, "event_types": ["Invoice.Issued"]}), 201
    )
    assert created["secret"].startswith("whsec_")
    assert "secret" not in ok(admin.get(f"/webhooks/{created['id']}"))

    make_customer(writer)
    issued_invoice(writer)
    _worker(services, fake_time).run_once()
    [request] = receiver.requests
    assert request.json()["type"] == "Invoice.Issued"
    assert verify(
        created["secret"],
        request.headers["tollbook-signature"],
        request.headers["tollbook-timestamp"],
        request.body,
        now=fake_time.now,
    )
    [logged] = ok(admin.get(f"/webhooks/{created['id']}/deliveries"))
    assert (logged["status"], logged["event_type"]) == ("delivered", "Invoice.Issued")

    added = tollbook("webhook", "add", receiver.url, "--events", "Payment.Received", "--json")
    assert added.code == 0, added.err
    cli_sub = json.loads(added.out)
    assert [s["id"] for s in json.loads(tollbook("webhook", "list", "--json").out)] == [
        created["id"],
        cli_sub["id"],
    ]
    assert tollbook("webhook", "add", receiver.url, "--events", "Bogus").code == 2
    assert tollbook("webhook", "remove", cli_sub["id"]).code == 0
    assert tollbook("webhook", "remove", "no-such-id").code == 3
    assert ok(admin.delete(f"/webhooks/{created['id']}"))["status"] == "removed"
    assert ok(admin.get("/webhooks")) == []
    deliveries = tollbook("webhook", "deliveries")
    assert deliveries.code == 0 and "Invoice.Issued" in deliveries.out


def test_the_documented_verification_example_accepts_real_deliveries(
    services, writer, receiver_factory
):
    from pathlib import Path

    doc = (Path(__file__).parents[2] / "docs" / "integrators.md").read_text()
    # the page's Python example that defines the verification (others show NATS consumers)
    [example] = [
        block.split("```", 1)[0]
        for block in doc.split("```python\n")[1:]
        if "def verify_tollbook" in block.split("```", 1)[0]
    ]
    namespace: dict = {}
    exec(compile(example, "integrators.md", "exec"), namespace)
    verify_tollbook = namespace["verify_tollbook"]

    receiver = receiver_factory()
    _subscribe(services, receiver.url)
    make_customer(writer)
    WebhookWorker(services.ledger, services.webhooks).run_once()  # real clock
    [request] = receiver.requests
    headers = {
        "Tollbook-Timestamp": request.headers["tollbook-timestamp"],
        "Tollbook-Signature": request.headers["tollbook-signature"],
    }
    assert verify_tollbook(SECRET, headers, request.body)
    assert not verify_tollbook(SECRET, headers, request.body.replace(b"ACME", b"ACMF"))
    assert not verify_tollbook("whsec_someone_elses_secret", headers, request.body)
