"""The billing run's report against what it saved, as a clumsy user or a changing ledger
would test it, on SQLite and PostgreSQL: a customer named twice, customers summed a few at a
time (chunks of one, rows folded one at a time), late usage billed as a supplementary
invoice, a draft issued by a later run after the seller changed its tax rounding, charges
carried forward and read back once another invoice took them, an invoice voided after the
run. ``tollbook bill --json`` must show each invoice's figures as the ledger stores them.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from adapters.ledger.application import Ledger
from adapters.store.database import Database
from adapters.usage import billing
from adapters.usage.billing import run_billing
from adapters.usage.importer import import_cdrs
from domain.settings import SettingsChanges
from domain.usage import Period
from tests.e2e.conftest import Result
from tests.helpers import event_count
from tests.integration.usage_helpers import cdr, customers, write_cdrs

Tollbook = Callable[..., Result]
OCTOBER = Period.month("2026-10")


def calls(account: str, count: int, *, tag: str = "", day: int = 5) -> list[str]:
    """``count`` calls of 0.03 GBP, each to a destination of its own (a line each)."""
    start = f"2026-10-{day:02d}T10:00:00Z"
    return [
        cdr(f"{account}{tag}{n}", account, start=start, destination=f"Dest {n}", charge="0.03")
        for n in range(count)
    ]


def imported(tollbook: Tollbook, path: Path, rows: list[str]) -> None:
    result = tollbook("usage", "import", str(write_cdrs(path, rows)))
    assert result.code == 0, result.err


def billed(tollbook: Tollbook, *args: str) -> list[dict[str, Any]]:
    result = tollbook("bill", "--period", "2026-10", *args, "--json")
    assert result.code == 0, result.err
    invoices: list[dict[str, Any]] = result.json()["invoices"]
    return invoices


def as_stored(ledger: Ledger, shown: dict[str, Any]) -> tuple[Any, ...]:
    """What the JSON shows of an invoice, as the ledger has it now."""
    invoice = ledger.invoice(shown["invoice_id"])
    totals = invoice.totals
    return (invoice.state, invoice.number, len(invoice.lines), str(totals.net), str(totals.total))


def as_shown(shown: dict[str, Any]) -> tuple[Any, ...]:
    return (shown["state"], shown["number"], shown["lines"], shown["net"], shown["total"])


def rounding(ledger: Ledger, mode: str) -> None:
    ledger.change_settings(SettingsChanges.model_validate({"tax_rounding": mode}), "t")


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """A customer a chunk, the sums' rows folded one at a time, the table in 1-page slices."""
    monkeypatch.setattr(billing, "TARGETS_PER_QUERY", 1)
    monkeypatch.setattr(billing, "FOLD_ROWS", 1)
    monkeypatch.setattr(billing, "PAGES_PER_SLICE", 1)


@pytest.fixture
def ledger(make_ledger: Callable[[], Ledger], tollbook: Tollbook, tmp_path: Path) -> Ledger:
    built = make_ledger()
    customers(built, [(a, "GBP", "UTC", "destination") for a in ("AAA", "BBB", "CCC")])
    imported(tollbook, tmp_path / "oct.csv", calls("AAA", 5) + calls("BBB", 5) + calls("CCC", 7))
    return built


@pytest.mark.parametrize("chunks", ["one", "a customer each"])
def test_a_customer_named_twice_is_billed_once_with_its_usage_summed_once(
    ledger: Ledger, tollbook: Tollbook, request: pytest.FixtureRequest, chunks: str
) -> None:
    """Named twice (and once more by its id) among the same query's customers, its CDRs
    were summed once for each naming: 0.35 billed for calls worth 0.20, and a second
    result for the same invoice; a chunk a customer billed it right."""
    if chunks != "one":
        request.getfixturevalue("small_chunks")
    events = event_count(ledger)
    aaa = str(ledger.customer("AAA").id)

    invoices = billed(tollbook, *("--customer", "AAA", "--customer", "BBB", "--customer", "AAA"))
    again = billed(tollbook, "--customer", aaa, "--customer", "AAA")

    # five calls of 0.03: 0.15 net, each line's 0.006 tax rounded up to 0.01
    assert [(i["account"], i["action"], i["lines"], i["net"], i["total"]) for i in invoices] == [
        ("AAA", "created", 5, "0.15", "0.20"),
        ("BBB", "created", 5, "0.15", "0.20"),
    ]
    assert [(i["account"], i["action"], i["total"]) for i in again] == [("AAA", "exists", "0.20")]
    assert [as_stored(ledger, i) for i in invoices] == [as_shown(i) for i in invoices]
    assert event_count(ledger) == events + 2  # one Drafted each, nothing twice


