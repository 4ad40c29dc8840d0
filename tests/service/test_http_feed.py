"""The event feed: complete, ordered, resumable; long-poll and Server-Sent Events."""

from __future__ import annotations

import json
import threading
import time
from uuid import UUID, uuid5

import fastapi.routing
import httpx
from fastapi.testclient import TestClient
from structlog.testing import capture_logs

from adapters.app.context import Services
from adapters.feed import EVENT_ID_NAMESPACE
from adapters.logging import configure_logging
from adapters.service.app import create_app
from tests.portal.support import serving
from tests.service.conftest import Api, issued_invoice, make_customer, ok


def _activity(writer: Api) -> None:
    make_customer(writer, "A")
    make_customer(writer, "B")
    for account in ("A", "B", "A"):
        issued_invoice(writer, account)
    writer.post("/payments", {"customer": "B", "amount": "7"})


def test_paging_sees_every_event_once_in_order(writer, reader, services: Services):
    _activity(writer)
    expected = [position for position, _ in services.ledger.all_events()]
    seen: list[dict] = []
    after = 0
    while True:
        page = ok(reader.get("/events", after=after, limit=4))
        if not page["events"]:
            assert page["next_after"] == after
            break
        assert len(page["events"]) <= 4
        seen.extend(page["events"])
        after = page["next_after"]
    assert [e["position"] for e in seen] == expected
    assert len({e["id"] for e in seen}) == len(seen)
    first = seen[0]
    assert set(first) == {
        "position",
        "id",
        "type",
        "aggregate_type",
        "aggregate_id",
        "aggregate_version",
        "time",
        "actor",
        "reason",
        "payload",
    }
    assert first["id"] == str(
        uuid5(EVENT_ID_NAMESPACE, f"{first['aggregate_id']}:{first['aggregate_version']}")
    )
    assert first["type"] == "Customer.Registered" and first["actor"] == "write-key"
    assert first["payload"]["profile"]["account_number"] == "A"


def test_a_consumer_restarting_from_its_position_misses_nothing(
    writer, store_url, clock, services: Services, keys
):
    make_customer(writer, "A")
    issued_invoice(writer, "A")
    first = ok(Api(writer.client, keys["read"]).get("/events", limit=3))
    # the consumer stops; more happens; it comes back through a new server on the same store
    issued_invoice(writer, "A")
    restarted = Services.from_url(store_url, clock=clock)
    try:
        with TestClient(create_app(restarted)) as client:
            rest = []
            after = first["next_after"]
            while page := ok(Api(client, keys["read"]).get("/events", after=after))["events"]:
                rest.extend(page)
                after = page[-1]["position"]
    finally:
        restarted.close()
    positions = [e["position"] for e in first["events"] + rest]
    assert positions == [p for p, _ in services.ledger.all_events()]


def test_type_filter(writer, reader):
    _activity(writer)
    page = ok(reader.get("/events", types="Invoice.Issued,Payment.Received"))
    assert [e["type"] for e in page["events"]] == ["Invoice.Issued"] * 3 + ["Payment.Received"]
    assert "Invoice.Issued" in ok(reader.get("/events/types"))


def test_long_poll_returns_as_soon_as_an_event_arrives(writer, reader):
    make_customer(writer, "A")
    head = ok(reader.get("/events"))["next_after"]

    started = time.monotonic()
    empty = ok(reader.get("/events", after=head, wait=0.2))
    assert empty == {"events": [], "next_after": head}
    assert time.monotonic() - started >= 0.2

    def later() -> None:
        time.sleep(0.3)
        writer.post("/payments", {"customer": "A", "amount": "1"})

    thread = threading.Thread(target=later)
    thread.start()
    page = ok(reader.get("/events", after=head, wait=10))
    thread.join()
    assert [e["type"] for e in page["events"]] == ["Payment.Received"]


def _sse(response) -> list[dict]:
    events, current = [], {}
    for line in response.iter_lines():
        if line.startswith(":"):
            continue
        if not line:
            if current:
                events.append(current)
            current = {}
            continue
        field, _, value = line.partition(": ")
        current[field] = value
    if current:
        events.append(current)
    return events


def test_server_sent_events_resume_after_last_event_id(writer, reader, services: Services):
    _activity(writer)
    positions = [p for p, _ in services.ledger.all_events()]
    headers = {"Authorization": f"Bearer {reader.key}"}
    with reader.client.stream(
        "GET", "/events/stream", params={"max_events": 3}, headers=headers
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        first = _sse(response)
    assert [int(e["id"]) for e in first] == positions[:3]
    assert json.loads(first[0]["data"])["type"] == first[0]["event"] == "Customer.Registered"
    with reader.client.stream(
        "GET",
        "/events/stream",
        params={"max_events": 2},
        headers={**headers, "Last-Event-ID": first[-1]["id"]},
    ) as response:
        resumed = _sse(response)
    assert [int(e["id"]) for e in resumed] == positions[3:5]
    assert UUID(json.loads(resumed[0]["data"])["id"])


def test_positions_beyond_64_bits_are_refused_not_a_server_error(reader):
    response = reader.get("/events", after=2**63)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert ok(reader.get("/events", after=2**63 - 1))["events"] == []


def test_an_unknown_type_is_refused_before_the_stream_starts(reader):
    response = reader.get("/events/stream", types="Invoice.Issued,Invoice.Nope")
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "invalid_input"
    assert "Invoice.Nope" in response.json()["detail"]


def _read_until(lines, wanted: str, limit: int = 50) -> list[str]:
    seen = []
    for line in lines:
        seen.append(line)
        if line == wanted or len(seen) >= limit:
            return seen
    return seen


def test_a_quiet_stream_sends_keep_alives_and_ends_when_the_client_goes(
    writer, keys, services: Services, monkeypatch
):
    """Over real HTTP (uvicorn in a thread): a comment line keeps a quiet stream open, and a
    client that goes away ends the server's side of the stream (no more store polling)."""
    make_customer(writer, "A")
    # FastAPI's SSE response sends its keep-alive after this many quiet seconds (15 in service)
    monkeypatch.setattr(fastapi.routing, "_PING_INTERVAL", 0.3)
    configure_logging(level="info")
    headers = {"Authorization": f"Bearer {keys['read']}"}
    with capture_logs() as logs, serving(create_app(services)) as base:
        with (
            httpx.Client(base_url=base, timeout=10) as http,
            http.stream("GET", "/events/stream", headers=headers) as response,
        ):
            assert response.headers["content-type"].startswith("text/event-stream")
            lines = response.iter_lines()
            head = _read_until(lines, ": ping")
            assert head[0] == ": tollbook event stream"
            assert "id: 1" in head and "event: Customer.Registered" in head
            assert head[-1] == ": ping"  # nothing new for a while: a comment, not an event
        # the client has gone: the server's generator is closed, not left polling
        deadline = time.monotonic() + 5
        while not [e for e in logs if e["event"] == "event stream closed"]:
            assert time.monotonic() < deadline, "the stream kept running after the client left"
            time.sleep(0.05)
    [closed] = [e for e in logs if e["event"] == "event stream closed"]
    assert closed["sent"] == 1
