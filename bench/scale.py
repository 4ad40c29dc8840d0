"""Past one machine (#18): tenants writing side by side, the relay against a raw publish, and the
latency from a commit to a JetStream consumer.

    .venv/bin/python -m bench.scale            # the full sizes
    .venv/bin/python -m bench.scale --quick    # smaller sizes, same yardsticks

**Writes, 1 tenant vs 4 tenants on one node**: on a PostgreSQL database of its own
(``own_database``), four writer threads register customers (one ledger write each) for a fixed
number of writes per thread, either all into one tenant's store (one schema: one table lock,
one hash chain) or each into its own tenant's store (four schemas of the same database: a
tenant is a schema). Events per second; the goal is that four tenants write faster than one
(their writes never wait for each other's lock).

**Writes, 4 tenants on one node vs on two nodes**: two PostgreSQL clusters started by the bench
(initdb / pg_ctl in temporary folders, tests/pg_cluster_support.py: the same settings on both,
fsync off), the four writers' tenants all on the first, or two on each. Events per second; on
one machine the two nodes share its cores and disk, so this shows what the split costs or
saves in the software, not what a second machine adds.

**Relay vs raw publish**: a ledger of its own holding the events; ours is ``Relay.run(once=True)``
(reads the log in pages, publishes each event and awaits its ack, the relay's exactly-once
discipline) into a fresh stream on the machine's NATS; the yardstick publishes the very same
messages (subjects, payloads, headers, message ids, prepared before the clock starts) with
nats-py's ``js.publish``, one awaited publish at a time, into another fresh stream; both timed
from connecting to NATS (the relay also makes its stream and reads where it stopped; the
yardstick makes its stream) to the last ack. Events per
second; goal at least half the raw rate.

**Commit to consumer**: the relay follows the log (polling every 50 ms) while a durable pull
consumer (adapters/relay/consumer.py, what webhook and export workers use) fetches; a writer
commits one event every 20 ms and notes when each write returned; the latency of an event is
when the consumer received it minus when its write returned. p50 and p99; goal p99 ≤ 1 s.

Rounds alternate between the two sides of a comparison; the median of three is reported.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import nats
import psycopg

from adapters.config import build_ledger
from adapters.feed import read_page
from adapters.ledger.application import Ledger
from adapters.logging import configure_logging
from adapters.relay import subjects
from adapters.relay.consumer import ConsumerSettings, StreamReader
from adapters.relay.publisher import Relay, RelaySettings
from adapters.relay.stream import StreamSettings
from bench.harness import Goal, header, interleave, median, own_database, report

NATS_URL = "nats://127.0.0.1:4222"
WRITERS = 4
TENANTS = 4
LATENCY_LIMIT_MS = 1000.0


def _schema_url(url: str, schema: str) -> str:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    return f"{url}?schema={schema}"


def _register(ledger: Ledger, tag: str, count: int) -> None:
    for n in range(count):
        ledger.register_customer("bench", account_number=f"{tag}-{n}", name=f"{tag} {n} Ltd")


def _events(ledgers: list[Ledger]) -> int:
    return sum(int(ledger.recorder.max_notification_id() or 0) for ledger in ledgers)


# ------------------------------------------------------------------ writes per tenant


def write_throughput(url: str, tenants: int, per_writer: int) -> float:
    """Events/s of WRITERS threads writing into ``tenants`` fresh schemas (round robin)."""
    run = uuid.uuid4().hex[:8]
    ledgers = [build_ledger(_schema_url(url, f"w{run}_{t}")) for t in range(tenants)]
    return _timed_writes(ledgers, run, per_writer)


def write_throughput_on(urls: list[str], per_writer: int) -> float:
    """Events/s of WRITERS threads, writer ``w`` into a fresh tenant schema on ``urls[w % n]``
    (the node URLs: one for all tenants on one node, two for two nodes)."""
    run = uuid.uuid4().hex[:8]
    ledgers = [
        build_ledger(_schema_url(urls[w % len(urls)], f"n{run}_{w}")) for w in range(WRITERS)
    ]
    return _timed_writes(ledgers, run, per_writer)


def _timed_writes(ledgers: list[Ledger], run: str, per_writer: int) -> float:
    """Events/s of WRITERS threads, writer ``w`` on ``ledgers[w % len(ledgers)]``; closes them."""
    try:
        before = _events(ledgers)
        threads = [
            threading.Thread(
                target=_register, args=(ledgers[w % len(ledgers)], f"{run}{w}", per_writer)
            )
            for w in range(WRITERS)
        ]
        began = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - began
        return (_events(ledgers) - before) / seconds
    finally:
        for ledger in ledgers:
            ledger.close()


def two_nodes(per_writer: int) -> Goal:
    """4 tenants on two bench-started clusters against the same 4 on the first alone."""
    try:
        from tests.pg_cluster_support import ClusterUnavailable, start_cluster
    except ImportError:  # an install without the tests folder
        return _not_measured("the tests folder (tests/pg_cluster_support.py) is not here")
    clusters = []
    try:
        try:
            clusters = [start_cluster(), start_cluster()]
        except ClusterUnavailable as error:
            return _not_measured(f"no second PostgreSQL cluster: {error}")
        nodes = [cluster.admin_url for cluster in clusters]
        rounds = interleave(
            3,
            two_nodes=lambda: write_throughput_on(nodes, per_writer),
            one_node=lambda: write_throughput_on(nodes[:1], per_writer),
        )
    finally:
        for cluster in clusters:
            cluster.remove()
    return Goal.at_least(
        "writes: 4 tenants on two nodes vs on one (bench-started clusters, fsync off)",
        ours=median(rounds["two_nodes"]),
        yardstick=median(rounds["one_node"]),
        unit="events/s",
        yardstick_name="one node",
        target=1.0,
        note="both nodes on this one machine",
    )


def _not_measured(why: str) -> Goal:
    return Goal.absolute(
        "writes: 4 tenants on two nodes", figure=0, unit="events/s", limit=0, below=False, note=why
    )


# ----------------------------------------------------------------- relay vs raw publish


@contextmanager
def _stream() -> Iterator[str]:
    """A stream name and tenant nobody else uses; the stream is deleted afterwards."""
    name = f"BENCH_{uuid.uuid4().hex[:10]}"
    try:
        yield name
    finally:

        async def delete() -> None:
            nc = await nats.connect(servers=[NATS_URL])
            try:
                await nc.jetstream().delete_stream(name)
            except nats.js.errors.NotFoundError:
                pass
            finally:
                await nc.close()

        asyncio.run(delete())


def relay_throughput(ledger: Ledger, events: int) -> float:
    with _stream() as name:
        tenant = name.lower().replace("_", "-")
        relay = Relay(ledger, RelaySettings([NATS_URL], tenant, StreamSettings(name)))
        began = time.perf_counter()
        published = asyncio.run(relay.run(once=True)).published
        seconds = time.perf_counter() - began
    if published != events:
        raise RuntimeError(f"the relay published {published} of {events} events")
    return events / seconds


def raw_throughput(messages: list[tuple[str, bytes, dict[str, str]]], tenant: str) -> float:
    with _stream() as name:

        async def publish() -> float:
            # timed like the relay's run: connecting and making the stream included
            began = time.perf_counter()
            nc = await nats.connect(servers=[NATS_URL])
            try:
                js = nc.jetstream(timeout=2)
                await js.add_stream(name=name, subjects=[subjects.tenant_subjects(tenant)])
                for subject, payload, headers in messages:
                    await js.publish(subject, payload, stream=name, headers=headers)
                return time.perf_counter() - began
            finally:
                await nc.close()

        seconds = asyncio.run(publish())
    return len(messages) / seconds


def prepared(ledger: Ledger, tenant: str) -> list[tuple[str, bytes, dict[str, str]]]:
    """The messages the relay would publish, built before the yardstick's clock starts."""
    docs = read_page(ledger, 0, 1_000_000).events
    return [
        (
            subjects.subject(tenant, doc["type"]),
            json.dumps(doc, separators=(",", ":")).encode(),
            subjects.headers(tenant, doc),
        )
        for doc in docs
    ]


