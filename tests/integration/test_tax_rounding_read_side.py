"""The read side agrees with invoices in either tax rounding mode: the register holds the
issued totals of the mode, and reconcile finds nothing to report, drafts included."""

from __future__ import annotations

import json
from decimal import Decimal as D

from click.testing import CliRunner

from adapters.cli.main import cli
from domain.changes import SettingsChanges
from tests.helpers import customer


def test_register_and_reconcile_in_per_invoice_rate_mode(ledger, store_url):
    customer(ledger, "ACME", rate="20")
    ledger.change_settings(SettingsChanges(tax_rounding="per_invoice_rate"), "t")
    ids = []
    for _ in range(2):
        invoice_id = ledger.create_invoice("ACME", "t")
        for price in ("100.03", "100.03", "66.94"):
            ledger.add_line(invoice_id, "t", description="x", quantity=D(1), unit_price=D(price))
        ids.append(invoice_id)
    number = ledger.issue_invoice(ids[0], "t")  # the other stays a draft
    runner = CliRunner()
    listed = runner.invoke(cli, ["--db", store_url, "invoice", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    rows = {row["number"]: row for row in json.loads(listed.stdout)}
    assert (rows[number]["tax"], rows[number]["total"]) == ("53.40", "320.40")
    result = runner.invoke(cli, ["--db", store_url, "reconcile"])
    assert result.exit_code == 0, result.output
