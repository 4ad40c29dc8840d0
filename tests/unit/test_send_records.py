"""Send requests on the invoice aggregate: ids, idempotent recording, the address list."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal as D

import pytest

from domain.delivery import Delivery, SendFailure, message_id_for, send_id_for
from domain.email_address import parse_addresses
from domain.errors import InvalidState
from domain.invoice import Invoice


@pytest.fixture
def invoice_id(memory_ledger):
    memory_ledger.register_customer("t", account_number="ACME", name="Acme", currency="GBP")
    invoice_id = memory_ledger.create_invoice("ACME", "t", period_start=date(2026, 10, 1))
    memory_ledger.add_line(invoice_id, "t", description="x", quantity=D("1"), unit_price=D("5"))
    memory_ledger.issue_invoice(invoice_id, "t")
    return invoice_id


def _delivery(invoice_id, key="k"):
    send_id = send_id_for(invoice_id, key)
    return Delivery(
        send_id=send_id,
        recipients=("a@b.example",),
        message_id=message_id_for(send_id, "carrier.example"),
        attachment_name="INV.pdf",
        attachment_sha256="0" * 64,
    )


def test_the_send_id_is_the_same_for_the_same_document_and_key(invoice_id):
    assert send_id_for(invoice_id, "k") == send_id_for(invoice_id, "k")
    assert send_id_for(invoice_id, "k") != send_id_for(invoice_id, "l")


def test_a_send_is_recorded_once_and_a_later_failure_of_it_is_refused(memory_ledger, invoice_id):
    delivery = _delivery(invoice_id)

    assert memory_ledger.record_invoice_sent(invoice_id, "t", delivery) is True
    assert memory_ledger.record_invoice_sent(invoice_id, "t", delivery) is False
    with pytest.raises(InvalidState, match="already succeeded"):
        failure = SendFailure(
            delivery=delivery, attempt=1, error="x", retry_at=datetime(2026, 10, 2, tzinfo=UTC)
        )
        memory_ledger.record_invoice_send_failed(invoice_id, "t", failure)
    sent = [e for e in memory_ledger.events_of(invoice_id) if isinstance(e, Invoice.Sent)]
    assert (
        len(sent) == 1 and memory_ledger.invoice(invoice_id).send_state(delivery.send_id) == "sent"
    )


def test_a_message_accepted_while_the_invoice_was_voided_is_still_recorded(
    memory_ledger, invoice_id
):
    memory_ledger.void_invoice(invoice_id, "t", "wrong customer")

    assert memory_ledger.record_invoice_sent(invoice_id, "t", _delivery(invoice_id)) is True


def test_an_address_list_is_split_trimmed_and_deduplicated_ignoring_case():
    assert parse_addresses(" a@b.example ,A@B.example, c@d.example") == (
        "a@b.example",
        "c@d.example",
    )
    assert parse_addresses("") == ()
