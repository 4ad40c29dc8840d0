"""Tax over HTTP: treatments on customers, line tax descriptions, the rounding setting, and the
invoice document's tax summary and wording."""

from __future__ import annotations

from decimal import Decimal

from tests.service.conftest import ok


def test_tax_treatment_descriptions_and_rounding_over_http(admin, writer, reader):
    settings = ok(admin.patch("/settings", {"tax_rounding": "per_invoice_rate"}))
    assert settings["tax_rounding"] == "per_invoice_rate"
    beta = ok(
        writer.post(
            "/customers",
            {"account_number": "BETA", "name": "Beta GmbH", "tax_treatment": "outside_scope"},
        ),
        201,
    )
    assert (beta["tax_treatment"], beta["tax_rate"]) == ("outside_scope", "0")
    assert "Article 44" in beta["tax_treatment_wording"]
    ok(
        writer.post(
            "/customers",
            {
                "account_number": "ACME",
                "name": "Acme",
                "tax_rate": "20",
                "tax_description": "VAT 20%",
            },
        ),
        201,
    )
    draft = ok(writer.post("/invoices", {"customer": "ACME"}), 201)
    for price in ("100.03", "100.03", "66.94"):
        ok(
            writer.post(
                f"/invoices/{draft['id']}/lines", {"description": "Calls", "unit_price": price}
            ),
            201,
        )
    added = ok(
        writer.post(
            f"/invoices/{draft['id']}/lines",
            {
                "description": "Fee",
                "unit_price": "1",
                "tax_rate": "5",
                "tax_description": "VAT 5% (reduced)",
            },
        ),
        201,
    )
    assert added["invoice"]["lines"][3]["tax_description"] == "VAT 5% (reduced)"
    edited = ok(writer.patch(f"/invoices/{draft['id']}/lines/4", {"tax_rate": "0"}))
    assert edited["lines"][3]["tax_description"] == "VAT 0% (reduced)"
    assert edited["tax_summary"][0] == {
        "rate": "20",
        "net": "267.00",
        "tax": "53.40",
        "basis": "net_times_rate",
    }
    assert sum(Decimal(line["tax"]) for line in edited["lines"]) == Decimal(edited["tax"])
    # the customer becomes outside the scope before issue: the 20 % lines cannot be issued
    ok(
        writer.patch(
            "/customers/ACME", {"tax_treatment": "outside_scope", "effective_from": "2026-10-01"}
        )
    )
    refused = writer.post(f"/invoices/{draft['id']}/issue")
    assert refused.status_code == 422 and refused.json()["code"] == "tax_rate_not_allowed"
    assert ok(reader.get(f"/invoices/{draft['id']}"))["status"] == "draft"
