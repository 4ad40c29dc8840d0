"""``GET /customers/{ref}/statement``: the worked case of docs/statements.md over HTTP, the same
document and PDF bytes as the CLI's, and its refusals as problem+json."""

from __future__ import annotations

import csv
import io
import json

import pytest

from tests.service.conftest import ok
from tests.statement_support import one_invoice, worked_case

pytestmark = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
PERIOD = {"from": "2026-11-01", "to": "2026-11-30"}


def test_json_pdf_and_csv_match_the_cli(services, clock, reader, tollbook, tmp_path):
    case = worked_case(services.ledger, clock)
    found = ok(reader.get("/customers/ACME/statement", **PERIOD))
    cli = tollbook("customer", "statement", "ACME", "--from", "2026-11-01", "--to",
                   "2026-11-30", "--json")  # fmt: skip
    assert cli.code == 0, cli.err
    assert found == json.loads(cli.out)
    (gbp,) = found["sections"]
    assert (gbp["opening_balance"], gbp["closing_balance"], gbp["owed_on_invoices"]) == (
        "40.00", "-5.00", "70.00"
    )  # fmt: skip
    assert gbp["aged"]["31-60"] == "40.00" and gbp["lines"][0]["reference"] == case["b"]

    pdf = reader.get("/customers/ACME/statement", format="pdf", **PERIOD)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    name = "statement-ACME-2026-11-01-2026-11-30-GBP.pdf"
    assert pdf.headers["content-disposition"] == f'attachment; filename="{name}"'
    written = tmp_path / "s.pdf"
    assert tollbook("customer", "statement", "ACME", "--from", "2026-11-01", "--to",
                    "2026-11-30", "--pdf", str(written)).code == 0  # fmt: skip
    assert pdf.content == written.read_bytes()

    table = reader.get("/customers/ACME/statement", format="csv", **PERIOD)
    assert table.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(table.text)))
    assert rows[-1]["kind"] == "closing" and rows[-1]["balance"] == "-5.00"


def test_a_bad_period_is_a_problem_naming_its_field(services, clock, reader):
    one_invoice(services.ledger, clock)
    for params, code, field in (
        ({"from": "2026-12-01", "to": "2026-11-30"}, "invalid_date", "to"),
        ({"from": "1999-12-31", "to": "2000-01-31"}, "out_of_range", "from"),
    ):
        answer = reader.get("/customers/ACME/statement", format="pdf", **params)
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        problem = answer.json()
        assert (problem["code"], problem.get("field")) == (code, field)
    other = reader.get("/customers/ACME/statement", format="pdf", currency="EUR",
                       **{"from": "2026-11-01", "to": "2026-11-30"})  # fmt: skip
    assert other.status_code == 404 and other.json()["field"] == "currency"


def test_a_statement_is_sent_over_http_once_per_period_and_a_failure_is_a_202(
    services, clock, writer, reader, tollbook, monkeypatch, tmp_path
):
    from domain.customer import Customer
    from tests.mail_support import attachment, smtp_env, smtp_server

    worked_case(services.ledger, clock)
    body = {"period_from": "2026-11-01", "period_to": "2026-11-30",
            "recipients": ["ap@acme.example"]}  # fmt: skip
    # no SMTP configured: the deployment's fault, nothing written
    monkeypatch.delenv("TOLLBOOK_SMTP_HOST", raising=False)
    unset = writer.post("/customers/ACME/statement/send", body)
    assert unset.status_code == 503 and unset.json()["code"] == "mail_not_configured"
    # a reader may look, never send
    assert reader.post("/customers/ACME/statement/send", body).status_code == 403

    port = smtp_env(monkeypatch)
    down = writer.post("/customers/ACME/statement/send", body)  # nothing listens yet
    assert down.status_code == 202 and down.json()["status"] == "failed"
    with smtp_server(port) as inbox:
        dry = ok(writer.post("/customers/ACME/statement/send", {**body, "dry_run": True}))
        sent = ok(writer.post("/customers/ACME/statement/send", body))
        again = ok(writer.post("/customers/ACME/statement/send", body))
    assert (dry["status"], sent["status"], again["status"]) == ("dry-run", "sent", "already-sent")
    assert sent["kind"] == "statement" and sent["message_id"] == down.json()["message_id"]
    [(_, rcpt, message)] = inbox.received
    pdf = tmp_path / "s.pdf"
    assert tollbook("customer", "statement", "ACME", "--from", "2026-11-01", "--to",
                    "2026-11-30", "--pdf", str(pdf)).code == 0  # fmt: skip
    assert rcpt == ["ap@acme.example"] and attachment(message)[1] == pdf.read_bytes()
    events = services.ledger.events_of(services.ledger.customer("ACME").id)
    assert [type(e) for e in events if isinstance(e, Customer.StatementSent)] == [
        Customer.StatementSent
    ]
    # a period the statement refuses is a 422 naming it, before anything is sent
    late = writer.post("/customers/ACME/statement/send",
                       {**body, "period_from": "2026-12-01"})  # fmt: skip
    assert late.status_code == 422
    unknown = writer.post("/customers/NOBODY/statement/send", body)
    assert unknown.status_code == 404
