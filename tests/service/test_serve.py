"""``tollbook serve`` end to end: a real server process on 127.0.0.1 runs the API and the
webhook worker together, and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from adapters.app.context import Services
from adapters.webhooks.signing import verify

TOLLBOOK = str(Path(sys.executable).parent / "tollbook")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until(check, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result = check()
        except httpx.TransportError:
            result = None
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError("timed out waiting")


def test_serve_runs_api_and_webhook_worker(store_url, services: Services, receiver_factory):
    key = services.api_keys.create("ops", "admin")
    receiver = receiver_factory()
    port = _free_port()
    # webhook passes every 0.5 s instead of 2 s: the delivery below waits for one
    env = {**os.environ, "TOLLBOOK_LOG_LEVEL": "warning", "TOLLBOOK_WEBHOOKS_EVERY": "0.5"}
    process = subprocess.Popen(
        [TOLLBOOK, "--db", store_url, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        headers = {"Authorization": f"Bearer {key}"}
        _wait_until(lambda: httpx.get(f"{base}/health").status_code == 200)
        hook = httpx.post(f"{base}/webhooks", json={"url": receiver.url}, headers=headers)
        assert hook.status_code == 201, hook.text
        created = httpx.post(
            f"{base}/customers",
            json={"account_number": "LIVE", "name": "Live Ltd"},
            headers={**headers, "Idempotency-Key": "live-1"},
        )
        assert created.status_code == 201, created.text
        _wait_until(lambda: receiver.accepted)
        [delivery] = receiver.accepted
        assert delivery.json()["type"] == "Customer.Registered"
        assert delivery.json()["actor"] == "ops"
        assert verify(
            hook.json()["secret"],
            delivery.headers["tollbook-signature"],
            delivery.headers["tollbook-timestamp"],
            delivery.body,
            now=time.time(),
        )
    finally:
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err.decode()