# ------------------------------------------------------------------- commit to consumer


def commit_to_consumer(url: str, count: int) -> list[float]:
    """Latencies (ms) from each write's return to its event reaching a durable consumer."""
    ledger = build_ledger(url)
    stop = threading.Event()
    with _stream() as name:
        tenant = name.lower().replace("_", "-")
        settings = RelaySettings([NATS_URL], tenant, StreamSettings(name), interval=0.05)
        relay = Relay(ledger, settings)
        relaying = threading.Thread(target=lambda: asyncio.run(relay.run(stopping=stop)))
        relaying.start()
        reader = StreamReader(ConsumerSettings([NATS_URL], name, tenant, fetch_timeout=0.05))
        received: dict[int, float] = {}
        committed: dict[int, float] = {}
        try:
            _wait_for_stream(name)
            start = int(ledger.recorder.max_notification_id() or 0)
            reader.subscribe("bench-latency", after=start, max_ack_pending=1000)

            def consume() -> None:
                while not stop.is_set():
                    batch = reader.fetch("bench-latency", 100)
                    now = time.perf_counter()
                    for item in batch:
                        received.setdefault(item.position, now)
                    if batch:
                        reader.ack(batch)

            consuming = threading.Thread(target=consume)
            consuming.start()
            for n in range(count):
                ledger.register_customer("bench", account_number=f"L-{n}", name=f"L {n} Ltd")
                committed[int(ledger.recorder.max_notification_id() or 0)] = time.perf_counter()
                time.sleep(0.02)
            deadline = time.monotonic() + 30
            while not set(committed) <= set(received) and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            stop.set()
            relaying.join()
            if "consuming" in locals():
                consuming.join()
            reader.close()
            ledger.close()
    missing = set(committed) - set(received)
    if missing:
        raise RuntimeError(f"{len(missing)} events never reached the consumer")
    return [(received[p] - committed[p]) * 1000 for p in committed]


