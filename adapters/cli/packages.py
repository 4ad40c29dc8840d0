"""``tollbook package ...``: define packages and assign them to customers."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import click

from adapters.cli.context import (
    amount_arg,
    date_arg,
    emit_json,
    json_option,
    passes_state,
    say,
    table,
)
from adapters.cli.paging import announce_next, page_options
from adapters.ledger.application import Ledger
from adapters.queries import queries_for
from adapters.views import customer_doc, package_doc
from domain.errors import InvalidInput
from domain.package import FREQUENCIES


@click.group()
def package() -> None:
    """Packages: recurring and one-off charges that fill invoice lines."""


@package.command("add")
@click.argument("name")
@click.option("--price", "unit_price", required=True, help="Recurring unit price, e.g. 25.00.")
@click.option("--setup-price", default="0", show_default=True, help="One-off setup price.")
@click.option("--frequency", type=click.Choice(FREQUENCIES), default="monthly", show_default=True)
@click.option("--currency", help="ISO 4217 currency (default: the account's).")
@click.option("--default-quantity", default="1", show_default=True)
@click.option("--tax-rate", help="Tax percentage overriding the customer's rate.")
@click.option("--tax-description", help="Label for the overriding tax.")
@click.option("--description", default="", help="Longer description.")
@click.option("--minimum-spend", help="Monthly minimum spend on usage per unit assigned.")
@json_option
@passes_state
def add(ledger: Ledger, actor: str, name: str, as_json: bool, **values: Any) -> None:
    """Define a package called NAME."""
    fields = {key: value for key, value in values.items() if value is not None}
    for key in ("unit_price", "setup_price", "default_quantity", "tax_rate", "minimum_spend"):
        if key in fields:
            fields[key] = amount_arg(fields[key], key.replace("_", " "))
    package_id = ledger.define_package(actor, name=name, **fields)
    if as_json:
        emit_json(package_doc(ledger.package(package_id)))
    else:
        say(f"defined package {name!r} ({package_id})")


@package.command("list")
@page_options
@json_option
@passes_state
def list_(ledger: Ledger, actor: str, limit: int, cursor: str | None, as_json: bool) -> None:
    """List packages, in the order they were defined (a page at a time)."""
    del actor
    queries = queries_for(ledger)
    page = queries.packages(limit=limit, cursor=cursor)
    docs = [package_doc(p) for p in queries.aggregates([r["package_id"] for r in page.items])]
    announce_next(page)
    if as_json:
        emit_json(docs)
        return
    table(
        "Packages",
        ["name", "price", "setup", "currency", "frequency", "qty", "tax"],
        [
            [
                d["name"],
                d["unit_price"],
                d["setup_price"],
                d["currency"],
                d["frequency"],
                d["default_quantity"],
                d["tax_rate"] if d["tax_rate"] is not None else "(customer)",
            ]
            for d in docs
        ],
    )


@package.command("assign")
@click.argument("customer")
@click.argument("package_name")
@click.option("--start", required=True, help="First day of the assignment.")
@click.option("--end", help="Last day (inclusive), if it ends.")
@click.option("--quantity", help="Quantity (default: the package's default quantity).")
@json_option
@passes_state
def assign(
    ledger: Ledger,
    actor: str,
    customer: str,
    package_name: str,
    start: str,
    end: str | None,
    quantity: str | None,
    as_json: bool,
) -> None:
    """Assign PACKAGE_NAME to CUSTOMER."""
    start_date = date_arg(start, "start date")
    assert start_date is not None
    assignment_id = ledger.assign_package(
        customer,
        package_name,
        actor,
        start_date=start_date,
        quantity=amount_arg(quantity, "quantity"),
        end_date=date_arg(end, "end date"),
    )
    if as_json:
        emit_json(customer_doc(ledger.customer(customer), ledger.today()))
    else:
        say(f"assigned {package_name!r} to {customer} (assignment {assignment_id})")


@package.command("end")
@click.argument("customer")
@click.argument("assignment_id")
@click.option("--end", required=True, help="Last day (inclusive).")
@json_option
@passes_state
def end(
    ledger: Ledger, actor: str, customer: str, assignment_id: str, end: str, as_json: bool
) -> None:
    """End a package assignment."""
    try:
        assignment = UUID(assignment_id)
    except ValueError:
        raise InvalidInput(f"assignment id must be a UUID: {assignment_id!r}") from None
    end_date = date_arg(end, "end date")
    assert end_date is not None
    ledger.end_assignment(customer, assignment, end_date, actor)
    if as_json:
        emit_json(customer_doc(ledger.customer(customer), ledger.today()))
    else:
        say(f"assignment {assignment_id} ends on {end_date}")
