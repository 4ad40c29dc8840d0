"""The relay against the machine's NATS JetStream: every event of a billing cycle published
once, in order, with the documented subject, headers and payload; restarts and a crash
mid-batch neither lose nor repeat an event, inside the duplicate window or beyond it."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from dataclasses import replace

import nats
import pytest

from adapters.feed import Page, head_position, read_page
from adapters.ledger.application import Ledger
from adapters.relay import publisher, subjects
from adapters.relay.publisher import Relay, Report
from adapters.relay.stream import ensure_stream
from tests.helpers import completed_payment, customer, issued_invoice
from tests.relay.support import LOCAL_NATS, feed, read_stream, settings


def _billing_cycle(ledger: Ledger, invoices: int = 2) -> None:
    customer(ledger, "ACME")
    for n in range(invoices):
        issued_invoice(ledger, "ACME", f"{100 + n}.00")
    completed_payment(ledger, "ACME", "120.00")


def _relay(ledger: Ledger, stream: str, tenant: str, window: float = 120) -> Relay:
    return Relay(ledger, settings([LOCAL_NATS], stream, tenant, window=window))


def test_a_billing_cycle_is_published_once_in_order(
    ledger: Ledger, local_stream: tuple[str, str]
) -> None:
    stream, tenant = local_stream
    _billing_cycle(ledger)
    expected = feed(ledger)

    report = asyncio.run(_relay(ledger, stream, tenant).run(once=True))

    messages = read_stream([LOCAL_NATS], stream)
    assert [m.doc for m in messages] == expected  # the feed's envelopes, in position order
    last = expected[-1]["position"]
    assert report == Report(published=len(expected), duplicates=0, position=last)
    issued = next(m for m in messages if m.doc["type"] == "Invoice.Issued")
    assert issued.subject == f"tollbook.{tenant}.invoice.issued"
    assert issued.headers == {
        "Nats-Msg-Id": f"{tenant}:{issued.doc['position']}",
        "Tollbook-Tenant": tenant,
        "Tollbook-Position": str(issued.doc["position"]),
        "Tollbook-Type": "Invoice.Issued",
        "Nats-Expected-Stream": stream,
    }
    line = next(m for m in messages if m.doc["type"] == "Invoice.LineAdded")
    assert line.subject == f"tollbook.{tenant}.invoice.line_added"


def test_running_again_publishes_only_what_is_new(
    ledger: Ledger, local_stream: tuple[str, str]
) -> None:
    stream, tenant = local_stream
    _billing_cycle(ledger, invoices=1)
    first = asyncio.run(_relay(ledger, stream, tenant).run(once=True))
    again = asyncio.run(_relay(ledger, stream, tenant).run(once=True))
    assert again.published == 0 and again.position == first.position

    issued_invoice(ledger, "ACME", "55.00")
    third = asyncio.run(_relay(ledger, stream, tenant).run(once=True))

    positions = [m.doc["position"] for m in read_stream([LOCAL_NATS], stream)]
    assert positions == [doc["position"] for doc in feed(ledger)]
    assert third.published == len(positions) - first.published > 0


def _crash_after(relay: Relay, stream: str, count: int) -> None:
    """What a relay killed mid-batch leaves: the stream (made by the relay) holding the
    first ``count`` events, published as the relay publishes them, and nothing else."""

    async def part() -> None:
        nc = await nats.connect(LOCAL_NATS)
        js = nc.jetstream()
        try:
            await ensure_stream(js, relay.settings.stream, relay.settings.tenant)
            for doc in feed(relay.ledger)[:count]:
                await js.publish(
                    subjects.subject(relay.settings.tenant, doc["type"]),
                    json.dumps(doc, separators=(",", ":")).encode(),
                    stream=stream,
                    headers=subjects.headers(relay.settings.tenant, doc),
                )
        finally:
            await nc.close()

    asyncio.run(part())


def test_a_crash_mid_batch_then_a_restart_beyond_the_window_repeats_nothing(
    ledger: Ledger, local_stream: tuple[str, str]
) -> None:
    stream, tenant = local_stream
    _billing_cycle(ledger, invoices=4)
    expected = [doc["position"] for doc in feed(ledger)]
    # a one-second duplicate window, waited out: only the stream's last position stops repeats
    _crash_after(_relay(ledger, stream, tenant, window=1), stream, count=5)
    published = len(read_stream([LOCAL_NATS], stream))
    assert published == 5 < len(expected)
    time.sleep(1.2)

    report = asyncio.run(_relay(ledger, stream, tenant, window=1).run(once=True))

    assert [m.doc["position"] for m in read_stream([LOCAL_NATS], stream)] == expected
    assert report.published == len(expected) - published and report.duplicates == 0


def test_a_re_publish_inside_the_window_is_a_duplicate_jetstream_drops(
    ledger: Ledger, local_stream: tuple[str, str]
) -> None:
    stream, tenant = local_stream
    _billing_cycle(ledger, invoices=1)
    asyncio.run(_relay(ledger, stream, tenant).run(once=True))
    before = read_stream([LOCAL_NATS], stream)
    doc = before[2].doc

    async def republish() -> bool | None:
        nc = await nats.connect(LOCAL_NATS)
        try:
            ack = await nc.jetstream().publish(
                subjects.subject(tenant, doc["type"]),
                b"{}",
                stream=stream,
                headers=subjects.headers(tenant, doc),
            )
            return ack.duplicate
        finally:
            await nc.close()

    assert asyncio.run(republish()) is True
    assert read_stream([LOCAL_NATS], stream) == before


def test_two_tenants_share_a_stream_each_resuming_from_its_own_last_message(
    make_ledger: Callable[[], Ledger], local_stream: tuple[str, str], store_url: str
) -> None:
    del store_url
    stream, tenant = local_stream
    ledger = make_ledger()
    _billing_cycle(ledger, invoices=1)
    asyncio.run(_relay(ledger, stream, tenant).run(once=True))
    before = [doc["position"] for doc in feed(ledger)]
    other = f"{tenant}-b"
    asyncio.run(_relay(ledger, stream, other).run(once=True))  # adds its subjects to the stream
    issued_invoice(ledger, "ACME", "10.00")
    asyncio.run(_relay(ledger, stream, tenant).run(once=True))

    messages = read_stream([LOCAL_NATS], stream)
    every = [doc["position"] for doc in feed(ledger)]
    assert len(every) > len(before)
    for label, wanted in ((tenant, every), (other, before)):
        got = [m.doc["position"] for m in messages if m.headers["Tollbook-Tenant"] == label]
        assert got == wanted


def _writing_at_every_read(
    monkeypatch: pytest.MonkeyPatch,
    ledger: Ledger,
    on_read: Callable[[int], object] = lambda reads: None,
) -> list[int]:
    """Make the relay's every page read also bill one more invoice (four events): a writer
    faster than the relay's pages of two. Returns the positions it read after."""
    reads: list[int] = []

    def read_and_write(log: Ledger, after: int, limit: int) -> Page:
        reads.append(after)
        if len(reads) > 40:
            raise AssertionError("the relay is chasing the writer")
        page = read_page(log, after, limit)
        issued_invoice(ledger, "ACME", "1.00")
        on_read(len(reads))
        return page

    monkeypatch.setattr(publisher, "read_page", read_and_write)
    return reads


