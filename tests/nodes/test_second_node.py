"""Tollbook past one PostgreSQL node, on a second cluster the tests start (tests/conftest.py
``second_pg``; one module, so a test process starts it once):

- moving a store: the source read-only during the copy (a write then is refused, never lost),
  the copy proved by its hash chain, writes after the move on the target, nothing missing;
- a node down: its ledgers answer with a clear storage error (CLI exit 5 naming the store,
  HTTP 503 ``storage_unavailable``) while a ledger on the other node keeps working; when it
  returns, everything written before is there and writes resume;
- usage apart: CDRs on one node, the ledger on another; the billing run reads the usage there
  and writes invoices here, and a repeated run, or one resumed after a crash, adds nothing
  twice (deterministic invoice ids, no transaction across the two).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from adapters.app.context import Services
from adapters.app.store_move import chain_end, move_store
from adapters.clock import SteppingClock
from adapters.config import build_ledger
from adapters.ledger.application import Ledger
from adapters.ledger.folds import LogFolds
from adapters.service.app import create_app
from adapters.store.database import Database
from adapters.store.read_only import make_read_only, make_writable, read_only_reason
from adapters.store.read_only_refusal import StoreReadOnly
from adapters.usage.billing import InvoiceResult, run_billing
from adapters.usage.location import USAGE_VARIABLE
from domain.customer import customer_id_for
from domain.errors import NotFound
from domain.usage import Period
from tests.helpers import completed_payment, customer, event_count, issued_invoice
from tests.helpers import run_cli as run
from tests.integration.usage_helpers import cdr, customers, write_cdrs
from tests.pg_cluster_support import PgCluster

pytestmark = pytest.mark.postgres


# ------------------------------------------------------------------ moving a store


@pytest.fixture
def ledgers(clock: SteppingClock) -> Callable[[str], Ledger]:
    opened: list[Ledger] = []

    def open_(url: str) -> Ledger:
        opened.append(build_ledger(url, clock=clock))
        return opened[-1]

    yield open_
    for ledger in opened:
        ledger.close()


def test_a_store_moves_to_the_second_node_with_its_chain_proved(
    pg_schema_url: str, second_pg_url: str, ledgers: Callable[[str], Ledger]
) -> None:
    source = ledgers(pg_schema_url)
    customer(source, "ACME")
    first = issued_invoice(source, "ACME", "100.00")
    completed_payment(source, "ACME", "50.00")
    before = event_count(source)

    refused: list[BaseException] = []

    def write_during_the_copy(what: str, count: int) -> None:
        if refused:
            return
        try:
            customer(ledgers(pg_schema_url), "LATE")
        except StoreReadOnly as error:
            refused.append(error)

    report = move_store(pg_schema_url, second_pg_url, progress=write_during_the_copy)

    assert report.identical
    assert report.source_end.events == before == report.target_end.events
    assert report.source_end.chain_head == report.target_end.chain_head
    # the write tried while the copy ran was refused, by name, and is in neither store
    assert refused and refused[0].code == "store_read_only"
    assert "being moved to" in str(refused[0])
    target = ledgers(second_pg_url)
    assert event_count(target) == before
    with pytest.raises(NotFound):
        target.customer("LATE")
    assert target.customer("ACME").id == customer_id_for("ACME")

    # the source stays read-only until it is retired: a write there is refused, not lost
    assert read_only_reason(Database.from_url(pg_schema_url)) is not None
    with pytest.raises(StoreReadOnly):
        completed_payment(ledgers(pg_schema_url), "ACME", "1.00")

    # the target takes writes and continues the same chain
    second = issued_invoice(target, "ACME", "30.00")
    assert second != first  # numbering goes on from the copied series
    end = chain_end(target, Database.from_url(second_pg_url))
    assert end.events == event_count(target) > before
    assert end.position > report.target_end.position


def test_store_copy_from_sqlite_to_the_second_node_on_the_command_line(
    tmp_path: Path, second_pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    source = f"sqlite:///{tmp_path}/ledger.sqlite"
    code, _, err = run(capsys, "--db", source, "customer", "add", "ACME", "--name", "Acme Ltd",
                       "--currency", "GBP")  # fmt: skip
    assert code == 0, err

    code, out, err = run(capsys, "--db", source, "store", "copy", "--to", second_pg_url, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["identical"] and report["source_read_only"]
    assert report["events"] >= 1

    code, out, _ = run(capsys, "--db", source, "store", "status")
    assert out.startswith("read-only (tollbook store is read-only: being moved to")
    # a write to the old store: refused by name, with the store named, exit 5
    code, _, err = run(capsys, "--db", source, "customer", "add", "BETA", "--name", "Beta",
                       "--currency", "GBP")  # fmt: skip
    assert code == 5
    assert "[store_read_only]" in err and "ledger.sqlite" in err
    # the copy takes it
    code, _, err = run(capsys, "--db", second_pg_url, "customer", "add", "BETA", "--name", "Beta",
                       "--currency", "GBP")  # fmt: skip
    assert code == 0, err
    # a copy into a store that holds events is refused and leaves the source writable again
    other = f"sqlite:///{tmp_path}/other.sqlite"
    code, _, err = run(capsys, "--db", other, "customer", "add", "GAMMA", "--name", "Gamma",
                       "--currency", "GBP")  # fmt: skip
    code, _, err = run(capsys, "--db", other, "store", "copy", "--to", second_pg_url)
    assert code == 1 and "[move_failed]" in err and "is not empty" in err
    code, out, _ = run(capsys, "--db", other, "store", "status")
    assert out.strip() == "writable"
    # the first copy abandoned (nobody switched): its mark comes off once, and says so
    code, out, err = run(capsys, "--db", source, "store", "writable", "--json")
    assert code == 0, err
    assert json.loads(out) == {"read_only": False, "changed": True}
    code, out, _ = run(capsys, "--db", source, "store", "writable", "--json")
    assert json.loads(out)["changed"] is False
    code, out, _ = run(capsys, "--db", source, "store", "status")
    assert out.strip() == "writable"


def test_a_service_on_a_read_only_store_refuses_writes_with_503_and_still_reads(
    tmp_path: Path, clock: SteppingClock
) -> None:
    url = f"sqlite:///{tmp_path}/ledger.sqlite"
    services = Services.from_url(url, clock=clock)
    try:
        customer(services.ledger, "ACME")
        key = services.api_keys.create("writer", "write")
        before = event_count(services.ledger)
        db = Database.from_url(url)
        make_read_only(db, services.ledger.recorder.events_table_name, "being moved to elsewhere")
        headers = {"Authorization": f"Bearer {key}"}
        with TestClient(create_app(services)) as client:
            refused = client.post(
                "/customers",
                json={"account_number": "BETA", "name": "Beta", "currency": "GBP",
                      "tax_rate": "20", "tax_description": "VAT", "payment_terms_days": 14},
                headers=headers,
            )  # fmt: skip
            assert refused.status_code == 503, refused.text
            assert refused.json()["code"] == "store_read_only"
            assert "being moved to elsewhere" in refused.json()["detail"]
            assert refused.headers["Retry-After"]
            assert client.get("/customers", headers=headers).status_code == 200
        assert event_count(services.ledger) == before
        assert make_writable(db)
        assert read_only_reason(db) is None
        customer(services.ledger, "BETA")
    finally:
        services.close()


# ------------------------------------------------------------------ a node down


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
        code, _, err = run(capsys, "--db", second_pg_url, "customer", "add", "BETA",
                        "--name", "Beta", "--currency", "GBP")  # fmt: skip
        assert code == 5, err
        assert "[storage]" in err and f":{second_pg.port}/" in err

        # the ledger on the other node goes on
        code, _, err = run(capsys, "--db", on_other_node, "customer", "add", "BETA",
                        "--name", "Beta", "--currency", "GBP")  # fmt: skip
        assert code == 0, err

        second_pg.start()

        # back: everything written before is there, and the same process writes again
        assert event_count(on_down_node) == before
        customer(on_down_node, "GAMMA")
        assert event_count(on_down_node) > before
        assert client.get("/customers", headers=headers).status_code == 200
    code, _, err = run(capsys, "--db", second_pg_url, "customer", "add", "BETA",
                    "--name", "Beta", "--currency", "GBP")  # fmt: skip
    assert code == 0, err


# ------------------------------------------------------------------ usage apart


OCTOBER = Period.month("2026-10")


class Crash(Exception):
    """The billing process dies after its first batch of invoices is saved."""


@pytest.fixture
def ledger(pg_schema_url: str, clock: SteppingClock) -> Iterator[Ledger]:
    built = build_ledger(pg_schema_url, clock=clock)
    yield built
    built.close()


def cdr_rows(url: str) -> int:
    schema = url.rsplit("schema=", 1)[1]
    with psycopg.connect(url.split("?")[0]) as conn:
        found = conn.execute(
            "SELECT COUNT(*) FROM pg_tables WHERE schemaname = %s AND tablename = 'usage_cdrs'",
            (schema,),
        ).fetchone()
        if not found or not found[0]:
            return 0
        row = conn.execute(f'SELECT COUNT(*) FROM "{schema}".usage_cdrs').fetchone()
    return int(row[0]) if row else 0


def test_billing_reads_usage_on_one_node_and_writes_invoices_to_another(
    ledger: Ledger,
    pg_schema_url: str,
    second_pg_url: str,
    tmp_path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(USAGE_VARIABLE, second_pg_url)
    accounts = [(f"C{n}", "GBP", "UTC", "destination") for n in range(4)]
    customers(ledger, accounts)
    rows = [cdr(f"c{n}-{k}", f"C{n}", charge="0.50") for n in range(4) for k in range(3)]
    rows.append(cdr("late", "C0", start="2026-11-02T10:00:00Z", charge="9.00"))  # November
    cdrs = write_cdrs(tmp_path / "october.csv", rows)
    code, _, err = run(capsys, "--db", pg_schema_url, "usage", "import", str(cdrs))
    assert code == 0, err
    # the CDRs are on the usage node, none beside the ledger
    assert cdr_rows(second_pg_url) == len(rows)
    assert cdr_rows(pg_schema_url) == 0

    usage, events = Database.from_url(second_pg_url), Database.from_url(pg_schema_url)

    def crash_after_the_first_batch(result: InvoiceResult) -> None:
        raise Crash(result.account)

    with pytest.raises(Crash):  # saved one batch of 2, then died
        run_billing(ledger, usage, OCTOBER, save_batch=2, on_invoice=crash_after_the_first_batch,
                    ledger_db=events)  # fmt: skip
    made_before = len(list(LogFolds(ledger).invoices()))
    assert 0 < made_before < 4

    resumed = run_billing(ledger, usage, OCTOBER, ledger_db=events)
    assert resumed.count("created") == 4 - made_before
    assert resumed.count("exists") == made_before
    again = run_billing(ledger, usage, OCTOBER, ledger_db=events)
    assert again.count("created") == 0 and again.count("exists") == 4

    invoices = list(LogFolds(ledger).invoices())
    assert sorted(i.customer_account for i in invoices) == ["C0", "C1", "C2", "C3"]
    for invoice in invoices:  # October's three calls each, read from the usage node
        assert sum(line.net(invoice.currency) for line in invoice.lines.values()) == 3 * 0.5

    # the command line reads the same split from the environment: nothing more to create
    code, out, err = run(capsys, "--db", pg_schema_url, "bill", "--period", "2026-10", "--json")
    assert code == 0, err
    assert [i["action"] for i in json.loads(out)["invoices"]] == ["exists"] * 4
    assert len(list(LogFolds(ledger).invoices())) == 4
