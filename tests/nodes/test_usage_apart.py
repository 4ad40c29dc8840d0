"""Usage on one PostgreSQL node, the ledger on another: CDRs imported to the usage node, the
billing run reads them there and writes invoices to the ledger's node. No transaction spans
the two: deterministic invoice ids make a repeated run, or one resumed after a crash, add
nothing twice."""

from __future__ import annotations

import json
from collections.abc import Iterator

import psycopg
import pytest

from adapters.cli.main import main
from adapters.clock import SteppingClock
from adapters.config import build_ledger
from adapters.ledger.application import Ledger
from adapters.ledger.folds import LogFolds
from adapters.store.database import Database
from adapters.usage.billing import InvoiceResult, run_billing
from adapters.usage.location import USAGE_VARIABLE
from domain.usage import Period
from tests.integration.usage_helpers import cdr, customers, write_cdrs

pytestmark = pytest.mark.postgres

OCTOBER = Period.month("2026-10")


class Crash(Exception):
    """The billing process dies after its first batch of invoices is saved."""


@pytest.fixture
def ledger(pg_schema_url: str, clock: SteppingClock) -> Iterator[Ledger]:
    built = build_ledger(pg_schema_url, clock=clock)
    yield built
    built.close()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        main(list(argv))
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


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