def test_once_stops_at_the_head_it_started_from_while_a_writer_keeps_writing(
    ledger: Ledger, local_stream: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    stream, tenant = local_stream
    _billing_cycle(ledger)
    head = head_position(ledger)
    _writing_at_every_read(monkeypatch, ledger)
    relay = Relay(ledger, replace(settings([LOCAL_NATS], stream, tenant), batch=2))

    report = asyncio.run(relay.run(once=True))

    assert head <= report.position < head_position(ledger)
    positions = [m.doc["position"] for m in read_stream([LOCAL_NATS], stream)]
    assert positions == [doc["position"] for doc in feed(ledger)][: len(positions)]


def test_a_stop_asked_for_is_heard_after_the_page_even_while_events_keep_coming(
    ledger: Ledger, local_stream: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    stream, tenant = local_stream
    _billing_cycle(ledger)
    stopping = threading.Event()
    _writing_at_every_read(monkeypatch, ledger, lambda reads: reads == 3 and stopping.set())
    relay = Relay(ledger, replace(settings([LOCAL_NATS], stream, tenant), batch=2))

    report = asyncio.run(relay.run(stopping=stopping))

    assert report.published <= 3 * 2  # the pages read by then, the last one read ahead
    positions = [m.doc["position"] for m in read_stream([LOCAL_NATS], stream)]
    assert positions == [doc["position"] for doc in feed(ledger)][: report.published]
