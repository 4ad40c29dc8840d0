"""Hostile operations settings: a metrics address or a readiness lag that makes no sense stops
``tollbook serve`` before it listens, with one line naming the setting; nothing is written.
Made-up methods and paths add no time series to ``/metrics``."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from adapters.app.context import Services
from adapters.cli.main import main
from adapters.service.app import create_app
from tests.helpers import event_count


@pytest.mark.parametrize(
    "bind",
    [
        "nonsense",
        "127.0.0.1:99999",
        "h" * 300 + ":9464",
        "127.0.0.1:9464\x00",
        "127.0.0.1:\u0669\u0664\u0666\u0664",  # Arabic-Indic digits are digits, not a port
    ],
)
def test_a_bad_metrics_address_is_a_usage_error(tollbook: Any, ledger: Any, bind: str) -> None:
    before = event_count(ledger)
    result = tollbook("serve", "--port", "0", "--metrics-bind", bind)
    assert result.code == 2, result.err
    assert "--metrics-bind" in result.err and "[usage]" in result.err
    assert result.err.count("\n") == 1
    assert event_count(ledger) == before


@pytest.mark.parametrize("lag", ["-1", "1000000001", "٣"])
def test_a_bad_readiness_lag_stops_the_start(
    tollbook: Any, ledger: Any, monkeypatch: pytest.MonkeyPatch, lag: str
) -> None:
    monkeypatch.setenv("TOLLBOOK_READY_MAX_LAG", lag)
    before = event_count(ledger)
    result = tollbook("serve", "--port", "0")
    assert result.code == 5, result.err
    assert "TOLLBOOK_READY_MAX_LAG" in result.err and "[config]" in result.err
    assert result.err.count("\n") == 1
    assert event_count(ledger) == before


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:4222", "n" * 5000, "nats://127.0.0.1:port"],
)
def test_doctor_names_a_nats_url_that_is_not_one(
    tollbook: Any, ledger: Any, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("TOLLBOOK_NATS_URL", url)
    before = event_count(ledger)
    result = tollbook("doctor", "--json")
    assert result.code == 1, result.err
    nats = next(f for f in result.json() if f["check"] == "nats")
    assert nats["status"] == "fail" and "TOLLBOOK_NATS_URL" in nats["fix"]
    assert len(nats["detail"]) < 400  # the value is cut short, not echoed whole
    assert event_count(ledger) == before


@pytest.mark.parametrize("url", ["memory://", "mysql://db/billing"])
def test_doctor_on_a_store_it_cannot_check_says_so_in_one_line(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["--db", url, "doctor", "--json"])
    assert stop.value.code == 5
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and "[config]" in captured.err


def test_made_up_methods_and_paths_add_no_time_series(store_url: str) -> None:
    services = Services.from_url(store_url)
    try:
        key = services.api_keys.create("scraper", "read")
        with TestClient(create_app(services)) as client:
            before = event_count(services.ledger)
            for n in range(5):
                client.request(f"BREW{n}", f"/coffee/{n}")
                client.get(f"/invoices/{n}x/../../etc/{n}")
            scraped = client.get("/metrics", headers={"Authorization": f"Bearer {key}"})
        assert event_count(services.ledger) == before
    finally:
        services.close()
    assert scraped.status_code == 200
    assert "BREW" not in scraped.text and "coffee" not in scraped.text
    assert "etc" not in scraped.text
    assert 'method="other",route="unmatched"' in scraped.text
