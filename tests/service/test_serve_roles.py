"""``tollbook serve --role api`` and ``--role worker`` as separate processes on PostgreSQL:
the API answers, the worker delivers webhooks, follows the read models and registers invoice
schedules; logs are JSON lines carrying request id, aggregate id and event; SIGTERM drains an
in-flight request and both exit 0."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time

import httpx
from prometheus_client.parser import text_string_to_metric_families

from adapters.app.context import Services
from scheduler.jobstore import stored_jobs
from tests.service.test_serve import TOLLBOOK, _free_port, _wait_until


def _start(url: str, *args: str, log_path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "TOLLBOOK_LOG_LEVEL": "info",
        "TOLLBOOK_SCHEDULE_SYNC_EVERY": "0.5",
        "TOLLBOOK_WEBHOOKS_EVERY": "0.5",
    }
    env.pop("TOLLBOOK_LOG_FORMAT", None)  # serve's default: JSON
    return subprocess.Popen(
        [TOLLBOOK, "--db", url, "serve", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log_path.open("wb"),
    )


def _lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_api_and_worker_processes_share_one_postgresql_database(
    pg_schema_url, receiver_factory, tmp_path
):
    services = Services.from_url(pg_schema_url)
    key = services.api_keys.create("ops", "admin")
    receiver = receiver_factory()
    port, metrics_port = _free_port(), _free_port()
    api_log, worker_log = tmp_path / "api.log", tmp_path / "worker.log"
    api = _start(pg_schema_url, "--role", "api", "--port", str(port), log_path=api_log)
    bind = f"127.0.0.1:{metrics_port}"
    worker = _start(pg_schema_url, "--role", "worker", "--metrics-bind", bind, log_path=worker_log)
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {key}"}
    try:
        _wait_until(lambda: httpx.get(f"{base}/health").status_code == 200)
        hook = httpx.post(f"{base}/webhooks", json={"url": receiver.url}, headers=headers)
        assert hook.is_success
        created = httpx.post(
            f"{base}/customers",
            json={
                "account_number": "SPLIT",
                "name": "Split Ltd",
                "invoice_schedule": {"frequency": "monthly", "day": 1},
            },
            headers={**headers, "X-Request-Id": "req-split-1"},
        )
        assert created.status_code == 201, created.text
        customer_id = created.json()["id"]

        # the worker process: webhook delivered, schedule registered, read models followed
        _wait_until(lambda: receiver.accepted)
        assert receiver.accepted[0].json()["aggregate_id"] == customer_id
        _wait_until(lambda: f"invoice:{customer_id}" in stored_jobs(services.db))
        head = services.ledger.recorder.max_notification_id()
        _wait_until(lambda: _read_model_positions(services) == {head})

        # the worker's own metrics, on its metrics address (it has no API port)
        delivered = _series(
            "tollbook_webhook_attempts_total", subscription=hook.json()["id"], outcome="delivered"
        )
        # counted just after the receiver answered
        scraped = _wait_until(
            lambda: (
                (found := _samples(httpx.get(f"http://{bind}/metrics").text)).get(delivered)
                and found
            )
        )
        assert scraped[_series("tollbook_scheduler_job_runs_total", job="webhooks", outcome="ok")]
        assert scraped[_series("tollbook_read_model_lag_positions", read_model="balances")] == 0
        assert scraped[_series("tollbook_database_up")] == 1

        # an in-flight long-poll is answered, not cut off, when the API is told to stop
        answers: list[httpx.Response] = []
        poll = threading.Thread(
            target=lambda: answers.append(
                httpx.get(
                    f"{base}/events",
                    params={"after": head, "wait": 20},
                    headers=headers,
                    timeout=30,
                )
            )
        )
        poll.start()
        time.sleep(0.5)
    finally:
        api.send_signal(signal.SIGTERM)
        worker.send_signal(signal.SIGTERM)
        api.wait(30)
        worker.wait(30)
        services.close()
    poll.join(30)
    assert api.returncode == 0 and worker.returncode == 0, api_log.read_text()
    assert [a.status_code for a in answers] == [200]

    api_lines, worker_lines = _lines(api_log), _lines(worker_log)  # every line is JSON
    request = next(
        line
        for line in api_lines
        if line.get("event") == "request" and line.get("request_id") == "req-split-1"
    )
    assert request["status"] == 201 and request["path"] == "/customers"
    written = next(line for line in api_lines if line.get("domain_event") == "Registered")
    assert written["request_id"] == "req-split-1" and written["aggregate_id"] == customer_id
    assert not any(line.get("event") == "worker started" for line in api_lines)
    started = {line["worker"] for line in worker_lines if line.get("event") == "worker started"}
    assert started == {"projections", "scheduler"}
    assert any(line.get("event") == "webhook delivered" for line in worker_lines)


def _read_model_positions(services: Services) -> set[int]:
    with services.db.connect() as conn:
        rows = conn.execute("SELECT position FROM projection_tracking").fetchall()
    return {int(row[0]) for row in rows}


Series = tuple[str, tuple[tuple[str, str], ...]]


def _series(name: str, **labels: str) -> Series:
    return name, tuple(sorted(labels.items()))


def _samples(text: str) -> dict[Series, float]:
    """Each sample of a scrape by its name and labels."""
    return {
        _series(sample.name, **sample.labels): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
