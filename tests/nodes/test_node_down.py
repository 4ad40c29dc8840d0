"""A PostgreSQL node goes down: the ledgers on it answer with a clear storage error (CLI exit 5
naming the store; HTTP 503 ``storage_unavailable``) while a ledger on the other node keeps
working; when it returns, everything written before is there and writes resume."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from adapters.app.context import Services
from adapters.cli.main import main
from adapters.clock import SteppingClock
from adapters.service.app import create_app
from tests.helpers import customer, event_count, issued_invoice
from tests.pg_cluster_support import PgCluster

pytestmark = pytest.mark.postgres


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    try:
        main(list(argv))
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    return code, capsys.readouterr().err


@pytest.fixture
def services(second_pg_url: str, clock: SteppingClock) -> Iterator[Services]:
    built = Services.from_url(second_pg_url, clock=clock)
    yield built
    built.close()


def test_a_stopped_node_fails_clearly_and_loses_nothing(
    second_pg: PgCluster,
    second_pg_url: str,
    pg_schema_url: str,
    services: Services,
    capsys: pytest.CaptureFixture[str],
) -> None:
    on_down_node, on_other_node = services.ledger, pg_schema_url
    customer(on_down_node, "ACME")
    issued_invoice(on_down_node, "ACME", "100.00")
    before = event_count(on_down_node)
    key = services.api_keys.create("reader", "read")
    write_key = services.api_keys.create("writer", "write")

    with TestClient(create_app(services)) as client:
        headers = {"Authorization": f"Bearer {key}"}
        assert client.get("/customers", headers=headers).status_code == 200

        second_pg.stop()

        # the ledger on the stopped node: a clear storage error, never a 500 or a hang
        answer = client.get("/customers", headers=headers)
        assert answer.status_code == 503, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.json()["code"] == "storage_unavailable"
        assert answer.headers["Retry-After"]
        refused = client.post(
            "/customers",
            json={"account_number": "BETA", "name": "Beta", "currency": "GBP",
                  "tax_rate": "20", "tax_description": "VAT", "payment_terms_days": 14},
            headers={"Authorization": f"Bearer {write_key}"},
        )  # fmt: skip
        assert refused.status_code == 503, refused.text
        assert refused.json()["code"] == "storage_unavailable"
        code, err = run(capsys, "--db", second_pg_url, "customer", "add", "BETA",
                        "--name", "Beta", "--currency", "GBP")  # fmt: skip
        assert code == 5, err
        assert "[storage]" in err and f":{second_pg.port}/" in err

        # the ledger on the other node goes on
        code, err = run(capsys, "--db", on_other_node, "customer", "add", "BETA",
                        "--name", "Beta", "--currency", "GBP")  # fmt: skip
        assert code == 0, err

        second_pg.start()

        # back: everything written before is there, and the same process writes again
        assert event_count(on_down_node) == before
        customer(on_down_node, "GAMMA")
        assert event_count(on_down_node) > before
        assert client.get("/customers", headers=headers).status_code == 200
    code, err = run(capsys, "--db", second_pg_url, "customer", "add", "BETA",
                    "--name", "Beta", "--currency", "GBP")  # fmt: skip
    assert code == 0, err
