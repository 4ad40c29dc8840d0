"""Reconciliation catches a corrupted read model and a rebuild repairs it; the hash chain names
every event altered, removed or inserted with raw SQL (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from decimal import Decimal as D

from click.testing import CliRunner

from adapters.cli.main import cli
from tests.integration.billing import customer, execute, issued_invoice, paid


def tollbook(url: str, *args: str):
    return CliRunner().invoke(cli, ["--db", url, *args], catch_exceptions=False)


def billed(ledger) -> str:
    customer(ledger, "ACME")
    number = issued_invoice(ledger, "ACME", "100.00")
    payment = paid(ledger, "ACME", "50.00")
    ledger.allocate(payment, [(number, D("30.00"))], "t")
    return number


def test_reconcile_catches_a_corrupted_row_and_a_rebuild_repairs_it(ledger, store_url):
    number = billed(ledger)
    assert tollbook(store_url, "reconcile").exit_code == 0

    execute(store_url, "UPDATE rm_balances SET outstanding = '1.00', invoiced = '7.00'")
    execute(store_url, "UPDATE rm_invoice_register SET paid = '0' WHERE number = ?", (number,))
    result = tollbook(store_url, "reconcile", "--json")

    assert result.exit_code == 1
    found = {
        (d["check"], d["subject"], d["field"])
        for d in json.loads(result.stdout.split("\nError")[0])
    }
    assert ("balances", "ACME GBP", "outstanding") in found
    assert ("balances", "ACME GBP", "invoiced") in found
    assert ("invoice register", number, "paid") in found

    assert tollbook(store_url, "projections", "rebuild").exit_code == 0
    assert tollbook(store_url, "reconcile").exit_code == 0
    balance = json.loads(tollbook(store_url, "balance", "--json").stdout)
    assert balance[0]["outstanding"] == "90.00"


def _events_table(store_url: str) -> tuple[str, str]:
    if store_url.startswith("sqlite"):
        return "stored_events", "rowid"
    return "tollbook_events", "notification_id"


def _verify(store_url: str) -> tuple[int, list[dict[str, object]]]:
    result = tollbook(store_url, "audit", "verify", "--json")
    document = json.loads(result.stdout.split("\nError")[0])
    return result.exit_code, document["findings"]


def test_an_untouched_log_verifies(ledger, store_url):
    billed(ledger)
    assert _verify(store_url) == (0, [])


def test_audit_verify_names_each_record_changed_behind_the_applications_back(ledger, store_url):
    billed(ledger)
    table, position = _events_table(store_url)
    rows = execute(
        store_url,
        f"SELECT {position}, originator_id, originator_version FROM {table} ORDER BY {position}",
    )
    altered, removed = rows[2], rows[4]
    execute(
        store_url,
        f"UPDATE {table} SET state = ? WHERE {position} = ?",
        (b'{"tampered":1}', altered[0]),
    )
    execute(store_url, f"DELETE FROM {table} WHERE {position} = ?", (removed[0],))
    forged_id = rows[1][1]
    execute(
        store_url,
        f"INSERT INTO {table} (originator_id, originator_version, topic, state)"
        " VALUES (?, ?, ?, ?)",
        (forged_id, 99, "domain.invoice:Invoice.Voided", b"{}"),
    )

    exit_code, findings = _verify(store_url)

    assert exit_code == 1
    by_problem = {f["problem"]: f for f in findings}
    assert set(by_problem) == {"altered", "removed", "inserted"}
    assert (by_problem["altered"]["position"], by_problem["altered"]["version"]) == (
        altered[0],
        altered[2],
    )
    assert by_problem["removed"]["position"] == removed[0]
    assert by_problem["inserted"]["version"] == 99


def test_removing_an_event_with_its_chain_row_is_still_reported(ledger, store_url):
    billed(ledger)
    table, position = _events_table(store_url)
    execute(store_url, f"DELETE FROM {table} WHERE {position} = 3")
    execute(store_url, f"DELETE FROM {table}_chain WHERE position = 3")

    exit_code, findings = _verify(store_url)

    assert exit_code == 1
    assert [(f["position"], f["problem"]) for f in findings] == [(3, "removed with its chain row")]


def test_audit_export_writes_one_json_line_per_event_of_the_period(
    ledger, store_url, tmp_path, clock
):
    customer(ledger, "ACME")
    clock.advance(days=3)
    number = issued_invoice(ledger, "ACME", "10")
    day = ledger.today().isoformat()
    target = tmp_path / "audit.jsonl"

    result = tollbook(store_url, "audit", "export", "--from", day, "--to", day, "-o", str(target))

    assert result.exit_code == 0
    lines = [json.loads(line) for line in target.read_text().splitlines()]
    assert [line["type"] for line in lines] == [
        "Invoice.Drafted",
        "Invoice.LineAdded",
        "Invoice.Issued",
        "NumberSequence.Started",
        "NumberSequence.NumberTaken",
        "DocumentNumber.Given",
    ]
    issued = lines[2]
    assert issued["payload"]["number"] == number and issued["actor"] == "t"
    assert set(issued) >= {"position", "aggregate_id", "version", "time", "payload", "chain_hash"}
    assert [line["position"] for line in lines] == sorted(line["position"] for line in lines)
