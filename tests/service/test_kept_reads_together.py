"""Kept reads asked together (PostgreSQL: one probe statement for the requests waiting at the
same time) keep the guarantees of one probe each: a write made through another API process
is seen by the very next read, a revoked key is refused at once, however many requests are
in flight, and a request that came in while a probe was under way is never answered by it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi.testclient import TestClient

from adapters.app.context import Services
from adapters.app.grouped_probe import GroupedProbe
from adapters.clock import SteppingClock
from adapters.service.app import create_app
from adapters.store.database import Database
from tests.service.conftest import Api, issued_invoice, make_customer, ok
from tests.service.test_metrics import scrape, value


@pytest.fixture
def other_process(store_url: str, clock: SteppingClock) -> Iterator[TestClient]:
    """A second API process on the same store (``serve --workers 2``): its own services,
    connections and kept answers."""
    services = Services.from_url(store_url, clock=clock)
    try:
        with TestClient(create_app(services)) as client:
            yield client
    finally:
        services.close()


def test_a_write_through_one_process_is_seen_by_the_next_read_of_the_other(
    writer: Api, keys: dict[str, str], other_process: TestClient
) -> None:
    reader = Api(other_process, keys["read"])
    make_customer(writer)
    invoice = issued_invoice(writer)
    one = f"/invoices/{invoice['id']}"
    kept = {path: reader.get(path) for path in ("/invoices", "/balances", one)}
    for path, first in kept.items():  # kept by the other process now
        assert reader.get(path).content == first.content

    ok(writer.post(f"{one}/void", {"reason": "wrong customer"}))
    assert reader.get(one).json()["status"] == "void"
    assert reader.get("/invoices").json()[0]["status"] == "void"
    added = issued_invoice(writer, price="7.00")
    assert added["id"] in [row["id"] for row in reader.get("/invoices").json()]
    assert reader.get("/balances").content != kept["/balances"].content


def test_many_reads_at_once_each_get_their_own_keys_answer(
    client: TestClient, writer: Api, services: Services
) -> None:
    make_customer(writer)
    invoices = [issued_invoice(writer, price=f"{n}.00") for n in range(1, 4)]
    live = services.api_keys.create("live", "read")
    doomed = services.api_keys.create("doomed", "read")
    paths = ["/invoices", "/balances", *(f"/invoices/{i['id']}" for i in invoices)]
    for path in paths:  # made and kept
        for key in (live, doomed):
            assert Api(client, key).get(path).status_code == 200
    services.api_keys.revoke("doomed")

    async def all_at_once() -> list[tuple[str, str, int]]:
        transport = httpx.ASGITransport(app=client.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:

            async def get(path: str, key: str) -> tuple[str, str, int]:
                answer = await http.get(path, headers={"Authorization": f"Bearer {key}"})
                return path, key, answer.status_code

            asked = [(path, key) for _ in range(4) for path in paths for key in (live, doomed)]
            asked.append(("/balances", "tbk_not-a-key"))
            return await asyncio.gather(*(get(path, key) for path, key in asked))

    for path, key, status in asyncio.run(all_at_once()):
        assert status == (200 if key == live else 401), (path, key)


def test_kept_answers_are_counted_under_the_route_that_made_them(reader: Api, writer: Api) -> None:
    make_customer(writer)
    invoice = issued_invoice(writer)
    paths = {
        "/invoices/{ref}": f"/invoices/{invoice['id']}",
        "/invoices": "/invoices",
        "/balances": "/balances",
    }
    before = scrape(reader)
    for path in paths.values():
        first = reader.get(path)  # made
        assert reader.get(path).content == first.content  # kept
        tag = first.headers["etag"]
        assert reader.get(path, headers={"If-None-Match": tag}).status_code == 304
    after = scrape(reader)
    for template in paths:
        for status, times in (("200", 2), ("304", 1)):
            labels = {"method": "GET", "route": template, "status": status}
            assert value(after, "tollbook_http_requests_total", **labels) == (
                value(before, "tollbook_http_requests_total", **labels) + times
            ), (template, status)


# ------------------------------------------------------------------ the grouped probe itself


@dataclass(frozen=True)
class HeldDatabase(Database):
    """The store's database, whose probe connection holds each answer until ``release``
    is set: the statement has run (its snapshot is taken) but its callers are not answered."""

    ran: asyncio.Event | None = None
    release: asyncio.Event | None = None

    async def async_autocommit_connection(self) -> Any:
        conn = await super().async_autocommit_connection()
        real_execute = conn.execute
        ran, release = self.ran, self.release
        assert ran is not None and release is not None

        async def held_execute(*args: Any, **kwargs: Any) -> Any:
            cursor = await real_execute(*args, **kwargs)
            if "api_keys" in str(args[0]):  # the probe statement
                ran.set()
                await release.wait()
            return cursor

        conn.execute = held_execute
        return conn


def test_a_read_that_came_in_during_a_probe_waits_for_the_next(
    store_url: str, services: Services, keys: dict[str, str]
) -> None:
    if not store_url.startswith("postgres"):
        pytest.skip("SQLite asks each probe on the event loop, one at a time")
    table = services.ledger.recorder.events_table_name  # type: ignore[attr-defined]
    doomed = services.api_keys.create("doomed", "read")

    async def scenario() -> tuple[Any, Any]:
        ran, release = asyncio.Event(), asyncio.Event()
        db = HeldDatabase(services.db.dialect, services.db.env, ran=ran, release=release)
        probe = GroupedProbe(db, table)
        try:
            first = asyncio.create_task(probe.version(doomed, UUID(int=1)))
            await asyncio.wait_for(ran.wait(), 30)
            # the first statement has read the key as live; it is revoked now, before the
            # second request comes in
            await asyncio.to_thread(services.api_keys.revoke, "doomed")
            second = asyncio.create_task(probe.version(doomed, UUID(int=1)))
            await asyncio.sleep(0.05)
            release.set()
            return await first, await second
        finally:
            probe.close()

    first, second = asyncio.run(scenario())
    assert first.scope == "read"  # its snapshot was taken before the revocation
    assert second.scope is None  # asked by a statement sent after it came in


# ------------------------------------------------------------------ a first read, stored


def _invoices_of_every_kind(writer: Api) -> list[dict[str, Any]]:
    make_customer(writer)
    made = [ok(writer.post("/invoices", {"customer": "ACME"}), 201)]  # a draft
    for due in ("2026-12-31", "2026-09-15"):  # open, and overdue on the test's day
        draft = ok(
            writer.post(
                "/invoices", {"customer": "ACME", "invoice_date": "2026-09-01", "due_date": due}
            ),
            201,
        )
        line = {"description": "Ports", "quantity": "3", "unit_price": "10.50"}
        ok(writer.post(f"/invoices/{draft['id']}/lines", line), 201)
        made.append(ok(writer.post(f"/invoices/{draft['id']}/issue")))
    made.append(issued_invoice(writer, price="99.99"))
    ok(writer.post(f"/invoices/{made[-1]['id']}/void", {"reason": "wrong customer"}))
    made.append(issued_invoice(writer, price="100.00"))  # 120.00, then 50.00 paid
    payment = ok(
        writer.post("/payments", {"customer": "ACME", "amount": "50.00", "status": "completed"}),
        201,
    )
    allocation = {"allocations": [{"invoice": made[-1]["number"], "amount": "50.00"}]}
    ok(writer.post(f"/payments/{payment['id']}/allocations", allocation))
    return made


@pytest.fixture
def folds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The invoices the ledger folds from now on (the route's path; a stored answer has none)."""
    from adapters.ledger.application import Ledger

    folded: list[str] = []
    real_invoice = Ledger.invoice

    def counted(ledger: Ledger, ref: Any) -> Any:
        folded.append(str(ref))
        return real_invoice(ledger, ref)

    monkeypatch.setattr(Ledger, "invoice", counted)
    return folded


