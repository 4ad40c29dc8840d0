"""``tollbook aged`` and ``tollbook reconcile``: ageing of receivables, and proof that the read
models agree with the events."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import click

from adapters.cli.context import date_arg, emit_json, json_option, passes_state, say, table
from adapters.cli.paging import announce_next, page_options
from adapters.cli.read_side import read_models, view_store
from adapters.ledger.application import Ledger
from adapters.queries import queries_for, reports
from adapters.queries.documents import aged_doc
from adapters.reconcile import reconcile as find_differences
from domain.money import round_to_currency
from projections.aged_receivables import BUCKETS, bucket
from projections.view import Row


class DifferencesFound(click.ClickException):
    """Reconciliation found differences: exit 1 after printing them."""

    exit_code = 1
    code = "differences_found"


@click.command("aged")
@click.option(
    "--as-of", "as_of", help="Age receivables as they stood on this date (default today)."
)
@click.option("--customer", help="Only this customer.")
@click.option("--detail", is_flag=True, help="List each invoice, not only customer totals.")
@page_options
@json_option
@passes_state
def aged(
    ledger: Ledger,
    actor: str,
    as_of: str | None,
    customer: str | None,
    detail: bool,
    limit: int,
    cursor: str | None,
    as_json: bool,
) -> None:
    """Aged receivables per customer: current, 1-30, 31-60, 61-90, 90+ days overdue.

    A page holds up to --limit customer-currency pairs (by account), leaving out those that
    owe nothing on the day: a page may be short and still be followed by another."""
    del actor
    day = date_arg(as_of, "as-of date") or ledger.today()
    customer_id = str(ledger.customer(customer).id) if customer else None
    page = reports.aged(
        queries_for(ledger), day, customer_id=customer_id, limit=limit, cursor=cursor
    )
    rows, movements = page.items, page.movements
    docs = [aged_doc(r) for r in rows]
    invoices = _invoice_detail(movements, day) if detail else []
    if as_json:
        emit_json({"as_of": day.isoformat(), "customers": docs, "invoices": invoices or None})
        announce_next(page)
        return
    table(
        f"Aged receivables as of {day.isoformat()}",
        ["customer", "currency", *BUCKETS, "total"],
        [
            [d["customer_account"], d["currency"], *(d[b] for b in BUCKETS), d["total"]]
            for d in docs
        ],
    )
    if detail:
        table(
            "Invoices",
            ["invoice", "customer", "due", "days overdue", "bucket", "currency", "owed"],
            [
                [
                    i["number"],
                    i["customer_account"],
                    i["due_date"],
                    i["days_overdue"],
                    i["bucket"],
                    i["currency"],
                    i["owed"],
                ]
                for i in invoices
            ],
        )
    announce_next(page)


def _invoice_detail(movements: list[Row], day: date) -> list[Row]:
    """What is still owed on each invoice on ``day``, with its age."""
    owed: dict[str, Decimal] = {}
    last: dict[str, Row] = {}
    for movement in movements:
        key = movement["invoice_id"]
        owed[key] = owed.get(key, Decimal(0)) + movement["amount"]
        last[key] = movement
    result = []
    for key, amount in owed.items():
        if amount == 0:
            continue
        due: date = last[key]["due_date"]
        result.append(
            {
                "invoice_id": key,
                "number": last[key]["number"],
                "customer_account": last[key]["customer_account"],
                "currency": last[key]["currency"],
                "due_date": due.isoformat(),
                "days_overdue": max(0, (day - due).days),
                "bucket": bucket(day, due),
                "owed": str(round_to_currency(amount, last[key]["currency"])),
            }
        )
    return sorted(result, key=lambda i: (i["customer_account"], i["due_date"]))


@click.command("reconcile")
@json_option
@passes_state
def reconcile(ledger: Ledger, actor: str, as_json: bool) -> None:
    """Recompute every balance from the events and compare with the read models and with each
    invoice's own state. Exits 1 when anything differs."""
    del actor
    store = view_store(read_models())
    differences = find_differences(ledger, store)
    if as_json:
        emit_json([d.__dict__ for d in differences])
    elif differences:
        table(
            f"{len(differences)} findings",
            ["check", "subject", "field", "events say", "read model has"],
            [[d.check, d.subject, d.field, d.expected, d.found] for d in differences],
        )
    if differences:
        raise DifferencesFound(
            f"{len(differences)} differences between the events and the read models, or"
            " stored events the ledger cannot use as they are; `tollbook projections rebuild`"
            " rebuilds the read models from the events (docs/projections.md, Reconciliation)"
        )
    if not as_json:
        say("reconciled: every read model agrees with the events")
