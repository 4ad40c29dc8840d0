"""Read models decode only the fields they read (projections/decoding.py, msgspec structs generated
from the domain events): those must equal the full domain events', for every event type."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal as D
from typing import Any
from uuid import uuid4

import msgspec
import pytest
from pydantic import BaseModel, ValidationError

from adapters.event_catalogue import aggregates, events_of
from domain.aggregate import Event
from domain.changes import CustomerChanges, DatesChanges, LineChanges, PackageChanges
from domain.delivery import Delivery, SendFailure, message_id_for, send_id_for
from domain.invoice_line import InvoiceLine
from projections.decoding import PartialDecoder, fields_struct
from projections.runner import Runner, all_projections
from projections.view import id_text
from tests.helpers import completed_payment, customer, issued_invoice


def every_followed_event(ledger) -> None:
    """A billing cycle that records at least one event of every type a read model follows."""
    customer(ledger)
    ledger.change_customer(
        "ACME",
        CustomerChanges.model_validate({"name": "Acme Renamed"}),
        "finance",
        effective_from=date(2026, 11, 1),
    )
    ledger.define_package("finance", name="Port", unit_price=D("9.99"), currency="GBP")
    ledger.change_package(
        "Port", PackageChanges.model_validate({"unit_price": D("10.99")}), "finance"
    )
    draft = ledger.create_invoice("ACME", "finance")
    line = ledger.add_line(
        draft, "finance", description="Port", quantity=D(2), unit_price=D("9.99")
    )
    ledger.add_line(draft, "finance", description="Calls", quantity=D(1), unit_price=D("5"))
    ledger.edit_line(draft, line, LineChanges.model_validate({"unit_price": D("10.01")}), "finance")
    ledger.remove_line(draft, "2", "finance")
    ledger.change_invoice_dates(draft, DatesChanges(due_date=date(2026, 12, 31)), "finance")
    number = ledger.issue_invoice(draft, "finance")
    ledger.issue_credit_note(number, "finance", "goodwill", amount=D("1.00"))
    ledger.change_due_date(number, date(2027, 1, 15), "finance", "payment plan")
    paid = completed_payment(ledger, amount="30.00")
    ledger.allocate(paid, [(number, D("10.00"))], "finance")
    ledger.unallocate(paid, number, D("4.00"), "finance", "wrong invoice")
    ledger.refund_payment(paid, D("2.00"), "finance", reference="R-1")
    pending = ledger.record_payment("ACME", "finance", amount=D("3.00"), status="pending")
    ledger.complete_payment(pending, "finance")
    ledger.cancel_payment(pending, "finance", "bounced")
    ledger.void_invoice(issued_invoice(ledger, net="7.00"), "finance", "duplicate")
    # the e-mails of an invoice (the invoice documents read model follows every invoice event)
    sent = [issued_invoice(ledger, net="8.00") for _ in range(2)]
    for key, invoice in enumerate(sent):
        send_id = send_id_for(ledger.invoice_id(invoice), str(key))
        delivery = Delivery(
            send_id=send_id,
            recipients=("a@b.example",),
            message_id=message_id_for(send_id, "carrier.example"),
            attachment_name="INV.pdf",
            attachment_sha256="0" * 64,
        )
        failure = SendFailure(
            delivery=delivery, attempt=1, error="x", retry_at=datetime(2026, 10, 2, tzinfo=UTC)
        )
        if key == 0:
            ledger.record_invoice_send_failed(invoice, "finance", failure)
            ledger.record_invoice_sent(invoice, "finance", delivery)
        else:
            ledger.record_invoice_reminder_failed(invoice, "finance", 7, failure)
            ledger.record_invoice_reminder_sent(invoice, "finance", 7, delivery, D("9.60"))
    # a draft opened with its lines, as a billing run opens one
    lines = [
        InvoiceLine(
            line_id=uuid4(),
            description=f"Calls to {name}",
            quantity=D(1),
            unit_price=D(price),
            tax_rate=D(20),
            tax_description="VAT 20%",
        )
        for name, price in (("France", "1.234"), ("Spain", "0.50"))
    ]
    ledger.issue_invoice(ledger.create_invoice("ACME", "billing-run", lines=lines), "finance")


def catalogue() -> list[type[Event]]:
    return [kind for aggregate in aggregates() for kind in events_of(aggregate)]


def plain(value: Any) -> Any:
    """A decoded value as plain data, the same for a struct and the pydantic model it stands
    for (Decimals by their exact text: 1.0 and 1.00 differ)."""
    if isinstance(value, msgspec.Struct):
        return {name: plain(getattr(value, name)) for name in value.__struct_fields__}
    if isinstance(value, BaseModel):
        return {name: plain(getattr(value, name)) for name in type(value).model_fields}
    if isinstance(value, tuple | list):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, D):
        return ("decimal", str(value))
    return (type(value).__name__, value)


def test_every_event_type_of_the_catalogue_has_a_fast_decoder_of_all_its_fields():
    """A new event type (or field) whose type the struct translation cannot decode fails here,
    naming it; and every event a read model follows is in the catalogue."""
    kinds = catalogue()
    for kind in kinds:
        struct = fields_struct(kind, kind.model_fields)
        assert set(struct.__struct_fields__) == set(kind.model_fields), kind
    followed = {kind for projection in all_projections() for kind in projection.reads()}
    assert followed <= set(kinds), followed - set(kinds)


def test_each_read_model_gets_the_values_of_the_full_event(ledger):
    every_followed_event(ledger)
    reads: dict[type[Event], set[str]] = {}
    for projection in all_projections():
        for kind, fields in projection.reads().items():
            reads.setdefault(kind, set()).update(fields)
    decoder = PartialDecoder(ledger.mapper, reads)
    # and every field of every event type in the catalogue, read or not
    everything = PartialDecoder(ledger.mapper, {kind: kind.model_fields for kind in catalogue()})
    seen: set[type[Event]] = set()
    for notification in ledger.recorder.select_notifications(0, 10_000):
        full = ledger.mapper.to_domain_event(notification)
        kind, whole = everything.decode(notification)
        assert kind is type(full)
        for field in type(full).model_fields:
            assert plain(getattr(whole, field)) == plain(getattr(full, field)), (kind, field)
        if notification.topic not in decoder.models:
            continue
        kind, partial = decoder.decode(notification)
        assert kind is type(full)
        seen.add(kind)
        assert id_text(partial.originator_id) == str(full.originator_id)
        assert partial.originator_version == full.originator_version
        for field in reads[kind]:
            assert plain(getattr(partial, field)) == plain(getattr(full, field)), (kind, field)
        undeclared = (
            set(type(full).model_fields) - reads[kind] - {"originator_id", "originator_version"}
        )
        for field in undeclared:  # a field no read model declared is not there to read
            with pytest.raises(AttributeError):
                getattr(partial, field)
    assert seen == set(reads), f"never recorded: {set(reads) - seen}"


@pytest.mark.parametrize(
    ("cache_limit", "batch_size"),
    [(300_000, 1000), (2, 2)],
    ids=["rows-cached", "rows-evicted-and-read-back"],
)
def test_the_read_models_built_from_partial_events_equal_those_from_full_events(
    ledger, store_url, monkeypatch, cache_limit, batch_size
):
    from adapters.store import read_models

    # a tiny cache evicts rows between batches: later events must find them on disk, and
    # rows never stored must still be told apart from rows evicted
    monkeypatch.setattr(read_models, "CACHE_LIMIT", cache_limit)
    every_followed_event(ledger)
    store = read_models.open_store(store_url, ledger.recorder.events_table_name)
    Runner(ledger, store, batch_size=batch_size).rebuild()
    # the same handlers fed full domain events, one by one, into plain dictionaries
    expected: dict[str, dict[tuple, dict]] = {}

    class Rows:
        def get(self, table, *key):
            return expected.setdefault(table.name, {}).get(key)

        def put(self, table, row):
            row = dict(row)
            if table.derive is not None:  # as the store does when a batch ends
                table.derive(row)
            expected.setdefault(table.name, {})[table.key_of(row)] = row

        def add(self, table, row):
            self.put(table, row)

    rows = Rows()
    projections = all_projections()
    for projection in projections:
        projection.attach(ledger)
    for notification in ledger.recorder.select_notifications(0, 10_000):
        event = ledger.mapper.to_domain_event(notification)
        for projection in projections:  # one event a batch
            projection.apply(event, notification.id, rows)
            projection.batch_applied(rows)
    for projection in all_projections():
        for table in projection.tables:
            stored = {table.key_of(row): row for row in store.select(table)}
            assert stored == expected.get(table.name, {}), table.name


def test_a_read_model_cannot_declare_a_field_its_event_does_not_have():
    from domain.invoice import Invoice

    with pytest.raises(ValueError, match="no field"):
        fields_struct(Invoice.Issued, ["total", "grand_total"])


STAMP = {"timestamp": "2026-10-02T09:00:00Z", "actor": "finance", "reason": None}
LINE = {
    "line_id": "8a1c5d2e-0000-4000-8000-000000000001",
    "description": "Calls",
    "quantity": "1",
    "unit_price": "10.00",
    "tax_rate": "20",
}


@pytest.mark.parametrize(
    ("kind_name", "state"),
    [
        ("Payment.Completed", {**STAMP, "currency": "GBP", "amount": "NaN"}),
        ("Payment.Completed", {**STAMP, "currency": "GBP", "amount": "-Infinity"}),
        ("Payment.Completed", {**STAMP, "currency": "GBP", "amount": "ten"}),
        (
            "Payment.Completed",
            {**STAMP, "timestamp": "2026-10-02T09:00:00", "currency": "GBP", "amount": "1"},
        ),
        ("Invoice.LineAdded", {**STAMP, "line": {**LINE, "colour": "red"}}),
        ("Invoice.LineAdded", {**STAMP, "line": {**LINE, "unit_price": "sNaN"}}),
        ("Invoice.LineAdded", {**STAMP, "line": {**LINE, "kind": "gift"}}),
        ("Invoice.Issued", {**STAMP, "number": "1", "issued_on": "2026-13-01"}),
    ],
    ids=str,
)
def test_what_pydantic_refuses_in_a_stored_event_the_fast_decoder_refuses(kind_name, state):
    import json

    from domain.invoice import Invoice
    from domain.payment import Payment

    kind = {"Payment": Payment, "Invoice": Invoice}[kind_name.split(".")[0]]
    kind = getattr(kind, kind_name.split(".")[1])
    data = json.dumps(state).encode()
    with pytest.raises(ValidationError):
        kind.model_validate_json(data)
    fields = [name for name in state if name in kind.model_fields]
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.Decoder(fields_struct(kind, fields), strict=False).decode(data)


def test_invoice_documents_fold_partial_events_without_their_rows_from_the_log(ledger):
    """A handler given only the ids of an event outside a batch (no rows handed over) reads
    the invoice's events from the log, and lays out the ledger's own document."""
    from projections.invoice_document import invoice_doc
    from projections.invoice_documents import InvoiceDocuments

    customer(ledger)
    number = issued_invoice(ledger, net="123.45")
    ledger.allocate(completed_payment(ledger, amount="50.00"), [(number, D("50.00"))], "test")
    invoice_id = ledger.invoice_id(number)
    projection = InvoiceDocuments()
    projection.attach(ledger)
    decoder = PartialDecoder(ledger.mapper, projection.reads())
    expected: dict[str, dict[str, Any]] = {}

    class Rows:
        def get(self, table, *key):
            return expected.get(key[0])

        def put(self, table, row):
            expected[row["invoice_id"]] = row

        add = put

    rows = Rows()
    found = [n for n in ledger.recorder.select_notifications(0, 1000) if n.topic in decoder.models]
    last = found[-1]  # only the last event: the earlier ones come from the log too
    kind, event = decoder.decode_record(
        last.topic, last.state, id_text(last.originator_id), last.originator_version
    )
    handle, _ = projection.handlers[kind]  # as the runner calls it
    handle(projection, event, last.id, rows)
    projection.batch_applied(rows)
    [row] = expected.values()
    invoice = ledger.invoice(invoice_id)
    assert row["version"] == invoice.version == last.originator_version
    assert json.loads(row["document"]) == invoice_doc(invoice)
