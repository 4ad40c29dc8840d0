"""The billing run on SQLite and PostgreSQL: grouping, time zones, idempotency, crash-resume."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from datetime import date
from decimal import Decimal as D

import pytest
from click.testing import CliRunner

from adapters.cli.main import cli
from adapters.describe import describe
from adapters.ledger.folds import LogFolds
from adapters.store.database import Database
from adapters.usage.billing import run_billing
from adapters.usage.importer import import_cdrs
from domain.invoice import Invoice
from domain.usage import Period, invoice_id_for
from projections.invoice_register import REGISTER
from tests.integration.billing import runner_for
from tests.integration.usage_helpers import cdr, customers, trunk, write_cdrs

OCTOBER = Period.month("2026-10")


@pytest.fixture
def world(make_ledger, store_url, tmp_path):
    ledger = make_ledger()
    customers(
        ledger,
        [
            ("ACME", "GBP", "UTC", "destination"),
            ("PAR", "GBP", "Europe/Paris", "day"),
            ("ONE", "GBP", "UTC", "none"),
            ("PKG", "GBP", "UTC", "destination"),
            ("IDLE", "GBP", "UTC", "destination"),
        ],
    )
    trunk(ledger, "PKG", date(2026, 10, 15))
    trunk(ledger, "ACME", date(2026, 1, 1))
    trunk(ledger, "IDLE", date(2026, 1, 1), date(2026, 9, 30))  # ended before October
    db = Database.from_url(store_url)
    rows = [
        cdr("a1", "ACME", destination="UK Mobile", charge="0.0123"),
        cdr("a2", "ACME", destination="UK Mobile", charge="0.0250", billed=120),
        cdr("a3", "ACME", destination="France", charge="0.0100"),
        cdr("a4", "ACME", start="2026-11-01T00:00:00Z", charge="5.00"),  # November
        cdr("p1", "PAR", start="2026-10-31T22:30:00Z", charge="1.00"),  # 23:30 local: October
        cdr("p2", "PAR", start="2026-10-31T23:30:00Z", charge="2.00"),  # 00:30 local: November
        cdr("p3", "PAR", start="2026-09-30T22:30:00Z", charge="4.00"),  # 00:30 local 1 Oct
        cdr("o1", "ONE", charge="0.50"),
        cdr("o2", "ONE", destination="France", charge="0.25"),
    ]
    import_cdrs(ledger, db, write_cdrs(tmp_path / "oct.csv", rows))
    return ledger, db, tmp_path


def invoices_by_account(ledger) -> dict[str, list[Invoice]]:
    result: dict[str, list[Invoice]] = {}
    for invoice in LogFolds(ledger).invoices():
        result.setdefault(invoice.customer_account, []).append(invoice)
    return result


def lines_of(invoice: Invoice) -> list[tuple[str, D]]:
    return [(line.description, line.net(invoice.currency)) for line in invoice.lines.values()]


def test_one_invoice_per_customer_with_packages_and_usage_grouped_as_each_customer_asked(world):
    ledger, db, _ = world
    report = run_billing(ledger, db, OCTOBER)
    assert report.count("created") == 4
    invoices = invoices_by_account(ledger)
    assert sorted(invoices) == ["ACME", "ONE", "PAR", "PKG"]  # IDLE: nothing in October
    acme = invoices["ACME"][0]
    assert acme.id == invoice_id_for(ledger.customer("ACME").id, OCTOBER)
    assert (acme.period_start, acme.period_end) == (OCTOBER.start, OCTOBER.end)
    assert lines_of(acme) == [
        ("Trunk", D("120.00")),
        ("Calls to France (1 call)", D("0.01")),
        ("Calls to UK Mobile (2 calls)", D("0.04")),  # 0.0123 + 0.0250 = 0.0373
    ]
    assert lines_of(invoices["PAR"][0]) == [
        ("Calls on 2026-10-01 (1 call)", D("4.00")),
        ("Calls on 2026-10-31 (1 call)", D("1.00")),
    ]
    assert lines_of(invoices["ONE"][0]) == [("Calls 2026-10 (2 calls)", D("0.75"))]
    assert lines_of(invoices["PKG"][0]) == [
        ("Trunk (17 of 31 days)", D("65.81")),
        ("Trunk (setup)", D("50.00")),
    ]
    usage = list(acme.lines.values())[2]
    assert usage.kind == "usage" and usage.source is not None
    assert (usage.source.calls, usage.source.billed_seconds) == (2, 180)
    assert usage.source.digest.startswith("cdr1-")


def test_a_late_evening_utc_call_of_a_utc_plus_one_customer_is_billed_in_the_next_month(world):
    ledger, db, _ = world
    run_billing(ledger, db, Period.month("2026-11"), customers=["PAR"])
    november = invoices_by_account(ledger)["PAR"][0]
    assert lines_of(november) == [("Calls on 2026-11-01 (1 call)", D("2.00"))]


def test_a_second_run_creates_nothing_and_says_the_invoices_exist(world):
    ledger, db, _ = world
    run_billing(ledger, db, OCTOBER)
    events_before = len(list(ledger.all_events()))
    again = run_billing(ledger, db, OCTOBER)
    assert again.count("created") == 0 and again.count("exists") == 4
    assert len(list(ledger.all_events())) == events_before
    issued = run_billing(ledger, db, OCTOBER, issue=True)  # the drafts are completed, not redone
    assert issued.count("created") == 0 and {r.state for r in issued.results} == {"issued"}


def test_a_run_killed_part_way_completes_on_the_next_run_with_one_invoice_each(world):
    ledger, db, _ = world
    expected = {r.account: r.total for r in run_billing(ledger, db, OCTOBER, dry_run=True).results}

    class Crash(Exception):
        pass

    def crash(result):
        raise Crash  # the first batch of two is saved; the process dies before the next

    with pytest.raises(Crash):
        run_billing(ledger, db, OCTOBER, issue=True, on_invoice=crash, save_batch=2)
    assert len(LogFolds(ledger).invoices()) == 2
    resumed = run_billing(ledger, db, OCTOBER, issue=True)
    assert resumed.count("created") == 2 and resumed.count("exists") == 2
    invoices = invoices_by_account(ledger)
    assert {account: len(found) for account, found in invoices.items()} == {
        "ACME": 1,
        "ONE": 1,
        "PAR": 1,
        "PKG": 1,
    }
    assert {a: found[0].totals.total for a, found in invoices.items()} == expected
    assert all(found[0].state == "issued" for found in invoices.values())


KILLED_RUN = """
import os, signal, sys
from adapters.config import build_ledger
from adapters.store.database import Database
from adapters.usage.billing import run_billing
from domain.usage import Period

