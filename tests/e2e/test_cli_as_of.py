"""``payment show`` and ``customer show`` as they stood at a past version or moment, through the
CLI, on SQLite and PostgreSQL. The moments come from the audit export, as an auditor's would."""

from __future__ import annotations

import json
from datetime import datetime, timedelta


def event_times(tollbook, aggregate_id: str) -> dict[int, str]:
    """version -> recorded time of each event of one aggregate, from ``audit export``."""
    result = tollbook("audit", "export")
    assert result.code == 0, result.err
    lines = [json.loads(line) for line in result.out.splitlines() if line.strip()]
    return {e["version"]: e["time"] for e in lines if e["aggregate_id"] == aggregate_id}


def just_before(moment: str) -> str:
    at = datetime.fromisoformat(moment.replace("Z", "+00:00")) - timedelta(microseconds=1)
    return at.isoformat()


def show(tollbook, *args: str) -> dict:
    result = tollbook(*args, "--json")
    assert result.code == 0, result.err
    return result.json()


def customer_with_issued_invoice(tollbook) -> str:
    assert tollbook("customer", "add", "ACME", "--name", "Acme Calls Ltd",
                    "--currency", "GBP", "--terms", "14").code == 0  # fmt: skip
    invoice = tollbook("invoice", "new", "ACME", "--date", "2026-10-31", "--json")
    assert invoice.code == 0, invoice.err
    invoice_id = invoice.json()["id"]
    assert tollbook("invoice", "line", "add", invoice_id, "--description", "Calls",
                    "--quantity", "1", "--unit-price", "100.00").code == 0  # fmt: skip
    issued = tollbook("invoice", "issue", invoice_id, "--json")
    assert issued.code == 0, issued.err
    number: str = issued.json()["number"]
    return number


def test_payment_show_as_of_a_version_and_a_moment(tollbook):
    number = customer_with_issued_invoice(tollbook)
    added = tollbook("payment", "add", "ACME", "--amount", "150.00", "--json")
    assert added.code == 0, added.err
    payment_id = added.json()["id"]
    assert tollbook("payment", "complete", payment_id).code == 0  # version 2
    assert tollbook("payment", "allocate", payment_id, f"{number}=100.00").code == 0  # 3
    assert tollbook("payment", "refund", payment_id, "20.00").code == 0  # version 4
    times = event_times(tollbook, payment_id)
    assert sorted(times) == [1, 2, 3, 4]

    first = show(tollbook, "payment", "show", payment_id, "--version", "1")
    assert (first["version"], first["status"]) == (1, "pending")
    assert (first["allocated"], first["unallocated"], first["allocations"]) == ("0.00", "0.00", [])

    allocated = show(tollbook, "payment", "show", payment_id, "--version", "3")
    assert (allocated["version"], allocated["status"]) == (3, "completed")
    assert (allocated["allocated"], allocated["refunded"]) == ("100.00", "0.00")
    assert allocated["unallocated"] == "50.00"
    assert [a["amount"] for a in allocated["allocations"]] == ["100.00"]

    # at the moment of an event the payment includes it; a microsecond before, it does not
    completed = show(tollbook, "payment", "show", payment_id, "--as-of", times[2])
    assert (completed["version"], completed["status"], completed["unallocated"]) == (
        2,
        "completed",
        "150.00",
    )
    before_refund = show(tollbook, "payment", "show", payment_id, "--as-of", just_before(times[4]))
    assert before_refund == allocated

    now = show(tollbook, "payment", "show", payment_id)
    assert (now["version"], now["refunded"], now["unallocated"]) == (4, "20.00", "30.00")
    assert show(tollbook, "payment", "show", payment_id, "--version", "4") == now


def test_payment_show_before_it_existed_or_with_a_bad_moment_is_refused(tollbook):
    customer_with_issued_invoice(tollbook)
    added = tollbook("payment", "add", "ACME", "--amount", "10.00", "--json")
    payment_id = added.json()["id"]
    received = event_times(tollbook, payment_id)[1]

    too_early = tollbook("payment", "show", payment_id, "--as-of", just_before(received))
    assert too_early.code == 3
    assert "did not exist at that time" in too_early.err

    no_zone = tollbook("payment", "show", payment_id, "--as-of", "2026-11-01T12:00:00")
    assert no_zone.code == 2
    assert "time zone" in no_zone.err
    assert tollbook("payment", "show", payment_id, "--version", "0").code == 3


def test_customer_show_as_of_a_version_and_a_moment(tollbook):
    assert tollbook("customer", "add", "ACME", "--name", "Acme Calls Ltd",
                    "--currency", "GBP", "--terms", "14").code == 0  # fmt: skip
    assert tollbook("customer", "update", "ACME", "--name", "Acme Telecom Ltd",
                    "--reason", "renamed").code == 0  # fmt: skip
    assert tollbook("customer", "update", "ACME", "--terms", "30").code == 0
    customer_id = show(tollbook, "customer", "show", "ACME")["id"]
    times = event_times(tollbook, customer_id)
    assert sorted(times) == [1, 2, 3]

    registered = show(tollbook, "customer", "show", "ACME", "--version", "1")
    assert (registered["version"], registered["name"], registered["payment_terms_days"]) == (
        1,
        "Acme Calls Ltd",
        14,
    )
    assert show(tollbook, "customer", "show", "ACME", "--as-of", just_before(times[2])) == (
        registered
    )

    renamed = show(tollbook, "customer", "show", "ACME", "--as-of", times[2])
    assert (renamed["version"], renamed["name"], renamed["payment_terms_days"]) == (
        2,
        "Acme Telecom Ltd",
        14,
    )
    assert show(tollbook, "customer", "show", "ACME", "--version", "2") == renamed

    now = show(tollbook, "customer", "show", "ACME")
    assert (now["version"], now["name"], now["payment_terms_days"]) == (3, "Acme Telecom Ltd", 30)
    assert show(tollbook, "customer", "show", "ACME", "--as-of", times[3]) == now


def test_customer_show_before_it_was_registered_is_refused(tollbook):
    assert tollbook("customer", "add", "ACME", "--name", "Acme", "--currency", "GBP").code == 0
    customer_id = show(tollbook, "customer", "show", "ACME")["id"]
    registered = event_times(tollbook, customer_id)[1]

    too_early = tollbook("customer", "show", "ACME", "--as-of", just_before(registered))
    assert too_early.code == 3
    assert "did not exist at that time" in too_early.err
    bad = tollbook("customer", "show", "ACME", "--as-of", "yesterday")
    assert bad.code == 2
    assert "ISO 8601" in bad.err
