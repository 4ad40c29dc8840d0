"""``tollbook customer statement``: the worked case of docs/statements.md through the CLI, its
arithmetic, and its agreement with the aged receivables and the payments as they stood."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from decimal import Decimal as D

import pytest

from tests.statement_support import on, one_invoice, worked_case

SQLITE = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)


@pytest.fixture
def case(ledger, clock):
    return worked_case(ledger, clock)


def statement(tollbook, *args: str) -> dict:
    result = tollbook("customer", "statement", "ACME", *args, "--json")
    assert result.code == 0, result.err
    found: dict = result.json()
    return found


def test_the_worked_case_adds_up_line_by_line(tollbook, case):
    found = statement(tollbook, "--from", "2026-11-01", "--to", "2026-11-30")
    (gbp,) = found["sections"]
    assert gbp["currency"] == "GBP"
    assert gbp["opening_balance"] == "40.00"  # 100.00 invoiced, 60.00 paid in October
    columns = ("date", "kind", "debit", "credit", "applied", "balance", "credit_on_account")
    lines = [tuple(line[c] for c in columns) for line in gbp["lines"]]
    assert lines == [
        ("2026-11-02", "invoice", "200.00", None, None, "240.00", "0.00"),
        ("2026-11-02", "invoice", "50.00", None, None, "290.00", "0.00"),
        ("2026-11-03", "credit_note", None, "20.00", None, "270.00", "0.00"),
        ("2026-11-10", "payment", None, "300.00", None, "-30.00", "300.00"),
        ("2026-11-10", "allocation", None, None, "40.00", "-30.00", "260.00"),
        ("2026-11-10", "allocation", None, None, "200.00", "-30.00", "60.00"),
        ("2026-11-12", "refund", "25.00", None, None, "-5.00", "35.00"),
        ("2026-11-14", "invoice", "10.00", None, None, "5.00", "35.00"),
        ("2026-11-15", "void", None, "10.00", None, "-5.00", "35.00"),
        ("2026-11-20", "unallocation", None, None, "-40.00", "-5.00", "75.00"),
    ]
    assert [line["reference"] for line in gbp["lines"][:3]] == [case["b"], case["c"], case["note"]]
    assert gbp["lines"][2]["invoice_number"] == case["c"]
    # the private part of a bank reference (after #) is never printed
    assert "bank 42" not in str(found)
    payment = gbp["lines"][3]["description"]
    assert payment == "Payment (received 2026-11-10, bank transfer, ACME-NOV)"
    # opening + invoices - voided - credit notes - payments + refunds = closing
    assert (gbp["invoiced"], gbp["voided"], gbp["credited"], gbp["paid"], gbp["refunded"]) == (
        "260.00",
        "10.00",
        "20.00",
        "300.00",
        "25.00",
    )
    assert D("40.00") + 260 - 10 - 20 - 300 + 25 == D(gbp["closing_balance"]) == D("-5.00")
    # the customer holds 75.00 and owes 70.00 on invoices: A 40.00 (again), C 30.00
    assert gbp["closing_credit_on_account"] == "75.00"
    assert gbp["owed_on_invoices"] == "70.00"
    assert gbp["aged"] == {"current": "0.00", "1-30": "30.00", "31-60": "40.00",
                           "61-90": "0.00", "90+": "0.00"}  # fmt: skip


@SQLITE
def test_the_closing_balance_is_the_balance_of_that_day(tollbook, ledger, case):
    """Against the other reports: the aged receivables of the same day, the payments as they
    stood at its end, and (for a period ending today) the balances read model."""
    for day in ("2026-10-31", "2026-11-12", "2026-11-30"):
        found = statement(tollbook, "--from", "2026-10-01", "--to", day)
        (gbp,) = found["sections"]
        aged = tollbook("aged", "--as-of", day, "--customer", "ACME", "--json").json()
        owed = sum((D(c["total"]) for c in aged["customers"]), D(0))
        assert D(gbp["owed_on_invoices"]) == owed
        end = datetime.fromisoformat(f"{day}T23:59:59.999999+00:00")
        credit = D(0)
        for payment in ("p1", "p2"):
            shown = tollbook("payment", "show", case[payment], "--as-of", end.isoformat(), "--json")
            if shown.code == 0:  # a payment not yet recorded that day holds nothing
                credit += D(shown.json()["unallocated"])
        assert D(gbp["closing_credit_on_account"]) == credit
        assert D(gbp["closing_balance"]) == owed - credit
    # a statement of one month opens where the one before closed
    october = statement(tollbook, "--from", "2026-10-01", "--to", "2026-10-31")["sections"][0]
    november = statement(tollbook, "--from", "2026-11-01", "--to", "2026-11-30")["sections"][0]
    assert october["closing_balance"] == november["opening_balance"]
    assert october["closing_credit_on_account"] == november["opening_credit_on_account"]
    (now,) = tollbook("balance", "--customer", "ACME", "--json").json()
    to_date = statement(tollbook, "--from", "2026-01-01", "--to", "2026-12-01")["sections"][0]
    assert D(to_date["closing_balance"]) == D(now["outstanding"]) - D(now["unallocated"])
    assert to_date["opening_balance"] == "0.00"


@SQLITE
def test_csv_and_table_show_the_same_lines(tollbook, case):
    found = statement(tollbook, "--from", "2026-11-01", "--to", "2026-11-30")
    result = tollbook("customer", "statement", "ACME", "--from", "2026-11-01", "--to",
                      "2026-11-30", "--csv")  # fmt: skip
    assert result.code == 0, result.err
    rows = list(csv.DictReader(io.StringIO(result.out)))
    kinds = [line["kind"] for line in found["sections"][0]["lines"]]
    assert [r["kind"] for r in rows] == ["opening", *kinds, "closing"]
    ends = (rows[0]["balance"], rows[-1]["balance"], rows[-1]["credit_on_account"])
    assert ends == ("40.00", "-5.00", "75.00")
    shown = tollbook("customer", "statement", "ACME", "--from", "2026-11-01", "--to", "2026-11-30")
    assert shown.code == 0, shown.err
    assert "Opening balance" in shown.out and "Closing balance" in shown.out
    assert f"Credit note {case['note']}" in shown.out


@SQLITE
def test_the_pdf_is_the_same_bytes_each_time(tollbook, case, tmp_path):
    first, second = tmp_path / "1.pdf", tmp_path / "2.pdf"
    args = ("customer", "statement", "ACME", "--from", "2026-11-01", "--to", "2026-11-30")
    assert tollbook(*args, "--pdf", str(first)).code == 0
    assert tollbook(*args, "--pdf", str(second), "--currency", "gbp").code == 0
    data = first.read_bytes()
    assert data.startswith(b"%PDF-") and data == second.read_bytes()
    from pypdf import PdfReader

    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    assert "STATEMENT" in text and "Opening balance" in text and "-5.00" in text
    assert f"Invoice {case['b']}" in text and "31–60 days overdue: 40.00" in text
    unknown = tollbook(*args, "--pdf", str(first), "--currency", "EUR")
    assert unknown.code != 0 and "nothing in EUR" in unknown.err


@SQLITE
def test_a_payment_counts_from_the_day_it_completes_until_it_is_cancelled(ledger, clock, tollbook):
    one_invoice(ledger, clock)  # 100.00 on 2 Nov
    pending = str(ledger.record_payment("ACME", "t", amount=D("30.00"), reference="late"))
    on(clock, "2026-11-05")
    ledger.complete_payment(pending, "t")
    on(clock, "2026-11-07")
    ledger.cancel_payment(pending, "t", "bounced")
    (gbp,) = statement(tollbook, "--from", "2026-11-01", "--to", "2026-11-30")["sections"]
    moves = [(line["date"], line["kind"], line["debit"], line["credit"], line["balance"])
             for line in gbp["lines"]]  # fmt: skip
    assert moves == [
        ("2026-11-02", "invoice", "100.00", None, "100.00"),
        ("2026-11-05", "payment", None, "30.00", "70.00"),  # not on 2 Nov, when still pending
        ("2026-11-07", "payment_cancelled", "30.00", None, "100.00"),
    ]
    assert (gbp["paid"], gbp["closing_balance"], gbp["closing_credit_on_account"]) == (
        "0.00", "100.00", "0.00"
    )  # fmt: skip
    before = statement(tollbook, "--from", "2026-11-03", "--to", "2026-11-06")["sections"][0]
    assert (before["opening_balance"], before["closing_balance"]) == ("100.00", "70.00")
    assert before["closing_credit_on_account"] == "30.00"
    empty = statement(tollbook, "--from", "2026-10-01", "--to", "2026-10-31")
    assert empty["sections"] == []  # nothing owed or moved before the invoice