@pytest.mark.usefixtures("small_chunks")
def test_the_json_report_is_what_the_ledger_stores_run_after_run_with_late_usage(
    ledger: Ledger, tollbook: Tollbook, tmp_path: Path
) -> None:
    first = billed(tollbook, "--issue")
    imported(tollbook, tmp_path / "late.csv", calls("BBB", 3, tag="late", day=20))
    second = billed(tollbook, "--bill-late", "--issue")
    third = billed(tollbook)

    assert [(i["account"], i["kind"], i["action"]) for i in second] == [
        ("AAA", "invoice", "exists"),
        ("BBB", "invoice", "exists"),
        ("BBB", "supplementary", "created"),
        ("CCC", "invoice", "exists"),
    ]
    supplementary = second[2]
    assert (supplementary["lines"], supplementary["net"], supplementary["total"]) == (
        3,
        "0.09",
        "0.12",
    )
    for report in (first, second, third):
        assert [as_stored(ledger, i) for i in report] == [as_shown(i) for i in report]
        assert all(i["state"] == "issued" for i in report)


@pytest.mark.parametrize(
    ("drafted_in", "issued_in", "total"),
    [("per_line", "per_invoice_rate", "0.25"), ("per_invoice_rate", "per_line", "0.28")],
)
def test_a_draft_issued_by_a_later_run_reports_the_tax_rounding_it_was_issued_in(
    ledger: Ledger, tollbook: Tollbook, drafted_in: str, issued_in: str, total: str
) -> None:
    """Seven calls of 0.03 under 20% tax: 0.21 net; each line's tax rounded, 0.07 (0.28);
    the rate's tax rounded once, 0.04 (0.25). The ledger issues a draft in the seller's
    rounding at issue, so that is the invoice's total the report must show."""
    rounding(ledger, drafted_in)
    [drafted] = billed(tollbook, "--customer", "CCC")
    rounding(ledger, issued_in)

    [issued] = billed(tollbook, "--customer", "CCC", "--issue")

    assert (drafted["action"], drafted["state"]) == ("created", "draft")
    assert (issued["action"], issued["state"], issued["net"]) == ("exists", "issued", "0.21")
    assert ledger.invoice(issued["invoice_id"]).totals.total == D(total)
    assert as_shown(issued) == as_stored(ledger, issued)


def test_charges_carried_forward_are_read_back_after_a_later_invoice_takes_them(
    make_ledger: Callable[[], Ledger], store_url: str, tmp_path: Path
) -> None:
    ledger = make_ledger()
    ledger.change_settings(SettingsChanges.model_validate({"minimum_invoice_amount": "1"}), "t")
    customers(ledger, [("AAA", "GBP", "UTC", "destination")])
    db = Database.from_url(store_url)
    november = [c.replace("2026-10-05", "2026-11-05") for c in calls("AAA", 40, tag="nov")]
    import_cdrs(ledger, db, write_cdrs(tmp_path / "cdrs.csv", calls("AAA", 5) + november))

    [october] = run_billing(ledger, db, OCTOBER).results
    [taken] = run_billing(ledger, db, Period.month("2026-11")).results

    assert (october.action, october.line_count, october.total) == ("carried forward", 5, D("0.20"))
    assert taken.action == "created" and taken.takes == (october.invoice_id,)
    # read back from the customer's carried charges, billed by November's invoice now
    assert october.lines == list(ledger.customer("AAA").carried[october.invoice_id].lines)
    assert len(october.lines) == 5
    stored = ledger.invoice(taken.invoice_id)
    # November's 40 calls (1.20 net, 0.40 tax) and October's 5 carried (0.15, 0.05)
    assert (taken.line_count, taken.total) == (len(stored.lines), stored.totals.total)
    assert (taken.line_count, taken.total) == (45, D("1.80"))


def test_an_invoice_voided_after_the_run_reads_back_its_lines_and_keeps_its_figures(
    ledger: Ledger, store_url: str
) -> None:
    db = Database.from_url(store_url)
    [made] = run_billing(ledger, db, OCTOBER, customers=["CCC"], issue=True).results
    ledger.void_invoice(made.invoice_id, "t", "wrong customer")

    assert ledger.invoice(made.invoice_id).state == "void"
    assert (made.line_count, made.net, made.total) == (7, D("0.21"), D("0.28"))
    assert made.lines == list(ledger.invoice(made.invoice_id).lines.values())
    # the period billed again under the next invoice: the same figures
    [again] = run_billing(ledger, db, OCTOBER, customers=["CCC"]).results
    assert (again.action, again.replaces, again.total) == ("created", made.invoice_id, D("0.28"))
