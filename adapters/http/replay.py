"""The answer to a replayed Idempotency-Key request, derived again from its committed record.

A keyed write's record (domain/idempotency.py) names the aggregates its commit changed and the
versions it left them at. Each route below rebuilds the body the route itself returned, from
those aggregates *as of those versions* and the day of the commit, so the replay is the same
document whenever it is asked for: straight after, after a crash that lost the first answer,
or a year on. ``tests/service/test_http_idempotency.py`` checks every route here against the
route's own first answer, so the two cannot drift apart.

Only the routes listed here (``ROUTES``) record keys in the ledger; any other POST falls back to the
adapter-table store in ``idempotency.py``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from starlette.routing import compile_path

from adapters.ledger.application import Ledger
from adapters.views import credit_note_doc, customer_doc, invoice_doc, package_doc, payment_doc
from domain.credit_note import CreditNote
from domain.customer import Customer
from domain.idempotency import IdempotencyKey
from domain.invoice import Invoice
from domain.package import Package
from domain.payment import Payment


@dataclass(frozen=True)
class Answer:
    body: Any
    headers: dict[str, str]


Renderer = Callable[[Ledger, IdempotencyKey], Answer]


def _etag(version: int) -> dict[str, str]:
    return {"etag": f'"{version}"'}


def _day(record: IdempotencyKey) -> date:
    return record.created_on.date()


def _customer(ledger: Ledger, record: IdempotencyKey) -> Customer:
    effect = record.effect("Customer")
    return ledger.as_of(Customer, effect.aggregate_id, version=effect.version)


def _invoice(ledger: Ledger, record: IdempotencyKey) -> Invoice:
    effect = record.effect("Invoice")
    return ledger.as_of(Invoice, effect.aggregate_id, version=effect.version)


def _payment(ledger: Ledger, record: IdempotencyKey) -> Payment:
    effect = record.effect("Payment")
    return ledger.as_of(Payment, effect.aggregate_id, version=effect.version)


def _event_field(ledger: Ledger, kind: str, record: IdempotencyKey, *path: str) -> Any:
    """A field of the event the commit wrote last to the aggregate of ``kind`` (the new line's
    or assignment's id, which the route returned beside the document)."""
    effect = record.effect(kind)
    [event] = [
        e for e in ledger.events_of(effect.aggregate_id) if e.originator_version == effect.version
    ]
    value: Any = event
    for name in path:
        value = getattr(value, name)
    return value


def customer_created(ledger: Ledger, record: IdempotencyKey) -> Answer:
    customer = _customer(ledger, record)
    return Answer(
        customer_doc(customer, _day(record)),
        {**_etag(customer.version), "location": f"/customers/{customer.id}"},
    )


def customer_changed(ledger: Ledger, record: IdempotencyKey) -> Answer:
    customer = _customer(ledger, record)
    return Answer(customer_doc(customer, _day(record)), _etag(customer.version))


def package_assigned(ledger: Ledger, record: IdempotencyKey) -> Answer:
    customer = _customer(ledger, record)
    assignment_id = _event_field(ledger, "Customer", record, "assignment", "assignment_id")
    return Answer(
        {"assignment_id": str(assignment_id), "customer": customer_doc(customer, _day(record))},
        _etag(customer.version),
    )


def package_defined(ledger: Ledger, record: IdempotencyKey) -> Answer:
    effect = record.effect("Package")
    package = ledger.as_of(Package, effect.aggregate_id, version=effect.version)
    return Answer(
        package_doc(package), {**_etag(package.version), "location": f"/packages/{package.id}"}
    )


def invoice_created(ledger: Ledger, record: IdempotencyKey) -> Answer:
    invoice = _invoice(ledger, record)
    return Answer(
        invoice_doc(invoice, _day(record)),
        {**_etag(invoice.version), "location": f"/invoices/{invoice.id}"},
    )


def invoice_changed(ledger: Ledger, record: IdempotencyKey) -> Answer:
    invoice = _invoice(ledger, record)
    return Answer(invoice_doc(invoice, _day(record)), _etag(invoice.version))


def line_added(ledger: Ledger, record: IdempotencyKey) -> Answer:
    invoice = _invoice(ledger, record)
    line_id = _event_field(ledger, "Invoice", record, "line", "line_id")
    return Answer(
        {"line_id": str(line_id), "invoice": invoice_doc(invoice, _day(record))},
        _etag(invoice.version),
    )


def discount_added(ledger: Ledger, record: IdempotencyKey) -> Answer:
    """The new discount is the one whose lines the commit added: a grant adds only its own
    lines (the others' it edits or removes), so the last line added up to the commit's
    version names it."""
    invoice = _invoice(ledger, record)
    effect = record.effect("Invoice")
    added = [
        event.line.discount.discount_id
        for event in ledger.events_of(effect.aggregate_id)
        if isinstance(event, Invoice.LineAdded)
        and event.line.discount is not None
        and event.originator_version <= effect.version
    ]
    return Answer(
        {"discount_id": str(added[-1]), "invoice": invoice_doc(invoice, _day(record))},
        _etag(invoice.version),
    )


def credit_note_issued(ledger: Ledger, record: IdempotencyKey) -> Answer:
    effect = record.effect("CreditNote")
    note = ledger.as_of(CreditNote, effect.aggregate_id, version=effect.version)
    return Answer(credit_note_doc(note), {"location": f"/credit-notes/{note.id}"})


def payment_received(ledger: Ledger, record: IdempotencyKey) -> Answer:
    payment = _payment(ledger, record)
    return Answer(
        payment_doc(payment), {**_etag(payment.version), "location": f"/payments/{payment.id}"}
    )


def payment_changed(ledger: Ledger, record: IdempotencyKey) -> Answer:
    payment = _payment(ledger, record)
    return Answer(payment_doc(payment), _etag(payment.version))


@dataclass(frozen=True)
class KeyedRoute:
    """A POST route whose key is recorded in the ledger: its success status and renderer."""

    template: str
    status: int
    render: Renderer
    pattern: re.Pattern[str]


def _route(template: str, status: int, render: Renderer) -> KeyedRoute:
    return KeyedRoute(template, status, render, compile_path(template)[0])


#: POST route (as declared) -> its success status and how its answer is derived again.
ROUTES = {
    route.template: route
    for route in (
        _route("/customers", 201, customer_created),
        _route("/customers/{ref}/assignments", 201, package_assigned),
        _route("/customers/{ref}/assignments/{assignment_id}/end", 200, customer_changed),
        _route("/packages", 201, package_defined),
        _route("/invoices", 201, invoice_created),
        _route("/invoices/{ref}/lines", 201, line_added),
        _route("/invoices/{ref}/discounts", 201, discount_added),
        _route("/invoices/{ref}/issue", 200, invoice_changed),
        _route("/invoices/{ref}/void", 200, invoice_changed),
        _route("/invoices/{ref}/due-date", 200, invoice_changed),
        _route("/credit-notes", 201, credit_note_issued),
        _route("/payments", 201, payment_received),
        _route("/payments/{ref}/complete", 200, payment_changed),
        _route("/payments/{ref}/cancel", 200, payment_changed),
        _route("/payments/{ref}/allocations", 200, payment_changed),
        _route("/payments/{ref}/unallocations", 200, payment_changed),
        _route("/payments/{ref}/refunds", 200, payment_changed),
    )
}


def keyed_route(path: str) -> KeyedRoute | None:
    """The route a POST to ``path`` reaches, when its key is recorded in the ledger."""
    for route in ROUTES.values():
        if route.pattern.match(path):
            return route
    return None
