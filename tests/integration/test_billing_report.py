"""The billing run's report: the figures of each invoice (lines, net, tax, total) after a real
run, a refusal and a dry run. A saved invoice's result keeps its figures, not its lines (a run
over thousands of customers would hold them all): what it shows is what the run did."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from adapters.store.database import Database
from adapters.usage.billing import BillingReport, InvoiceResult, run_billing
from adapters.usage.importer import import_cdrs
from domain.invoice_line import totals_of
from domain.usage import Period
from tests.integration.usage_helpers import cdr, customers, trunk, write_cdrs

OCTOBER = Period.month("2026-10")

#: (action, lines, net, tax, total) of each customer's invoice in the real run
BILLED = {
    "PKG": ("created", 3, D("171.00"), D("34.20"), D("205.20")),  # trunk, its setup, usage
    "BIG": ("refused", 0, D(0), D(0), D(0)),  # beyond the money limit: nothing written
    "ONE": ("created", 1, D("0.75"), D("0.15"), D("0.90")),  # one line for all calls
}


@pytest.fixture
def world(make_ledger, store_url, tmp_path):
    ledger = make_ledger()
    groupings = {"PKG": "destination", "BIG": "destination", "ONE": "none"}
    customers(ledger, [(account, "GBP", "UTC", by) for account, by in groupings.items()])
    trunk(ledger, "PKG", date(2026, 10, 1))
    # the highest unit price the ledger takes, twice: the invoice's total is beyond the limit
    ledger.define_package("t", name="Exchange", unit_price=D("9999999999999.99"), currency="GBP")
    ledger.assign_package("BIG", "Exchange", "t", start_date=date(2026, 10, 1), quantity=D(2))
    db = Database.from_url(store_url)
    rows = [
        cdr("p1", "PKG", charge="1.00"),
        cdr("o1", "ONE", charge="0.50"),
        cdr("o2", "ONE", destination="France", charge="0.25"),
    ]
    import_cdrs(ledger, db, write_cdrs(tmp_path / "oct.csv", rows))
    return ledger, db


def figures(report: BillingReport) -> dict[str, tuple[str, int, D, D, D]]:
    return {r.account: (r.action, r.line_count, r.net, r.tax, r.total) for r in report.results}


def shown(result: InvoiceResult) -> tuple[int, str, str]:
    """What the CLI's JSON shows of the invoice's lines and money."""
    as_dict = result.as_dict()
    return as_dict["lines"], as_dict["net"], as_dict["total"]


def test_a_saved_invoice_reports_the_figures_of_the_invoice_it_saved(world):
    ledger, db = world

    report = run_billing(ledger, db, OCTOBER)

    assert figures(report) == BILLED
    for result in report.results:
        if result.action != "created":
            continue
        invoice = ledger.invoice(result.invoice_id)
        totals = invoice.totals
        assert (result.line_count, result.net, result.tax, result.total) == (
            len(invoice.lines),
            totals.net,
            totals.tax,
            totals.total,
        )
        assert shown(result) == (len(invoice.lines), str(totals.net), str(totals.total))
        # the lines, read back from the ledger, are the invoice's
        assert result.lines == list(invoice.lines.values())
    pkg = next(r for r in report.results if r.account == "PKG")
    assert [line.kind for line in pkg.lines] == ["package", "setup", "usage"]


def test_the_report_shows_what_the_run_saved_even_after_the_draft_is_edited(world):
    ledger, db = world
    report = run_billing(ledger, db, OCTOBER, customers=["ONE"])
    [one] = report.results
    ledger.add_line(one.invoice_id, "t", description="Porting", quantity=D(1), unit_price=D(10))

    assert (one.line_count, one.net, one.total) == (1, D("0.75"), D("0.90"))
    assert shown(one) == (1, "0.75", "0.90")
    assert [line.description for line in one.lines][-1] == "Porting"  # the invoice as it is now


def test_a_refused_invoice_reports_no_lines_and_nothing_owed_run_after_run(world):
    ledger, db = world

    first = run_billing(ledger, db, OCTOBER, customers=["BIG"])
    again = run_billing(ledger, db, OCTOBER, customers=["BIG"])

    for report in (first, again):
        [big] = report.results
        assert (big.action, big.code, big.lines) == ("refused", "out_of_range", [])
        assert (big.line_count, big.net, big.tax, big.total) == (0, D(0), D(0), D(0))
        assert shown(big) == (0, "0", "0")


def test_a_dry_run_keeps_each_invoice_s_lines_with_the_same_figures_as_the_real_run(world):
    ledger, db = world

    preview = run_billing(ledger, db, OCTOBER, dry_run=True)

    expected = {
        account: ("would create" if action == "created" else action, *rest)
        for account, (action, *rest) in BILLED.items()
    }
    assert figures(preview) == expected
    for result in preview.results:  # the lines are the listing's: kept, and they add up
        totals = totals_of(result.lines, result.currency)
        assert (result.line_count, result.net, result.total) == (
            len(result.lines),
            totals.net,
            totals.total,
        )
    pkg = next(r for r in preview.results if r.account == "PKG")
    assert [line.kind for line in pkg.lines] == ["package", "setup", "usage"]
    assert figures(run_billing(ledger, db, OCTOBER)) == BILLED  # the dry run wrote nothing
