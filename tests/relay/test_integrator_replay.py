"""docs/integrators.md "Replaying from a position or a time", run as written: its nats-py
functions are taken from the document and executed against a stream the relay filled, with
another tenant's messages interleaved, so the example an integrator copies is the one tested."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nats

from adapters.clock import SteppingClock
from adapters.config import build_ledger
from adapters.relay.publisher import Relay
from tests.helpers import completed_payment, customer, issued_invoice
from tests.relay.support import LOCAL_NATS, feed, settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "integrators.md"


def _documented_functions() -> dict[str, Any]:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("### Replaying from a position or a time", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    code = next(b for b in blocks if "async def replay_after" in b)
    namespace: dict[str, Any] = {}
    exec(compile(code, str(DOC), "exec"), namespace)  # our own document
    return namespace


async def _positions(sub: Any) -> list[int]:
    got: list[int] = []
    while True:
        try:
            messages = await sub.fetch(100, timeout=0.2)
        except TimeoutError:  # as docs/integrators.md catches it (nats-py raises asyncio's)
            return got
        for msg in messages:
            got.append(int(msg.headers["Tollbook-Position"]))
            await msg.ack()


def test_the_documented_replay_from_a_time_and_from_a_position(
    local_stream: tuple[str, str], tmp_path: Path, clock: SteppingClock
) -> None:
    stream, tenant = local_stream
    other = f"{tenant}-b"  # a second tenant's messages between ours in the stream
    ledger = build_ledger(f"sqlite:///{tmp_path}/ledger.sqlite", clock=clock)

    def relay(label: str) -> None:
        asyncio.run(Relay(ledger, settings([LOCAL_NATS], stream, label)).run(once=True))

    customer(ledger, "ACME")
    issued_invoice(ledger, "ACME", "100.00")
    relay(tenant)
    relay(other)
    first = [doc["position"] for doc in feed(ledger)]
    time.sleep(0.05)
    since = datetime.now(UTC)  # the stream's clock: when the relay published
    time.sleep(0.05)
    issued_invoice(ledger, "ACME", "20.00")
    completed_payment(ledger, "ACME", "50.00")
    relay(tenant)
    relay(other)
    every = [doc["position"] for doc in feed(ledger)]
    later = every[len(first) :]
    assert later and every[: len(first)] == first
    ledger.close()

    documented = _documented_functions()

    async def replay() -> dict[str, list[int]]:
        nc = await nats.connect(LOCAL_NATS)
        js = nc.jetstream()
        try:
            found = {
                "since": await _positions(
                    await documented["replay_since"](js, since, "r-since", tenant, stream)
                )
            }
            for after in (0, first[1], first[-1], every[-2], every[-1]):
                sub = await documented["replay_after"](js, after, f"r-{after}", tenant, stream)
                found[str(after)] = await _positions(sub)
            return found
        finally:
            await nc.close()

    found = asyncio.run(replay())

    assert found["since"] == later
    for after in (0, first[1], first[-1], every[-2], every[-1]):
        assert found[str(after)] == [p for p in every if p > after], after
