"""Crediting a partly paid invoice in full over HTTP: the credit note takes what is
outstanding, the paid part goes back to the payment as customer credit, and the balances,
register and aged receivables read models agree."""

from __future__ import annotations

from tests.service.conftest import Api, issued_invoice, make_customer, ok


def _partly_paid(writer: Api) -> tuple[str, str]:
    make_customer(writer)
    number = issued_invoice(writer, price="100.00")["number"]  # 120.00
    payment = ok(
        writer.post("/payments", {"customer": "ACME", "amount": "50.00", "status": "completed"}),
        201,
    )["id"]
    ok(
        writer.post(
            f"/payments/{payment}/allocations",
            {"allocations": [{"invoice": number, "amount": "50.00"}]},
        )
    )
    return number, payment


def test_http_credits_a_partly_paid_invoice_in_full(writer, reader):
    number, payment = _partly_paid(writer)
    assert len(ok(reader.get("/aged-receivables", as_of="2027-06-30"))) == 1

    note = ok(
        writer.post("/credit-notes", {"invoice": number, "reason": "cancelled", "full": True}), 201
    )

    assert note["total"] == "120.00"
    invoice = ok(reader.get(f"/invoices/{number}"))
    assert (invoice["status"], invoice["outstanding"]) == ("credited", "0.00")
    assert ok(reader.get(f"/payments/{payment}"))["unallocated"] == "50.00"
    [balance] = ok(reader.get("/balances"))
    assert (balance["outstanding"], balance["unallocated"]) == ("0.00", "50.00")
    assert (balance["credited"], balance["allocated"]) == ("120.00", "0.00")
    # owing nothing, the customer leaves the aged receivables (it owed 70.00 before)
    assert ok(reader.get("/aged-receivables", as_of="2027-06-30")) == []
