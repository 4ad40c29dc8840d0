"""Settings, customers and packages through the CLI, on SQLite and PostgreSQL."""

from __future__ import annotations


def test_settings_show_and_set_with_validation(tollbook):
    assert (
        tollbook(
            "settings",
            "set",
            "company_name=Tolls Ltd",
            "invoice_number_format=T{seq:04d}",
            "default_currency=EUR",
        ).code
        == 0
    )
    shown = tollbook("settings", "show", "--json").json()
    assert (shown["company_name"], shown["default_currency"]) == ("Tolls Ltd", "EUR")
    bad = tollbook("settings", "set", "invoice_number_format=INV-{year}")
    assert bad.code == 2 and "{seq}" in bad.err
    assert tollbook("settings", "set", "colour=blue").code == 2
    tollbook("customer", "add", "C1", "--name", "One")  # inherits EUR, numbers T0001
    invoice_id = tollbook("invoice", "new", "C1", "--json").json()["id"]
    tollbook("invoice", "line", "add", invoice_id, "--description", "x", "--unit-price", "1")
    assert tollbook("invoice", "issue", invoice_id).out.strip() == "issued T0001"


def test_customers_are_listed_shown_and_changed_from_a_date(tollbook):
    assert (
        tollbook(
            "customer",
            "add",
            "ZRH01",
            "--name",
            "Zürich Telekom AG",
            "--currency",
            "CHF",
            "--tax-rate",
            "8.1",
            "--tax-description",
            "MWST 8.1%",
            "--grouping",
            "day",
            "--time-zone",
            "Europe/Zurich",
        ).code
        == 0
    )
    assert tollbook("customer", "add", "ZRH01", "--name", "Again").code == 1
    assert (
        tollbook(
            "customer",
            "update",
            "ZRH01",
            "--address",
            "Neue Strasse 2",
            "--effective-from",
            "2027-01-01",
            "--reason",
            "moved",
        ).code
        == 0
    )
    now = tollbook("customer", "show", "ZRH01", "--json").json()
    later = tollbook("customer", "show", "ZRH01", "--on", "2027-01-02", "--json").json()
    assert (now["billing_address"], later["billing_address"]) == ("", "Neue Strasse 2")
    assert now["scheduled_changes"][0]["effective_from"] == "2027-01-01"
    listed = tollbook("customer", "list").out
    assert "Zürich Telekom AG" in listed and "CHF" in listed
    assert tollbook("customer", "update", "ZRH01", "--grouping", "hour").code == 2
    assert tollbook("customer", "update", "NOPE", "--name", "x").code == 3


def test_packages_are_defined_assigned_and_ended(tollbook):
    tollbook("customer", "add", "ACME", "--name", "Acme", "--currency", "GBP")
    assert (
        tollbook(
            "package",
            "add",
            "DID",
            "--price",
            "1.50",
            "--currency",
            "GBP",
            "--default-quantity",
            "10",
            "--frequency",
            "monthly",
        ).code
        == 0
    )
    assert tollbook("package", "add", "DID", "--price", "2", "--currency", "GBP").code == 1
    assert tollbook("package", "add", "Bad", "--price", "-1", "--currency", "GBP").code == 2
    listed = tollbook("package", "list", "--json").json()
    assert [(p["name"], p["unit_price"], p["default_quantity"]) for p in listed] == [
        ("DID", "1.50", "10")
    ]
    assigned = tollbook(
        "package", "assign", "ACME", "DID", "--start", "2026-10-01", "--quantity", "25"
    )
    assert assigned.code == 0
    assignment_id = assigned.out.split("assignment ")[1].strip(" )\n")
    assert tollbook("package", "end", "ACME", assignment_id, "--end", "2026-09-01").code == 2
    assert tollbook("package", "end", "ACME", assignment_id, "--end", "2026-12-31").code == 0
    packages = tollbook("customer", "show", "ACME", "--json").json()["packages"]
    assert [(p["quantity"], p["end_date"]) for p in packages] == [("25", "2026-12-31")]


def test_draft_dates_and_credit_note_listing(tollbook):
    tollbook(
        "customer",
        "add",
        "ACME",
        "--name",
        "Acme",
        "--currency",
        "GBP",
        "--tax-rate",
        "20",
        "--terms",
        "14",
    )
    invoice_id = tollbook("invoice", "new", "ACME", "--date", "2026-10-31", "--json").json()["id"]
    assert tollbook("invoice", "show", invoice_id, "--json").json()["due_date"] == "2026-11-14"
    assert tollbook("invoice", "dates", invoice_id, "--due", "2026-10-01").code == 2
    assert tollbook("invoice", "dates", invoice_id, "--due", "2026-12-01").code == 0
    tollbook(
        "invoice",
        "line",
        "add",
        invoice_id,
        "--description",
        "Port",
        "--unit-price",
        "10",
        "--quantity",
        "3",
    )
    tollbook("invoice", "issue", invoice_id)
    result = tollbook(
        "credit-note",
        "new",
        "INV-2026-000001",
        "--reason",
        "one port unused",
        "--line",
        "Port;1;10;20",
    )
    assert result.code == 0, result.err
    assert "CN-2026-000001" in tollbook("credit-note", "list", "--invoice", "INV-2026-000001").out
    shown = tollbook("credit-note", "show", "CN-2026-000001", "--json").json()
    assert (shown["total"], shown["invoice_number"]) == ("12.00", "INV-2026-000001")
    assert (
        tollbook(
            "credit-note", "new", "INV-2026-000001", "--reason", "x", "--line", "bad line"
        ).code
        == 2
    )
