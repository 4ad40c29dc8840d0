"""Moving a ledger's store to the second PostgreSQL cluster: the source read-only during the
copy (a write then is refused, never lost), the copy proved by its hash chain, writes after
the move land on the target and nothing written before is missing."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from adapters.app.context import Services
from adapters.app.store_move import chain_end, move_store
from adapters.cli.main import main
from adapters.clock import SteppingClock
from adapters.config import build_ledger
from adapters.ledger.application import Ledger
from adapters.service.app import create_app
from adapters.store.database import Database
from adapters.store.read_only import make_read_only, make_writable, read_only_reason
from adapters.store.read_only_refusal import StoreReadOnly
from domain.customer import customer_id_for
from domain.errors import NotFound
from tests.helpers import completed_payment, customer, event_count, issued_invoice

pytestmark = pytest.mark.postgres


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


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        main(list(argv))
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


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
