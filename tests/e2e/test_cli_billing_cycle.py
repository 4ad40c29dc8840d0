"""A finance user's billing cycle through the CLI, on SQLite and PostgreSQL."""

from __future__ import annotations


def setup_customer(tollbook):
    assert (
        tollbook("settings", "set", "company_name=Northwind Voice Ltd", "default_tax_rate=20").code
        == 0
    )
    assert (
        tollbook(
            "customer",
            "add",
            "ACME",
            "--name",
            "Acme Calls Ltd",
            "--currency",
            "GBP",
            "--tax-rate",
            "20",
            "--tax-description",
            "VAT 20%",
            "--terms",
            "14",
        ).code
        == 0
    )
    assert (
        tollbook(
            "package",
            "add",
            "SIP Trunk",
            "--price",
            "120.00",
            "--setup-price",
            "250.00",
            "--currency",
            "GBP",
        ).code
        == 0
    )


def new_invoice(tollbook) -> str:
    result = tollbook(
        "invoice",
        "new",
        "ACME",
        "--date",
        "2026-10-31",
        "--period-start",
        "2026-10-01",
        "--period-end",
        "2026-10-31",
        "--json",
    )
    assert result.code == 0, result.err
    return result.json()["id"]


def test_invoice_from_package_issue_pay_allocate_and_balance(tollbook):
    setup_customer(tollbook)
    invoice_id = new_invoice(tollbook)
    assert tollbook("invoice", "line", "add", invoice_id, "--package", "SIP Trunk").code == 0
    assert (
        tollbook("invoice", "line", "add", invoice_id, "--package", "SIP Trunk", "--setup").code
        == 0
    )
    assert (
        tollbook(
            "invoice",
            "line",
            "add",
            invoice_id,
            "--description",
            "Calls to UK",
            "--quantity",
            "1234.5",
            "--unit-price",
            "0.0123",
        ).code
        == 0
    )
    assert tollbook("invoice", "line", "edit", invoice_id, "1", "--quantity", "2").code == 0
    assert tollbook("invoice", "line", "remove", invoice_id, "2").code == 0

    issued = tollbook("invoice", "issue", invoice_id, "--json").json()
    assert issued["number"] == "INV-2026-000001"
    assert (issued["net"], issued["tax"], issued["total"]) == ("255.18", "51.04", "306.22")
    assert issued["billing"]["seller_name"] == "Northwind Voice Ltd"

    second_id = new_invoice(tollbook)
    tollbook("invoice", "line", "add", second_id, "--package", "SIP Trunk")
    assert tollbook("invoice", "issue", second_id).out.strip() == "issued INV-2026-000002"

    payment = tollbook(
        "payment",
        "add",
        "ACME",
        "--amount",
        "500.00",
        "--completed",
        "--reference",
        "BACS 1101",
        "--json",
    ).json()
    result = tollbook(
        "payment", "allocate", payment["id"], "INV-2026-000001=306.22", "INV-2026-000002=100.00"
    )
    assert result.code == 0, result.err
    assert "93.78 left as credit" in result.out

    listed = {d["number"]: d for d in tollbook("invoice", "list", "--json").json()}
    assert listed["INV-2026-000001"]["status"] == "paid"
    assert listed["INV-2026-000002"]["outstanding"] == "44.00"

    balance = tollbook("balance", "--customer", "ACME", "--json").json()
    assert balance == [
        {
            **balance[0],
            "invoiced": "450.22",
            "allocated": "406.22",
            "unallocated": "93.78",
            "outstanding": "44.00",
            "credited": "0.00",
        }
    ]
    table = tollbook("balance").out
    assert "ACME" in table and "93.78" in table


def test_history_and_as_of_show_who_did_what_and_the_past_invoice(tollbook):
    setup_customer(tollbook)
    invoice_id = new_invoice(tollbook)
    tollbook("invoice", "line", "add", invoice_id, "--package", "SIP Trunk")
    draft = tollbook("invoice", "show", invoice_id, "--json").json()
    tollbook("invoice", "line", "edit", invoice_id, "1", "--unit-price", "99.00")
    tollbook("invoice", "issue", invoice_id)

    history = tollbook("invoice", "history", "INV-2026-000001", "--json").json()
    assert [h["type"].split(".")[-1] for h in history] == [
        "Drafted",
        "LineAdded",
        "LineEdited",
        "Issued",
    ]
    assert {h["actor"] for h in history} == {"finance:test"}
    edit = history[2]["data"]
    assert (edit["before"]["unit_price"], edit["after"]["unit_price"]) == ("120.00", "99.00")
    table = tollbook("invoice", "history", "INV-2026-000001").out
    assert "120.00 → 99.00" in table

    at_version = tollbook("invoice", "show", "INV-2026-000001", "--version", "2", "--json").json()
    assert at_version["status"] == "draft" and at_version["lines"] == draft["lines"]
    moment = history[1]["timestamp"]
    as_of = tollbook("invoice", "show", "INV-2026-000001", "--as-of", moment, "--json").json()
    assert as_of["lines"][0]["unit_price"] == "120.00" and as_of["number"] is None


def test_credit_note_void_unallocate_refund_cancel(tollbook):
    setup_customer(tollbook)
    invoice_id = new_invoice(tollbook)
    tollbook("invoice", "line", "add", invoice_id, "--package", "SIP Trunk")
    tollbook("invoice", "issue", invoice_id)  # 144.00
    note = tollbook(
        "credit-note", "new", "INV-2026-000001", "--amount", "20.00", "--reason", "outage", "--json"
    ).json()
    assert (note["number"], note["total"]) == ("CN-2026-000001", "24.00")
    assert (
        tollbook("invoice", "show", "INV-2026-000001", "--json").json()["outstanding"] == "120.00"
    )

    payment = tollbook("payment", "add", "ACME", "--amount", "150", "--json").json()["id"]
    assert tollbook("payment", "complete", payment).code == 0
    tollbook("payment", "allocate", payment, "INV-2026-000001=120.00")
    assert (
        tollbook(
            "payment", "unallocate", payment, "INV-2026-000001", "20.00", "--reason", "misapplied"
        ).code
        == 0
    )
    assert tollbook("payment", "refund", payment, "50.00", "--reference", "RF1").code == 0
    shown = tollbook("payment", "show", payment, "--json").json()
    assert (shown["allocated"], shown["refunded"], shown["unallocated"]) == (
        "100.00",
        "50.00",
        "0.00",
    )

    other = tollbook("payment", "add", "ACME", "--amount", "5", "--json").json()["id"]
    assert tollbook("payment", "cancel", other, "--reason", "bounced").code == 0
    assert tollbook("payment", "show", other, "--json").json()["status"] == "cancelled"

    second = new_invoice(tollbook)
    tollbook("invoice", "line", "add", second, "--package", "SIP Trunk")
    tollbook("invoice", "issue", second)
    assert tollbook("invoice", "void", "INV-2026-000002", "--reason", "duplicate").code == 0
    assert tollbook("invoice", "show", "INV-2026-000002", "--json").json()["status"] == "void"
    assert tollbook("balance", "--json").json()[0]["invoiced"] == "144.00"
