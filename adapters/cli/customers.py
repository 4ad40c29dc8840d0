"""``tollbook customer ...``: register, change, show and list customers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from adapters.cli.context import (
    MAX_ID,
    amount_arg,
    date_arg,
    emit_json,
    json_option,
    passes_state,
    say,
    table,
    timestamp_arg,
)
from adapters.cli.paging import announce_next, page_options
from adapters.cli.registry import LazyGroup
from adapters.ledger.application import Ledger
from adapters.queries import queries_for
from adapters.views import customer_doc
from domain.address import PostalAddress
from domain.changes import CustomerChanges
from domain.customer import Customer
from domain.dunning import parse_offsets, schedule_text
from domain.errors import InvalidInput
from domain.pricing import TieredPrice, parse_price, price_text
from domain.schedule import InvoiceSchedule
from domain.tax_treatment import TREATMENTS
from domain.values import LINE_GROUPINGS, Threshold


def _profile_options(func: Any, *, name_required: bool = False) -> Any:
    options = [
        click.option("--name", required=name_required, help="Customer's legal name."),
        click.option(
            "--address",
            "billing_address",
            help="Free-text billing address (use \\n for lines); the structured options below"
            " replace it wherever the address is shown or exported.",
        ),
        click.option(
            "--address-line",
            "address_lines",
            multiple=True,
            help="A line of the structured address (repeat: up to 4; replaces all lines).",
        ),
        click.option("--city", help="City of the structured address."),
        click.option("--region", help="Region, state, county or province."),
        click.option("--postal-code", help="Postal code (letters, digits, spaces, hyphens)."),
        click.option("--country", help="Country: ISO 3166-1 alpha-2 code, e.g. GB, DE, JP."),
        click.option(
            "--no-address",
            is_flag=True,
            default=None,
            help="Remove the structured address (the free-text address shows again).",
        ),
        click.option("--tax-number", help="Customer's VAT/tax number."),
        click.option("--email", help="Billing e-mail."),
        click.option("--tax-rate", help="Tax percentage charged on top, e.g. 20."),
        click.option("--tax-description", help='How tax is labelled, e.g. "VAT 20%".'),
        click.option(
            "--tax-treatment",
            help=f"VAT treatment: {', '.join(TREATMENTS)} (default standard); all but"
            " standard print their legal wording on invoices and mean 0% tax.",
        ),
        click.option("--terms", "payment_terms_days", type=int, help="Payment terms in days."),
        click.option(
            "--grouping",
            "invoice_line_grouping",
            type=click.Choice(LINE_GROUPINGS),
            help="Invoice line grouping for usage (overrides the account default).",
        ),
        click.option(
            "--external-id", "external_accounting_id", help="Id in the accounting system."
        ),
        click.option("--time-zone", help="IANA time zone for billing periods (default UTC)."),
        click.option(
            "--schedule",
            "invoice_schedule",
            help="Automatic billing: daily, weekly:1-7 (1 = Monday), monthly:1-28, or none.",
        ),
        click.option("--minimum-spend", help="Monthly minimum spend on usage (topped up)."),
        click.option(
            "--minimum-invoice",
            "minimum_invoice_amount",
            help="Below this total a period's charges carry forward ('none': the account's).",
        ),
        click.option(
            "--tiers",
            "usage_prices",
            multiple=True,
            help="Tiered price of a destination (repeatable; replaces them all), e.g."
            ' "UK Mobile=graduated:0-1000:0.0100,1000-:0.0080"; "none" removes them.',
        ),
        click.option(
            "--auto-apply-credit/--no-auto-apply-credit",
            default=None,
            help="Apply the customer's unallocated credit to each invoice as it is issued.",
        ),
        click.option(
            "--low-balance-threshold",
            help='Record Customer.PrepaidBalanceLow when credit falls below this: "50.00",'
            ' "50.00 GBP" (the customer\'s currency), or none.',
        ),
        click.option(
            "--reminders",
            "reminder_offsets",
            help='Payment reminders, in days from the due date: "-7,0,7,14,30", or none'
            " (the default). Sent by `tollbook invoice remind` (docs/dunning.md).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


_ADDRESS_PARTS = ("city", "region", "postal_code", "country")


def _address(values: dict[str, Any], current: Callable[[], PostalAddress | None]) -> dict[str, Any]:
    """The structured-address options as an ``address`` change: the parts given replace
    those of ``current()`` (the address in force), the others are kept; ``{}`` when none."""
    lines = values.pop("address_lines", ())
    parts = {key: values.pop(key, None) for key in _ADDRESS_PARTS}
    remove = values.pop("no_address", None)
    given = {key: value for key, value in parts.items() if value is not None}
    if lines:
        given["lines"] = list(lines)
    if remove:
        if given:
            raise InvalidInput("--no-address cannot be combined with address options")
        return {"address": None}
    if not given:
        return {}
    in_force = current()
    kept = in_force.model_dump(mode="json") if in_force is not None else {}
    return {"address": {**kept, **given}}


def _fields(
    values: dict[str, Any],
    current: Callable[[], PostalAddress | None] = lambda: None,
    currency: Callable[[], str] = lambda: "",
) -> dict[str, Any]:
    address = _address(values, current)
    threshold = values.pop("low_balance_threshold", None)
    fields = {key: value for key, value in values.items() if value is not None} | address
    if "tax_rate" in fields:
        fields["tax_rate"] = amount_arg(fields["tax_rate"], "tax rate")
    if "billing_address" in fields:
        fields["billing_address"] = fields["billing_address"].replace("\\n", "\n")
    if "invoice_schedule" in fields:
        fields["invoice_schedule"] = schedule_arg(fields["invoice_schedule"])
    if "minimum_spend" in fields:
        fields["minimum_spend"] = amount_arg(fields["minimum_spend"], "minimum spend")
    if "minimum_invoice_amount" in fields:
        text = fields["minimum_invoice_amount"]
        fields["minimum_invoice_amount"] = (
            None if text.strip().lower() == "none" else amount_arg(text, "minimum invoice amount")
        )
    prices = fields.pop("usage_prices", ())
    if prices:
        fields["usage_prices"] = (
            () if list(prices) == ["none"] else tuple(parse_price(text) for text in prices)
        )
    if "reminder_offsets" in fields:
        fields["reminder_offsets"] = parse_offsets(fields["reminder_offsets"])
    if threshold is not None:  # "none" is given as None: it removes the threshold
        fields["low_balance_threshold"] = threshold_arg(threshold, currency)
    return fields


def threshold_arg(text: str, currency: Callable[[], str]) -> Threshold | None:
    """``50.00 GBP`` (or ``50.00``: in the customer's currency) -> a threshold; ``none`` ->
    no low balance notice. The ledger checks the amount and that the currency is the
    customer's."""
    words = text.split()
    if len(words) == 1 and words[0].lower() in ("none", "off"):
        return None
    if len(words) not in (1, 2):
        raise InvalidInput(
            f"low balance threshold must be an amount and optionally a currency, like"
            f" 50.00 GBP: {text[:40]!r}",
            field="low_balance_threshold",
        )
    amount = amount_arg(words[0], "low balance threshold")
    return Threshold.model_validate(
        {"amount": amount, "currency": words[1] if len(words) == 2 else currency()}
    )


def schedule_arg(text: str) -> InvoiceSchedule | None:
    """``monthly:1`` -> a schedule; ``none`` -> no automatic billing."""
    if text.strip().lower() in ("none", "off", ""):
        return None
    return InvoiceSchedule.parse(text)


@click.group(cls=LazyGroup, lazy_path="customer")  # and "customer statement" (cli/statements.py)
def customer() -> None:
    """Customers: who is billed, in which currency, with which tax and terms."""


def _new_profile_options(func: Any) -> Any:
    return _profile_options(func, name_required=True)


@customer.command("add")
@click.argument("account_number")
@_new_profile_options
@click.option("--currency", help="ISO 4217 currency (fixed for good). Default: account default.")
@json_option
@passes_state
def add(ledger: Ledger, actor: str, account_number: str, as_json: bool, **values: Any) -> None:
    """Register a customer under a unique ACCOUNT_NUMBER."""
    fields = _fields(
        values, currency=lambda: values.get("currency") or ledger.settings().default_currency
    )
    customer_id = ledger.register_customer(actor, account_number=account_number, **fields)
    if as_json:
        emit_json(customer_doc(ledger.customer(customer_id), ledger.today()))
    else:
        say(f"registered customer {account_number} ({customer_id})")


@customer.command("update")
@click.argument("ref")
@_profile_options
@click.option("--effective-from", help="Date the change takes effect (default: today).")
@click.option("--reason", help="Why the change was made (kept in the history).")
@json_option
@passes_state
def update(
    ledger: Ledger,
    actor: str,
    ref: str,
    effective_from: str | None,
    reason: str | None,
    as_json: bool,
    **values: Any,
) -> None:
    """Change a customer's details, now or from a date."""
    when = date_arg(effective_from, "effective date")
    day = when or ledger.today()
    fields = _fields(
        values,
        lambda: ledger.customer(ref).profile_on(day).address,
        lambda: ledger.customer(ref).currency,
    )
    if not fields:
        raise InvalidInput("nothing to change: give at least one option")
    ledger.change_customer(ref, CustomerChanges.model_validate(fields), actor, when, reason)
    if as_json:
        emit_json(customer_doc(ledger.customer(ref), ledger.today()))
    else:
        say(f"updated customer {ref}")


@customer.command("show")
@click.argument("ref")
@click.option("--on", "on_day", help="Show the details in force on this date.")
@click.option("--as-of", help="The customer record as it stood at this moment (ISO 8601).")
@click.option(
    "--version",
    type=click.IntRange(0, MAX_ID),
    help="The customer record as it stood at this version.",
)
@json_option
@passes_state
def show(
    ledger: Ledger,
    actor: str,
    ref: str,
    on_day: str | None,
    as_of: str | None,
    version: int | None,
    as_json: bool,
) -> None:
    """Show one customer (by account number or id), now or as recorded at a past moment."""
    del actor
    day = date_arg(on_day) or ledger.today()
    current = ledger.customer(ref)
    if as_of is not None or version is not None:
        current = ledger.as_of(Customer, current.id, version=version, at=timestamp_arg(as_of))
    doc = customer_doc(current, day)
    if as_json:
        emit_json(doc)
        return
    skip = {"packages", "scheduled_changes"}
    table(
        f"Customer {doc['account_number']}",
        ["field", "value"],
        [[key, _shown(key, value)] for key, value in doc.items() if key not in skip],
    )
    if doc["packages"]:
        table(
            "Packages",
            ["assignment", "package", "quantity", "start", "end"],
            [
                [a["assignment_id"], a["package_id"], a["quantity"], a["start_date"], a["end_date"]]
                for a in doc["packages"]
            ],
        )
    for change in doc["scheduled_changes"]:
        say(f"scheduled from {change['effective_from']}: {change['changes']}")


def _shown(key: str, value: Any) -> Any:
    if key in ("address", "postal_address") and isinstance(value, dict):
        return str(PostalAddress.model_validate(value))
    if key == "usage_prices" and isinstance(value, list):  # as --tiers takes them
        return "\n".join(price_text(TieredPrice.model_validate(price)) for price in value)
    if key == "reminder_offsets" and isinstance(value, list):  # as --reminders takes them
        return schedule_text(value)
    return value


@customer.command("list")
@page_options
@json_option
@passes_state
def list_(ledger: Ledger, actor: str, limit: int, cursor: str | None, as_json: bool) -> None:
    """List customers, in the order they were registered (a page at a time)."""
    del actor
    queries = queries_for(ledger)
    page = queries.customers(limit=limit, cursor=cursor)
    found = queries.aggregates([r["customer_id"] for r in page.items])
    docs = [customer_doc(c, ledger.today()) for c in found]
    announce_next(page)
    if as_json:
        emit_json(docs)
        return
    table(
        "Customers",
        ["account", "name", "currency", "tax", "terms", "grouping", "tz"],
        [
            [
                d["account_number"],
                d["name"],
                d["currency"],
                d["tax_description"],
                d["payment_terms_days"],
                d["invoice_line_grouping"] or "(default)",
                d["time_zone"],
            ]
            for d in docs
        ],
    )
