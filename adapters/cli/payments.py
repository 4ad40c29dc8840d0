"""``tollbook payment ...`` and ``tollbook balance``: money in, allocations, credit, balances."""

from __future__ import annotations

from decimal import Decimal

import click

from adapters.app.payment_history import payment_history_page
from adapters.cli.context import (
    MAX_ID,
    NumericArgsCommand,
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
from adapters.ledger.application import Ledger
from adapters.queries import queries_for
from adapters.queries.documents import balance_row_doc, history_doc
from adapters.views import payment_doc
from domain.errors import InvalidInput
from domain.payment import Payment


@click.group()
def payment() -> None:
    """Payments: record, complete, cancel, allocate, unallocate, refund."""


@payment.command("add")
@click.argument("customer")
@click.option("--amount", required=True, help="Amount received, e.g. 120.00.")
@click.option("--currency", help="Must be the customer's currency (checked).")
@click.option("--date", "received_on", help="Date received (default: today).")
@click.option("--method", default="bank transfer", show_default=True)
@click.option("--reference", default="", help="Bank reference; text after # is private.")
@click.option("--fee", default="0", show_default=True, help="Processing fee (reference only).")
@click.option("--completed", is_flag=True, help="Record as completed (default: pending).")
@click.option("--idempotency-key", help="The same key never records a second payment.")
@json_option
@passes_state
def add(
    ledger: Ledger,
    actor: str,
    customer: str,
    amount: str,
    currency: str | None,
    received_on: str | None,
    method: str,
    reference: str,
    fee: str,
    completed: bool,
    idempotency_key: str | None,
    as_json: bool,
) -> None:
    """Record a payment received from CUSTOMER."""
    value = amount_arg(amount)
    fee_value = amount_arg(fee, "fee")
    assert value is not None and fee_value is not None
    payment_id = ledger.record_payment(
        customer,
        actor,
        amount=value,
        currency=currency,
        received_on=date_arg(received_on, "payment date"),
        method=method,
        reference=reference,
        fee=fee_value,
        status="completed" if completed else "pending",
        idempotency_key=idempotency_key,
    )
    if as_json:
        emit_json(payment_doc(ledger.payment(payment_id)))
    else:
        say(f"recorded payment {payment_id} ({'completed' if completed else 'pending'})")


@payment.command("complete")
@click.argument("payment_ref")
@json_option
@passes_state
def complete(ledger: Ledger, actor: str, payment_ref: str, as_json: bool) -> None:
    """Mark a pending payment as completed (it then counts and can be allocated)."""
    ledger.complete_payment(payment_ref, actor)
    _changed(ledger, payment_ref, as_json, f"payment {payment_ref} completed")


def _changed(ledger: Ledger, payment_ref: str, as_json: bool, message: str) -> None:
    """The payment as it now stands (--json), or a line saying what changed."""
    if as_json:
        emit_json(payment_doc(ledger.payment(payment_ref)))
    else:
        say(message)


@payment.command("cancel")
@click.argument("payment_ref")
@click.option("--reason", help="Why it was cancelled.")
@json_option
@passes_state
def cancel(ledger: Ledger, actor: str, payment_ref: str, reason: str | None, as_json: bool) -> None:
    """Cancel a payment that has no allocations or refunds."""
    ledger.cancel_payment(payment_ref, actor, reason)
    _changed(ledger, payment_ref, as_json, f"payment {payment_ref} cancelled")


@payment.command("allocate")
@click.argument("payment_ref")
@click.argument("allocations", nargs=-1, required=True, metavar="INVOICE=AMOUNT...")
@click.option("--reason", help="Note kept with the allocation.")
@json_option
@passes_state
def allocate(
    ledger: Ledger,
    actor: str,
    payment_ref: str,
    allocations: tuple[str, ...],
    reason: str | None,
    as_json: bool,
) -> None:
    """Allocate a completed payment to one or several invoices, all or nothing."""
    pairs: list[tuple[str, Decimal]] = []
    for item in allocations:
        invoice_ref, sep, amount = item.rpartition("=")
        if not sep or not invoice_ref:
            raise InvalidInput(f"expected INVOICE=AMOUNT, got {item!r}")
        value = amount_arg(amount, "allocation amount")
        assert value is not None
        pairs.append((invoice_ref, value))
    ledger.allocate(payment_ref, pairs, actor, reason)
    if as_json:
        emit_json(payment_doc(ledger.payment(payment_ref)))
        return
    left = ledger.payment(payment_ref).unallocated
    say(f"allocated {', '.join(f'{ref} {amt}' for ref, amt in pairs)}; {left} left as credit")


@payment.command("unallocate", cls=NumericArgsCommand)
@click.argument("payment_ref")
@click.argument("invoice_ref")
@click.argument("amount")
@click.option("--reason", required=True, help="Why the allocation is taken back.")
@json_option
@passes_state
def unallocate(
    ledger: Ledger,
    actor: str,
    payment_ref: str,
    invoice_ref: str,
    amount: str,
    reason: str,
    as_json: bool,
) -> None:
    """Take back AMOUNT allocated from a payment to an invoice."""
    value = amount_arg(amount)
    assert value is not None
    ledger.unallocate(payment_ref, invoice_ref, value, actor, reason)
    _changed(ledger, payment_ref, as_json, f"unallocated {value} from {invoice_ref}")


@payment.command("refund", cls=NumericArgsCommand)
@click.argument("payment_ref")
@click.argument("amount")
@click.option("--method", default="bank transfer", show_default=True)
@click.option("--reference", default="")
@click.option("--reason")
@json_option
@passes_state
def refund(
    ledger: Ledger,
    actor: str,
    payment_ref: str,
    amount: str,
    method: str,
    reference: str,
    reason: str | None,
    as_json: bool,
) -> None:
    """Refund unallocated credit of a payment to the customer."""
    value = amount_arg(amount)
    assert value is not None
    ledger.refund_payment(
        payment_ref, value, actor, method=method, reference=reference, reason=reason
    )
    _changed(ledger, payment_ref, as_json, f"refunded {value} of payment {payment_ref}")


@payment.command("show")
@click.argument("payment_ref")
@click.option("--as-of", help="The payment as it stood at this moment (ISO 8601 with zone).")
@click.option(
    "--version", type=click.IntRange(0, MAX_ID), help="The payment as it stood at this version."
)
@json_option
@passes_state
def show(
    ledger: Ledger,
    actor: str,
    payment_ref: str,
    as_of: str | None,
    version: int | None,
    as_json: bool,
) -> None:
    """Show one payment and its allocations, now or as it stood at a past moment."""
    del actor
    current = ledger.payment(payment_ref)
    if as_of is not None or version is not None:
        current = ledger.as_of(Payment, current.id, version=version, at=timestamp_arg(as_of))
    doc = payment_doc(current)
    if as_json:
        emit_json(doc)
        return
    skip = {"allocations"}
    table(
        f"Payment {doc['id']}",
        ["field", "value"],
        [[k, v] for k, v in doc.items() if k not in skip],
    )
    if doc["allocations"]:
        table(
            "Allocations",
            ["invoice", "amount"],
            [[ledger.invoice(a["invoice_id"]).label, a["amount"]] for a in doc["allocations"]],
        )


@payment.command("list")
@click.option("--customer", help="Only this customer's payments.")
@page_options
@json_option
@passes_state
def list_(
    ledger: Ledger,
    actor: str,
    customer: str | None,
    limit: int,
    cursor: str | None,
    as_json: bool,
) -> None:
    """List payments, in the order they were recorded (a page at a time)."""
    del actor
    customer_id = str(ledger.customer(customer).id) if customer else None
    queries = queries_for(ledger)
    page = queries.payments(customer_id=customer_id, limit=limit, cursor=cursor)
    docs = [payment_doc(p) for p in queries.aggregates([r["payment_id"] for r in page.items])]
    announce_next(page)
    if as_json:
        emit_json(docs)
        return
    table(
        "Payments",
        [
            "id",
            "customer",
            "date",
            "method",
            "status",
            "currency",
            "amount",
            "allocated",
            "refunded",
            "unallocated",
        ],
        [
            [
                d["id"][:8],
                d["customer_account"],
                d["received_on"],
                d["method"],
                d["status"],
                d["currency"],
                d["amount"],
                d["allocated"],
                d["refunded"],
                d["unallocated"],
            ]
            for d in docs
        ],
    )


@payment.command("history")
@click.option("--customer", help="Only this customer's payments.")
@click.option("--invoice", "invoice_ref", help="Only movements on this invoice.")
@click.option("--payment", "payment_ref", help="Only this payment.")
@page_options
@json_option
@passes_state
def history(
    ledger: Ledger,
    actor: str,
    customer: str | None,
    invoice_ref: str | None,
    payment_ref: str | None,
    limit: int,
    cursor: str | None,
    as_json: bool,
) -> None:
    """Every payment, allocation, un-allocation and refund, in the order they happened."""
    del actor
    page = payment_history_page(
        ledger,
        customer=customer,
        invoice=invoice_ref,
        payment=payment_ref,
        limit=limit,
        cursor=cursor,
    )
    rows = page.items
    docs = [history_doc(row) for row in rows]
    if as_json:
        emit_json(docs)
        announce_next(page)
        return
    table(
        "Payment history",
        ["#", "time (UTC)", "customer", "payment", "what", "invoice", "currency", "amount", "by"],
        [
            [
                d["position"],
                d["recorded_at"][:19],
                d["customer_account"],
                d["payment_id"][:8],
                d["kind"],
                d["invoice_number"] or "",
                d["currency"],
                d["amount"],
                d["actor"],
            ]
            for d in docs
        ],
    )
    announce_next(page)


@click.command("balance")
@click.option("--customer", help="Only this customer.")
@page_options
@json_option
@passes_state
def balance(
    ledger: Ledger,
    actor: str,
    customer: str | None,
    limit: int,
    cursor: str | None,
    as_json: bool,
) -> None:
    """Balances per customer and currency, from the balances read model (caught up first),
    by customer account then currency (a page at a time)."""
    del actor
    customer_id = str(ledger.customer(customer).id) if customer else None
    page = queries_for(ledger).balances(customer_id=customer_id, limit=limit, cursor=cursor)
    docs = [balance_row_doc(r) for r in page.items]
    announce_next(page)
    if as_json:
        emit_json(docs)
        return
    table(
        "Balances",
        [
            "customer",
            "currency",
            "invoiced",
            "credited",
            "paid",
            "unallocated",
            "refunded",
            "outstanding",
        ],
        [
            [
                d["customer_account"],
                d["currency"],
                d["invoiced"],
                d["credited"],
                d["allocated"],
                d["unallocated"],
                d["refunded"],
                d["outstanding"],
            ]
            for d in docs
        ],
    )
