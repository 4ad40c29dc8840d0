"""``tollbook customer statement``: a customer's statement of account for a period, as a
table, JSON, CSV or PDF, and by e-mail (docs/statements.md). Registered lazily in
adapters/cli/registry.py."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from adapters.app.statements import customer_statement, statement_pdf
from adapters.cli.context import date_arg, emit_json, passes_state, say, table
from adapters.ledger.application import Ledger
from adapters.queries.statements import Statement, statement_csv, statement_doc
from domain.errors import InvalidInput


@click.command("statement")
@click.argument("customer_ref")
@click.option("--from", "start", required=True, help="First day of the period (YYYY-MM-DD).")
@click.option("--to", "end", required=True, help="Last day of the period (YYYY-MM-DD).")
@click.option("--pdf", "pdf_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the PDF of one currency to this file.")  # fmt: skip
@click.option("--currency", help="The PDF's or e-mail's currency (default: the customer's).")
@click.option("--json", "as_json", is_flag=True, help="Print the statement as JSON.")
@click.option("--csv", "as_csv", is_flag=True, help="Print the statement as CSV.")
@click.option("--send", is_flag=True, help="E-mail the PDF to the customer's billing addresses.")
@click.option("--recipients", "to", help="With --send: these addresses (comma-separated).")
@click.option("--key", help="With --send: names the request (default: the period).")
@click.option("--dry-run", is_flag=True, help="With --send: show what would go; send nothing.")
@passes_state
def statement(
    ledger: Ledger, actor: str, customer_ref: str, start: str, end: str,
    pdf_file: Path | None, currency: str | None, as_json: bool, as_csv: bool, send: bool,
    to: str | None, key: str | None, dry_run: bool,
) -> None:  # fmt: skip
    """A customer's statement of account from --from to --to: opening balance, every invoice,
    credit note, payment and refund with a running balance, closing balance, aged buckets."""
    if as_json and as_csv:
        raise InvalidInput("give --json or --csv, not both")
    if not send and (to or key or dry_run):
        raise InvalidInput("--recipients, --key and --dry-run go with --send")
    first = date_arg(start, "statement start")
    last = date_arg(end, "statement end")
    assert first is not None and last is not None
    found = customer_statement(ledger, customer_ref, first, last)
    if send:
        _send(ledger, actor, found, currency, to, key, dry_run, as_json)
        return
    if pdf_file is not None:
        made = statement_pdf(ledger, found, currency)
        pdf_file.write_bytes(made.content)
        if not (as_json or as_csv):
            say(f"wrote {pdf_file} ({len(made.content):,} bytes)")
    if as_json:
        emit_json(statement_doc(found))
    elif as_csv:
        sys.stdout.write(statement_csv(found))
    elif pdf_file is None:
        print_statement(found)


def _send(
    ledger: Ledger, actor: str, found: Statement, currency: str | None, to: str | None,
    key: str | None, dry_run: bool, as_json: bool,
) -> None:  # fmt: skip
    from adapters.cli.mail import finish_send
    from adapters.mail.statements import request_statement_send

    outcome = request_statement_send(
        ledger, found, actor, os.environ, currency=currency, to=to, key=key, dry_run=dry_run
    )
    finish_send(outcome, as_json)


def print_statement(found: Statement) -> None:
    from adapters.queries.statements import line_doc, section_doc

    if not found.sections:
        say(f"{found.customer_account}: nothing owed or moved from {found.start} to {found.end}")
    for section in found.sections:
        doc = section_doc(section)
        cur = section.currency
        rows = [[found.start.isoformat(), "Opening balance", "", "", "", doc["opening_balance"]]]
        for line in section.lines:
            d = line_doc(line, cur)
            rows.append([d["date"], d["description"], d["debit"] or "", d["credit"] or "",
                         d["applied"] or "", d["balance"]])  # fmt: skip
        rows.append([found.end.isoformat(), "Closing balance", "", "", "", doc["closing_balance"]])
        table(
            f"Statement {found.customer_account} {found.start} to {found.end} ({cur})",
            ["date", "details", "debit", "credit", "applied", "balance"],
            rows,
        )
        table(
            None,
            ["invoiced", "voided", "credited", "paid", "refunded", "credit on account", "owed"],
            [[doc["invoiced"], doc["voided"], doc["credited"], doc["paid"], doc["refunded"],
              doc["closing_credit_on_account"], doc["owed_on_invoices"]]],
        )  # fmt: skip
        table(None, [f"aged {b}" for b in doc["aged"]], [list(doc["aged"].values())])
