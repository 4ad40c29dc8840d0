"""``tollbook serve --role relay``: a process that only relays, configured by the environment,
following the log until SIGTERM, and stopping cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from adapters.ledger.application import Ledger
from tests.helpers import customer, issued_invoice
from tests.relay.support import LOCAL_NATS, feed, read_stream

TOLLBOOK = str(Path(sys.executable).with_name("tollbook"))


def _wait_for(check: Callable[[], bool], seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_the_relay_role_follows_the_log_until_sigterm(
    ledger: Ledger, store_url: str, local_stream: tuple[str, str], tmp_path: Path
) -> None:
    stream, _ = local_stream
    customer(ledger, "ACME")
    env = {**os.environ, "TOLLBOOK_NATS_URL": LOCAL_NATS, "TOLLBOOK_RELAY_STREAM": stream}
    log = (tmp_path / "relay.log").open("wb")
    process = subprocess.Popen(
        [TOLLBOOK, "--db", store_url, "serve", "--role", "relay"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:

        def published() -> int:
            try:
                return len(read_stream([LOCAL_NATS], stream))
            except Exception:
                return 0

        _wait_for(lambda: published() == 1)
        issued_invoice(ledger, "ACME", "10.00")  # written while the relay follows
        _wait_for(lambda: published() == len(feed(ledger)))
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    headers = [m.headers["Tollbook-Tenant"] for m in read_stream([LOCAL_NATS], stream)]
    assert set(headers) == {"default"}
