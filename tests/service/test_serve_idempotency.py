"""Exactly-once keyed writes on a real ``tollbook serve`` process: killed between the commit and
the answer, restarted, replayed; and many concurrent copies of one keyed request."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from decimal import Decimal as D
from typing import Any
from uuid import UUID

import httpx
import pytest

from adapters.app.context import Services
from adapters.http.idempotency import CRASH_AFTER_COMMIT
from tests.helpers import event_count
from tests.service.test_serve import TOLLBOOK, _free_port, _wait_until


@contextmanager
def serving(
    store_url: str, *, crash_after_commit: bool = False
) -> Iterator[subprocess.Popen[bytes]]:
    port = _free_port()
    env = {**os.environ, "TOLLBOOK_LOG_LEVEL": "warning"}
    env.pop(CRASH_AFTER_COMMIT, None)
    if crash_after_commit:
        env[CRASH_AFTER_COMMIT] = "1"
    process = subprocess.Popen(
        [TOLLBOOK, "--db", store_url, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    process.base = f"http://127.0.0.1:{port}"  # type: ignore[attr-defined]
    healthy = False
    try:
        _wait_until(
            lambda: (
                process.poll() is not None or httpx.get(f"{process.base}/health").status_code == 200
            ),  # type: ignore[attr-defined]
            timeout=60,
        )
        assert process.poll() is None, "the server did not start"
        healthy = True
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
        if not healthy:
            print(err.decode(errors="replace"))


def test_a_server_killed_after_the_commit_replays_every_key_once(
    store_url: str, services: Services
) -> None:
    token = services.api_keys.create("crash-test", "write")
    auth = {"Authorization": f"Bearer {token}"}

    def post(base: str, path: str, body: Any, key: str | None = None) -> httpx.Response:
        headers = {**auth, **({"Idempotency-Key": key} if key else {})}
        return httpx.post(f"{base}{path}", json=body, headers=headers, timeout=30)

    # Set-up through the ledger on the same store (a server start costs seconds; each crash
    # below needs one of its own).
    ledger = services.ledger
    for account in ("ACME", "BETA"):
        ledger.register_customer(
            "setup", account_number=account, name=f"{account} Ltd", tax_rate=D("20")
        )
    drafts = [str(ledger.create_invoice("ACME", "setup")) for _ in range(2)]
    line = {"description": "Calls", "quantity": "1", "unit_price": "100.00"}
    ledger.add_line(UUID(drafts[1]), "setup", description="Calls", quantity=D(1), unit_price=D(100))

    # Each keyed write commits, then the process dies before it answers.
    writes = [
        ("/payments", {"customer": "ACME", "amount": "40.00", "status": "completed"}),
        ("/payments", {"customer": "BETA", "amount": "15.00"}),
        ("/invoices", {"customer": "BETA", "memo": "keyed"}),
        (f"/invoices/{drafts[0]}/lines", line),
        (f"/invoices/{drafts[1]}/issue", None),
        ("/customers", {"account_number": "GAMMA", "name": "Gamma Ltd"}),
    ]
    for number, (path, body) in enumerate(writes):
        with serving(store_url, crash_after_commit=True) as server:
            with pytest.raises(httpx.TransportError):
                post(server.base, path, body, f"crash-{number}")  # type: ignore[attr-defined]
            assert server.wait(timeout=30) == 86  # the test hook's exit, right after the commit
    committed = event_count(services.ledger)

    with serving(store_url) as server:
        base = server.base  # type: ignore[attr-defined]
        replays = [post(base, path, body, f"crash-{n}") for n, (path, body) in enumerate(writes)]
        assert event_count(services.ledger) == committed  # the replays wrote nothing
        for response, status in zip(replays, (201, 201, 201, 201, 200, 201), strict=True):
            assert response.status_code == status, response.text
            assert response.headers["idempotent-replayed"] == "true"

        def get(path: str) -> Any:
            response = httpx.get(f"{base}{path}", headers=auth, timeout=30)
            assert response.status_code == 200, response.text
            return response

        # every resource exists once, and each replay is the answer the request would have had
        payments = get("/payments").json()
        assert sorted(p["amount"] for p in payments) == ["15.00", "40.00"]
        for response in replays[:2]:
            shown = get(response.headers["location"])
            assert response.json() == shown.json()
            assert response.headers["etag"] == shown.headers["etag"]
        invoices = get("/invoices").json()
        assert len(invoices) == 3
        assert replays[2].json() == get(replays[2].headers["location"]).json()
        assert replays[3].json()["invoice"] == get(f"/invoices/{drafts[0]}").json()
        assert len(replays[3].json()["invoice"]["lines"]) == 1
        assert replays[4].json() == get(f"/invoices/{drafts[1]}").json()
        assert replays[4].json()["number"]
        assert replays[5].json() == get("/customers/GAMMA").json()
        assert len(get("/customers").json()) == 3
        assert event_count(services.ledger) == committed


def test_concurrent_copies_of_one_keyed_request_write_once(
    store_url: str, services: Services
) -> None:
    token = services.api_keys.create("race-test", "write")
    auth = {"Authorization": f"Bearer {token}"}
    with serving(store_url) as server:
        base = server.base  # type: ignore[attr-defined]

        def post(path: str, body: Any, key: str | None = None) -> httpx.Response:
            headers = {**auth, **({"Idempotency-Key": key} if key else {})}
            return httpx.post(f"{base}{path}", json=body, headers=headers, timeout=60)

        assert post("/customers", {"account_number": "ACME", "name": "Acme"}).status_code == 201
        invoice = post("/invoices", {"customer": "ACME"}).json()["id"]
        line = {"description": "Calls", "quantity": "1", "unit_price": "100.00"}
        assert post(f"/invoices/{invoice}/lines", line).status_code == 201
        number = post(f"/invoices/{invoice}/issue", None).json()["number"]
        before = event_count(services.ledger)

        copies = 8
        payment = {"customer": "ACME", "amount": "60.00", "status": "completed"}
        with ThreadPoolExecutor(copies) as pool:
            created = list(
                pool.map(lambda _: post("/payments", payment, "pay-race"), range(copies))
            )
        assert {r.status_code for r in created} == {201}, [r.text for r in created]
        assert len({r.json()["id"] for r in created}) == 1
        assert sum("idempotent-replayed" not in r.headers for r in created) == 1
        assert event_count(services.ledger) == before + 2  # one payment, one key record

        payment_id = created[0].json()["id"]
        allocation = {"allocations": [{"invoice": number, "amount": "10.00"}]}
        with ThreadPoolExecutor(copies) as pool:
            allocated = list(
                pool.map(
                    lambda _: post(f"/payments/{payment_id}/allocations", allocation, "alloc-race"),
                    range(copies),
                )
            )
        assert {r.status_code for r in allocated} == {200}, [r.text for r in allocated]
        assert {r.json()["allocated"] for r in allocated} == {"10.00"}
        shown = httpx.get(f"{base}/payments/{payment_id}", headers=auth).json()
        assert shown["allocated"] == "10.00"
        assert event_count(services.ledger) == before + 2 + 3  # payment + invoice + record


def test_a_server_killed_after_a_webhook_commit_replays_it_once(
    store_url: str, services: Services
) -> None:
    """POST /webhooks keeps its key in the subscription's row: killed right after the INSERT
    committed, the restarted server answers the replay from it and subscribes nothing twice."""
    token = services.api_keys.create("crash-admin", "admin")
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "hook-crash"}
    body = {"url": "http://127.0.0.1:9/hook", "event_types": ["Invoice.Issued"]}
    with serving(store_url, crash_after_commit=True) as server:
        with pytest.raises(httpx.TransportError):
            httpx.post(f"{server.base}/webhooks", json=body, headers=headers, timeout=30)  # type: ignore[attr-defined]
        assert server.wait(timeout=30) == 86
    [created] = services.webhooks.subscriptions()
    with serving(store_url) as server:
        replay = httpx.post(f"{server.base}/webhooks", json=body, headers=headers, timeout=30)  # type: ignore[attr-defined]
    assert replay.status_code == 201, replay.text
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == {**created.doc(), "secret": created.secret}
    assert replay.headers["location"] == f"/webhooks/{created.id}"
    assert [s.id for s in services.webhooks.subscriptions()] == [created.id]
