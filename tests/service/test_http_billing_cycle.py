"""A full billing cycle over HTTP: every use case of the CLI, and the numbers add up."""

from __future__ import annotations

import io

from pypdf import PdfReader

from tests.service.conftest import ok


def test_full_billing_cycle(admin, writer, reader):
    ok(admin.patch("/settings", {"company_name": "Tolls Ltd", "default_currency": "EUR"}))
    assert ok(reader.get("/settings"))["company_name"] == "Tolls Ltd"

    customer = ok(
        writer.post(
            "/customers",
            {
                "account_number": "C-1",
                "name": "Carrier One",
                "tax_rate": "20",
                "tax_description": "VAT 20%",
                "payment_terms_days": 30,
            },
        ),
        201,
    )
    assert customer["currency"] == "EUR"  # the account default
    package = ok(
        writer.post(
            "/packages", {"name": "SIP trunk", "unit_price": "25.00", "setup_price": "50.00"}
        ),
        201,
    )
    assert ok(reader.get("/packages/SIP trunk"))["id"] == package["id"]
    ok(writer.patch("/packages/SIP trunk", {"description": "30 channels"}))
    assigned = ok(
        writer.post(
            "/customers/C-1/assignments",
            {"package": "SIP trunk", "start_date": "2026-10-01", "quantity": "2"},
        ),
        201,
    )
    assert [a["assignment_id"] for a in assigned["customer"]["packages"]] == [
        assigned["assignment_id"]
    ]
    ended = ok(
        writer.post(
            f"/customers/C-1/assignments/{assigned['assignment_id']}/end",
            {"end_date": "2026-12-31"},
        )
    )
    assert ended["packages"][0]["end_date"] == "2026-12-31"
    assert [c["account_number"] for c in ok(reader.get("/customers"))] == ["C-1"]

    draft = ok(
        writer.post(
            "/invoices",
            {
                "customer": "C-1",
                "invoice_date": "2026-10-31",
                "period_start": "2026-10-01",
                "period_end": "2026-10-31",
            },
        ),
        201,
    )
    iid = draft["id"]
    ok(writer.post(f"/invoices/{iid}/lines", {"package": "SIP trunk", "quantity": "2"}), 201)
    ok(writer.post(f"/invoices/{iid}/lines", {"package": "SIP trunk", "setup": True}), 201)
    manual = ok(
        writer.post(f"/invoices/{iid}/lines", {"description": "Porting", "unit_price": "10.00"}),
        201,
    )
    ok(writer.patch(f"/invoices/{iid}/lines/{manual['line_id']}", {"quantity": "3"}))
    extra = ok(
        writer.post(f"/invoices/{iid}/lines", {"description": "Oops", "unit_price": "1"}), 201
    )
    after_remove = ok(writer.delete(f"/invoices/{iid}/lines/{extra['line_id']}"))
    assert len(after_remove["lines"]) == 3
    ok(writer.patch(f"/invoices/{iid}/dates", {"due_date": "2026-11-30"}))
    # 2 x 25 + 50 + 3 x 10 = 130 net, 26 VAT
    issued = ok(writer.post(f"/invoices/{iid}/issue"))
    assert (issued["status"], issued["net"], issued["tax"], issued["total"]) == (
        "issued",
        "130.00",
        "26.00",
        "156.00",
    )
    number = issued["number"]
    assert ok(reader.get(f"/invoices/{number}"))["id"] == iid
    assert [i["number"] for i in ok(reader.get("/invoices", customer="C-1", status="issued"))] == [
        number
    ]

    payment = ok(
        writer.post(
            "/payments",
            {"customer": "C-1", "amount": "200.00", "currency": "EUR", "reference": "SEPA 1"},
        ),
        201,
    )
    pid = payment["id"]
    assert payment["status"] == "pending"
    ok(writer.post(f"/payments/{pid}/complete"))
    allocated = ok(
        writer.post(
            f"/payments/{pid}/allocations",
            {"allocations": [{"invoice": number, "amount": "156.00"}]},
        )
    )
    assert (allocated["allocated"], allocated["unallocated"]) == ("156.00", "44.00")
    assert ok(reader.get(f"/invoices/{number}"))["status"] == "paid"

    unallocated = ok(
        writer.post(
            f"/payments/{pid}/unallocations",
            {"invoice": number, "amount": "36.00", "reason": "part refund"},
        )
    )
    assert unallocated["allocated"] == "120.00"
    note = ok(
        writer.post(
            "/credit-notes", {"invoice": number, "reason": "SLA credit", "amount": "30.00"}
        ),
        201,
    )
    assert (note["net"], note["total"]) == ("30.00", "36.00")
    assert ok(reader.get(f"/credit-notes/{note['number']}"))["id"] == note["id"]
    assert [n["number"] for n in ok(reader.get("/credit-notes", invoice=number))] == [
        note["number"]
    ]
    refunded = ok(
        writer.post(f"/payments/{pid}/refunds", {"amount": "80.00", "reason": "overpaid"})
    )
    assert (refunded["refunded"], refunded["unallocated"]) == ("80.00", "0.00")

    [balance] = ok(reader.get("/balances", customer="C-1"))
    assert (
        balance["invoiced"],
        balance["credited"],
        balance["allocated"],
        balance["outstanding"],
    ) == ("156.00", "36.00", "120.00", "0.00")

    # a second invoice voided, a second payment cancelled (dated as the first: numbers follow
    # dates, docs/lifecycle.md)
    other = ok(writer.post("/invoices", {"customer": "C-1", "invoice_date": "2026-10-31"}), 201)
    ok(writer.post(f"/invoices/{other['id']}/lines", {"description": "x", "unit_price": "5"}), 201)
    ok(writer.post(f"/invoices/{other['id']}/issue"))
    voided = ok(writer.post(f"/invoices/{other['id']}/void", {"reason": "duplicate"}))
    assert voided["status"] == "void" and voided["void_reason"] == "duplicate"
    spare = ok(writer.post("/payments", {"customer": "C-1", "amount": "1"}), 201)
    cancelled = ok(writer.post(f"/payments/{spare['id']}/cancel", {"reason": "bounced"}))
    assert cancelled["status"] == "cancelled"
    assert len(ok(reader.get("/payments", customer="C-1"))) == 2

    # history and as-of views
    history = ok(reader.get(f"/invoices/{number}/history"))
    kinds = [h["type"].split(".")[-1] for h in history]
    assert kinds[0] == "Drafted" and "Issued" in kinds and "Credited" in kinds
    issued_at = next(h for h in history if h["type"].endswith("Issued"))
    as_issued = ok(reader.get(f"/invoices/{number}", version=issued_at["version"]))
    assert (as_issued["status"], as_issued["paid"]) == ("issued", "0.00")
    draft_then = ok(reader.get(f"/invoices/{number}", as_of=history[0]["timestamp"]))
    assert draft_then["status"] == "draft" and draft_then["lines"] == []
    assert ok(reader.get(f"/payments/{pid}/history"))[-1]["type"].endswith("Refunded")

    pdf = reader.get(f"/invoices/{number}.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-disposition"] == f'attachment; filename="{number}.pdf"'
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert number in text and "Carrier One" in text and "Tolls Ltd" in text
    assert reader.get(f"/invoices/{number}.pdf").content == pdf.content  # deterministic
    then = reader.get(f"/invoices/{number}.pdf", as_of=history[0]["timestamp"])
    assert (
        then.status_code == 200
        and "DRAFT" in PdfReader(io.BytesIO(then.content)).pages[0].extract_text()
    )
    missing = reader.get("/invoices/INV-2099-000001.pdf")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"


def test_the_openapi_document_is_served(client):
    document = client.get("/openapi.json").json()
    assert document["info"]["title"] == "tollbook"
    for path in (
        "/invoices/{ref}/issue",
        "/payments/{ref}/allocations",
        "/events",
        "/webhooks",
        "/credit-notes",
        "/balances",
    ):
        assert path in document["paths"]
    assert client.get("/docs").status_code == 200
