"""``tollbook serve --workers N``: N API processes on one port, every one serving, all of them
gone after one SIGTERM to the parent, which exits 0."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from adapters.app.context import Services
from tests.service.test_serve import TOLLBOOK, _free_port, _wait_until


def _children(pid: int) -> list[int]:
    found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in found]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def test_two_api_processes_serve_and_stop_cleanly(store_url: str, services: Services) -> None:
    key = services.api_keys.create("ops", "admin")
    port, metrics_port = _free_port(), _free_port()
    env = {**os.environ, "TOLLBOOK_LOG_LEVEL": "warning"}
    process = subprocess.Popen(
        [
            TOLLBOOK,
            "--db",
            store_url,
            "serve",
            "--role",
            "api",
            "--workers",
            "2",
            "--port",
            str(port),
            "--metrics-bind",
            f"127.0.0.1:{metrics_port}",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {key}"}
    try:
        _wait_until(lambda: httpx.get(f"{base}/health/live").status_code == 200, timeout=60)
        api = _wait_until(lambda: len(_children(process.pid)) >= 2 and _children(process.pid))
        # every process answers: separate connections land on either
        accounts = [f"W{n}" for n in range(12)]
        for account in accounts:
            with httpx.Client(base_url=base, headers=headers) as client:
                created = client.post(
                    "/customers", json={"account_number": account, "name": account}
                )
                assert created.status_code == 201, created.text
        with httpx.Client(base_url=base, headers=headers) as client:
            listed = client.get("/customers", params={"limit": 100}).json()
            assert {c["account_number"] for c in listed} >= set(accounts)
            first = client.get("/invoices")
            assert (
                client.get(
                    "/invoices", headers={"If-None-Match": first.headers["etag"]}
                ).status_code
                == 304
            )
        # the metrics of both processes, added up, whichever process answers the scrape
        for _ in range(4):
            with httpx.Client(base_url=base, headers=headers) as client:
                assert _customers_created(client.get("/metrics").text) == len(accounts)
        separate = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics")  # no key there
        assert _customers_created(separate.text) == len(accounts)
    finally:
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err.decode()
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in api) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in api)


def _customers_created(text: str) -> float:
    """``POST /customers`` answered 201, as the scrape counts them."""
    wanted = {"method": "POST", "route": "/customers", "status": "201"}
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "tollbook_http_requests_total" and sample.labels == wanted
    )


def test_workers_count_api_processes_only(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/w.sqlite"
    refused = subprocess.run(
        [TOLLBOOK, "--db", url, "serve", "--role", "worker", "--workers", "2"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2 and "--workers" in refused.stderr
    for bad in ("0", "65", "two"):
        out = subprocess.run(
            [TOLLBOOK, "--db", url, "serve", "--workers", bad],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 2, bad