def die(result):
    os.kill(os.getpid(), signal.SIGKILL)  # no clean-up, no finally: a real crash

url = sys.argv[1]
run_billing(build_ledger(url), Database.from_url(url), Period.month("2026-10"),
            save_batch=2, on_invoice=die)
"""


def test_a_run_killed_by_sigkill_part_way_is_completed_by_the_next_run(world, store_url):
    ledger, db, _ = world
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_RUN, store_url], capture_output=True, timeout=60
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()
    assert len(LogFolds(ledger).invoices()) == 2
    resumed = run_billing(ledger, db, OCTOBER)
    assert (resumed.count("created"), resumed.count("exists")) == (2, 2)
    counts = {a: len(found) for a, found in invoices_by_account(ledger).items()}
    assert counts == {"ACME": 1, "ONE": 1, "PAR": 1, "PKG": 1}


def test_a_dry_run_previews_the_invoices_and_writes_nothing(world):
    ledger, db, _ = world
    events_before = len(list(ledger.all_events()))
    preview = run_billing(ledger, db, OCTOBER, dry_run=True)
    assert {r.account: r.action for r in preview.results} == {
        "ACME": "would create",
        "PAR": "would create",
        "ONE": "would create",
        "PKG": "would create",
    }
    assert next(r for r in preview.results if r.account == "ONE").total == D("0.90")
    assert len(list(ledger.all_events())) == events_before
    assert LogFolds(ledger).invoices() == []


def test_late_cdrs_are_reported_and_billed_once_as_a_supplementary_invoice(world):
    ledger, db, tmp_path = world
    run_billing(ledger, db, OCTOBER, issue=True)
    late = write_cdrs(
        tmp_path / "late.csv",
        [cdr("late1", "ACME", charge="1.00"), cdr("late2", "ACME", charge="2.00")],
    )
    import_cdrs(ledger, db, late)
    report = run_billing(ledger, db, OCTOBER)
    acme = [r for r in report.results if r.account == "ACME"]
    assert [(r.kind, r.action, r.late_calls, r.late_amount) for r in acme] == [
        ("invoice", "exists", 2, D("3.00"))
    ]
    billed = run_billing(ledger, db, OCTOBER, bill_late=True)
    assert [(r.account, r.kind, r.action) for r in billed.results if r.action == "created"] == [
        ("ACME", "supplementary", "created")
    ]
    supplement = [i for i in invoices_by_account(ledger)["ACME"] if i.state == "draft"]
    assert len(supplement) == 1
    assert lines_of(supplement[0]) == [("Calls to UK Mobile (2 calls)", D("3.00"))]
    again = run_billing(ledger, db, OCTOBER, bill_late=True)
    assert again.count("created") == 0 and again.late_calls == 0
    assert len(invoices_by_account(ledger)["ACME"]) == 2


def test_a_concurrent_run_that_got_there_first_is_reported_and_nothing_is_doubled(world):
    ledger, db, _ = world
    meanwhile = []

    def another_run_bills_the_rest_meanwhile(result):
        if not meanwhile:  # the first batch (two invoices) is saved; the others are not yet
            meanwhile.append(run_billing(ledger, db, OCTOBER))

    report = run_billing(
        ledger, db, OCTOBER, save_batch=2, on_invoice=another_run_bills_the_rest_meanwhile
    )
    actions = {r.account: r.action for r in report.results}
    other = {r.account: r.action for r in meanwhile[0].results}
    assert sorted(actions) == sorted(other) == ["ACME", "ONE", "PAR", "PKG"]
    assert sorted(actions.values()) == ["created", "created", "exists", "exists"]
    for account, action in actions.items():  # each invoice made by exactly one of the runs
        assert {action, other[account]} == {"created", "exists"}
    invoices = invoices_by_account(ledger)
    assert {account: len(found) for account, found in invoices.items()} == {
        "ACME": 1,
        "ONE": 1,
        "PAR": 1,
        "PKG": 1,
    }
    assert all(found[0].lines for found in invoices.values())


def _cli(url: str, *args: str):
    result = CliRunner().invoke(cli, ["--db", url, *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _register_agrees(ledger, store_url, *invoice_ids) -> None:
    runner = runner_for(ledger, store_url)
    runner.catch_up()
    register = {r["invoice_id"]: r for r in runner.store.select(REGISTER)}
    for invoice_id in invoice_ids:
        invoice = ledger.invoice(invoice_id)
        row, totals = register[str(invoice_id)], invoice.totals
        assert (row["net"], row["tax"], row["total"]) == (totals.net, totals.tax, totals.total)
        assert (row["state"], row["version"]) == (invoice.state, invoice.version)
    _cli(store_url, "reconcile")  # exits 1 (and fails here) on any difference


def test_a_billing_run_invoice_is_one_event_and_history_as_of_register_and_reconcile_agree(
    world, store_url
):
    ledger, db, _ = world
    run_billing(ledger, db, OCTOBER, customers=["ACME"])
    invoice_id = invoice_id_for(ledger.customer("ACME").id, OCTOBER)
    # an invoice drafted and filled in by hand, the old way: Drafted, then one LineAdded each
    by_hand = ledger.create_invoice("ACME", "t")
    ledger.add_line(by_hand, "t", description="Porting fee", quantity=D(2), unit_price=D("7.50"))
    ledger.add_line(by_hand, "t", description="Support", quantity=D(1), unit_price=D("30"))
    _register_agrees(ledger, store_url, invoice_id, by_hand)  # drafts: totals from the lines
    ledger.issue_invoice(invoice_id, "t")
    ledger.issue_invoice(by_hand, "t")
    _register_agrees(ledger, store_url, invoice_id, by_hand)

    events = ledger.events_of(invoice_id)
    assert [type(e).__name__ for e in events] == ["Drafted", "Issued"]
    invoice = ledger.invoice(invoice_id)
    drafted = events[0]
    assert isinstance(drafted, Invoice.Drafted)
    assert list(drafted.lines) == list(invoice.lines.values()) and len(drafted.lines) == 3
    as_drafted = ledger.as_of(Invoice, invoice_id, version=1)
    assert (as_drafted.version, as_drafted.state) == (1, "draft")
    assert as_drafted.lines == invoice.lines and as_drafted.totals == invoice.totals
    old_style = ledger.events_of(by_hand)
    assert [type(e).__name__ for e in old_style] == ["Drafted", "LineAdded", "LineAdded", "Issued"]
    assert ledger.as_of(Invoice, by_hand, version=2).totals.net == D("15.00")

    history = json.loads(_cli(store_url, "invoice", "history", str(invoice_id), "--json"))
    assert [h["type"] for h in history] == ["Invoice.Drafted", "Invoice.Issued"]
    assert len(history[0]["data"]["lines"]) == 3
    assert "with 3 lines" in _cli(store_url, "invoice", "history", str(invoice_id))
    described = describe(drafted).splitlines()
    assert described[0].endswith("with 3 lines:") and len(described) == 4
    for text, line in zip(described[1:], invoice.lines.values(), strict=True):
        assert line.description in text and f"× {line.unit_price}" in text
    assert "with" not in describe(old_style[0]) and "Porting fee" in describe(old_style[1])