def test_a_first_read_from_the_stored_document_is_the_routes_answer(
    writer: Api,
    reader: Api,
    keys: dict[str, str],
    services: Services,
    other_process: TestClient,
    folds: list[str],
) -> None:
    from adapters.store.read_models import SqlViewStore
    from projections.runner import Runner

    paths = [f"/invoices/{made['id']}" for made in _invoices_of_every_kind(writer)]
    # the route's answers (the invoice documents read model is behind: nothing stored yet)
    routes = {path: reader.get(path) for path in paths}
    table = services.ledger.recorder.events_table_name  # type: ignore[attr-defined]
    Runner(services.ledger, SqlViewStore(services.db, table)).catch_up()
    folds.clear()
    other = Api(other_process, keys["read"])  # nothing kept there
    statuses = set()
    for path in paths:
        first = other.get(path)
        route = routes[path]
        assert first.status_code == 200 and first.content == route.content, path
        assert first.headers["etag"] == route.headers["etag"]
        statuses.add(first.json()["status"])
        again = other.get(path, headers={"If-None-Match": first.headers["etag"]})
        confirmed = reader.get(path, headers={"If-None-Match": route.headers["etag"]})
        assert again.status_code == confirmed.status_code, path  # 304, or 200 when overdue
    assert statuses == {"draft", "issued", "overdue", "void", "partly_paid"}
    assert folds == []  # every first read came from its stored document, on either store


def test_a_stored_document_behind_the_invoices_version_is_not_used(
    writer: Api,
    keys: dict[str, str],
    services: Services,
    other_process: TestClient,
    folds: list[str],
) -> None:
    from adapters.store.read_models import SqlViewStore
    from projections.runner import Runner

    make_customer(writer)
    invoice = issued_invoice(writer)
    table = services.ledger.recorder.events_table_name  # type: ignore[attr-defined]
    Runner(services.ledger, SqlViewStore(services.db, table)).catch_up()  # stored: issued
    voided = ok(writer.post(f"/invoices/{invoice['id']}/void", {"reason": "wrong customer"}))
    folds.clear()

    first = Api(other_process, keys["read"]).get(f"/invoices/{invoice['id']}")
    assert first.status_code == 200 and first.json()["status"] == "void"
    assert first.json()["version"] == voided["version"]
    assert folds != []  # the route folded the invoice: its stored document is behind
