"""``GET /ready`` says whether the service should get traffic, with each check's reason: it
turns 503 when a read model stops at an event it cannot apply, or falls too far behind, and
200 again once it goes on; ``/health`` and ``/health/live`` stay 200 throughout."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from adapters.app.context import Services
from adapters.service.app import create_app
from adapters.store.read_models import SqlViewStore
from projections.runner import Runner
from tests.integration.test_projection_faults import MARK, Refusing
from tests.service.conftest import Api, make_customer


def _checks(answer: Any) -> dict[str, dict[str, Any]]:
    return {check["name"]: check for check in answer.json()["checks"]}


def _runner(services: Services, store_class: type[SqlViewStore] = SqlViewStore) -> Runner:
    table = services.ledger.recorder.events_table_name
    return Runner(services.ledger, store_class(services.db, table))


def test_ready_turns_unready_when_a_read_model_stops_and_ready_when_it_goes_on(
    services: Services, client: TestClient, writer: Api
) -> None:
    make_customer(writer, "FINE")
    _runner(services).catch_up()
    ready = client.get("/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "ready"
    assert {name: c["ok"] for name, c in _checks(ready).items()} == {
        "store": True,
        "migrations": True,
        "read_models": True,
    }

    make_customer(writer, f"{MARK}-1")  # the read models' database refuses this one's rows
    refusing = _runner(services, Refusing)
    assert isinstance(refusing.store, Refusing)
    refusing.catch_up()

    unready = client.get("/ready")
    assert unready.status_code == 503
    assert unready.headers["content-type"] == "application/json"
    body = unready.json()
    assert body["status"] == "unready"
    check = _checks(unready)["read_models"]
    assert check["ok"] is False
    assert "directory is stopped at event" in check["reason"]
    stopped = {m["name"]: m for m in check["read_models"] if "stopped_at" in m}
    assert stopped["directory"]["stopped_at"]["event_type"] == "Customer.Registered"
    assert stopped["directory"]["stopped_at"]["error"] == f"DataError: cannot store {MARK}"
    assert _checks(unready)["store"]["ok"] and _checks(unready)["migrations"]["ok"]
    # liveness is not readiness: the process still answers
    assert client.get("/health/live").status_code == 200
    assert client.get("/health").status_code == 200

    refusing.store.refusing = False  # e.g. the database was upgraded: the row is taken now
    refusing._retry.clear()  # its back-off has passed
    refusing.catch_up()
    again = client.get("/ready")
    assert again.status_code == 200, again.text
    assert _checks(again)["read_models"]["reason"].startswith("every read model within")


def test_ready_turns_unready_when_read_models_fall_behind_the_allowed_lag(
    services: Services, monkeypatch: pytest.MonkeyPatch, keys: dict[str, str]
) -> None:
    monkeypatch.setenv("TOLLBOOK_READY_MAX_LAG", "1")
    with TestClient(create_app(services)) as client:
        writer = Api(client, keys["write"])
        make_customer(writer, "LAG1")
        make_customer(writer, "LAG2")  # two events the read models have not applied
        behind = client.get("/ready")
        assert behind.status_code == 503
        check = _checks(behind)["read_models"]
        assert check["max_lag"] == 1
        assert "positions behind (at most 1)" in check["reason"]
        assert all(m["lag"] >= 2 for m in check["read_models"])
        _runner(services).catch_up()
        assert client.get("/ready").status_code == 200


def test_ready_needs_no_key_and_says_when_migrations_are_pending(
    services: Services, client: TestClient
) -> None:
    _runner(services).catch_up()
    assert client.get("/ready").status_code == 200  # (its first look applies pending steps)
    with services.db.connect() as conn:  # as a database an older version left
        conn.execute("DELETE FROM schema_migrations WHERE version = 2")
    answer = client.get("/ready")
    assert answer.status_code == 503
    check = _checks(answer)["migrations"]
    assert check["ok"] is False and check["pending"] == [2]
    assert "run tollbook migrate" in check["reason"]


def test_ready_says_when_newer_code_migrated_the_database(
    services: Services, client: TestClient
) -> None:
    _runner(services).catch_up()
    assert client.get("/ready").status_code == 200
    with services.db.connect() as conn:
        conn.execute(
            "INSERT INTO schema_migrations VALUES (9999, 'from_the_future', '2026-12-01T00:00:00')"
        )
    check = _checks(client.get("/ready"))["migrations"]
    assert check["ok"] is False and check["unknown"] == [9999]
    assert "newer code" in check["reason"]
