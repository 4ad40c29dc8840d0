"""The answer to a replayed Idempotency-Key request, derived again from its committed record.

A keyed write's record (domain/idempotency.py) names the aggregates its commit changed and the
versions it left them at. Each route below rebuilds the body the route itself returned, from
those aggregates *as of those versions* and the day of the commit, so the replay is the same
document whenever it is asked for: straight after, after a crash that lost the first answer,
or a year on. ``tests/service/test_http_idempotency.py`` checks every route here against the
route's own first answer, so the two cannot drift apart.

Only the routes listed here record keys in the ledger; any other POST falls back to the
adapter-table store in ``idempotency.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from adapters.views import credit_note_doc, customer_doc, invoice_doc, package_doc, payment_doc
from domain.application import Ledger
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


#: POST route (as declared) -> how its answer is derived again from the committed record.
RENDERERS: dict[str, Renderer] = {
    "/customers": customer_created,
    "/customers/{ref}/assignments": package_assigned,
    "/customers/{ref}/assignments/{assignment_id}/end": customer_changed,
    "/packages": package_defined,
    "/invoices": invoice_created,
    "/invoices/{ref}/lines": line_added,
    "/invoices/{ref}/issue": invoice_changed,
    "/invoices/{ref}/void": invoice_changed,
    "/credit-notes": credit_note_issued,
    "/payments": payment_received,
    "/payments/{ref}/complete": payment_changed,
    "/payments/{ref}/cancel": payment_changed,
    "/payments/{ref}/allocations": payment_changed,
    "/payments/{ref}/unallocations": payment_changed,
    "/payments/{ref}/refunds": payment_changed,
}