def _wait_for_stream(name: str) -> None:
    async def wait() -> None:
        nc = await nats.connect(servers=[NATS_URL])
        try:
            for _ in range(200):
                try:
                    await nc.jetstream().stream_info(name)
                    return
                except nats.js.errors.NotFoundError:
                    await asyncio.sleep(0.05)
            raise RuntimeError(f"the relay never made stream {name}")
        finally:
            await nc.close()

    asyncio.run(wait())


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


# -------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    per_writer = 60 if args.quick else 300
    relay_customers = 1500 if args.quick else 5000
    latency_events = 100 if args.quick else 500
    configure_logging("warning")  # the relay's per-event lines would be timed too
    header("scale: tenants, relay, commit to consumer")

    with own_database("postgres", "scale") as url:
        rounds = interleave(
            3,
            four_tenants=lambda: write_throughput(url, TENANTS, per_writer),
            one_tenant=lambda: write_throughput(url, 1, per_writer),
        )
        report(
            Goal.at_least(
                "writes: 4 tenants vs 1 (one PostgreSQL node, 4 writers)",
                ours=median(rounds["four_tenants"]),
                yardstick=median(rounds["one_tenant"]),
                unit="events/s",
                yardstick_name="1 tenant",
                target=1.0,
            )
        )
        report(two_nodes(per_writer))

        ledger = build_ledger(_schema_url(url, "relay"))
        try:
            _register(ledger, "R", relay_customers)
            tenant = "bench"
            messages = prepared(ledger, tenant)
            events = len(messages)
            rounds = interleave(
                3,
                relay=lambda: relay_throughput(ledger, events),
                raw=lambda: raw_throughput(messages, tenant),
            )
        finally:
            ledger.close()
        report(
            Goal.at_least(
                f"relay: {events} events to JetStream (R1, local)",
                ours=median(rounds["relay"]),
                yardstick=median(rounds["raw"]),
                unit="events/s",
                yardstick_name="nats-py js.publish",
                target=0.5,
            )
        )

        latencies: list[list[float]] = []
        for n in range(3):
            latencies.append(commit_to_consumer(_schema_url(url, f"latency{n}"), latency_events))
            print(
                f"  round {n + 1}/3 commit to consumer: p50"
                f" {statistics.median(latencies[-1]):.1f} ms",
                file=sys.stderr,
            )
        p50 = median([statistics.median(run) for run in latencies])
        p99 = median([percentile(run, 0.99) for run in latencies])
        report(
            Goal.absolute(
                "commit to a JetStream consumer, p99",
                figure=p99,
                unit="ms",
                limit=LATENCY_LIMIT_MS,
                note=f"p50 {p50:.1f} ms; relay polls every 50 ms; {latency_events} events",
            )
        )


if __name__ == "__main__":
    main()
