"""Clear Books: a whole billing cycle replayed through the real client into the fake, read back
document by document, and every remote total and amount due equal to the ledger's."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from decimal import Decimal as D
from uuid import uuid4

import httpx
import pytest

from adapters.accounting import clearbooks_wire as wire
from adapters.accounting import documents as docs
from adapters.accounting.client import ExportKey, ReadsBack
from adapters.accounting.errors import RemoteRejected
from domain.credit_note import CreditLine
from tests.fakes import views
from tests.integration.accounting.helpers import connection_to

NS = {"s": wire.SOAP_ENV, "cb": wire.NS}


def _customer(ledger, account, name, currency="GBP", tax=("20", "VAT 20%")):
    ledger.register_customer(
        "t",
        account_number=account,
        name=name,
        currency=currency,
        tax_rate=D(tax[0]),
        tax_description=tax[1],
        payment_terms_days=30,
        email=f"{account.lower()}@example.com",
        billing_address="Friedrichstraße 12, 10117 Berlin",
    )


def _invoice(ledger, account, lines):
    invoice_id = ledger.create_invoice(account, "t")
    for description, quantity, price, rate in lines:
        ledger.add_line(
            invoice_id,
            "t",
            description=description,
            quantity=D(quantity),
            unit_price=D(price),
            tax_rate=D(rate),
            tax_description=f"VAT {rate}%",
        )
    return ledger.issue_invoice(invoice_id, "t")


def month_of_corrections(ledger):
    """Unicode names, 4-6 dp prices at two VAT rates, a credit note, a part payment, a payment
    over two invoices (twice to one of them), two un-allocations, a refund and a void."""
    _customer(ledger, "TOKYO", "東京テレコム株式会社 (Tokyo Telecom K.K.)")
    _customer(ledger, "ZURICH", "Zürich Übertragung AG — Ärger & Öl")
    first = _invoice(
        ledger,
        "TOKYO",
        [
            ("Calls to UK mobiles", "1234.5", "0.012345", "20"),
            ("Calls to España", "777.25", "0.04565", "5"),
            ("DID rental", "10", "1.5", "20"),
        ],
    )
    second = _invoice(
        ledger, "TOKYO", [("Calls to Japan", "3001", "0.1234", "20"), ("Setup", "1", "25", "5")]
    )
    mistaken = _invoice(ledger, "ZURICH", [("Calls to Zürich", "61", "0.987654", "20")])
    dropped = {
        "description": "Calls to España, dropped",
        "quantity": D("100.5"),
        "unit_price": D("0.04565"),
        "tax_rate": D("5"),
        "tax_description": "VAT 5%",
    }
    credit_note = ledger.issue_credit_note(
        first, "t", "dropped calls", lines=[CreditLine.model_validate(dropped)]
    )
    payment = ledger.record_payment("TOKYO", "t", amount=D("300.00"), status="completed")
    ledger.allocate(payment, [(first, D("50.00")), (second, D("100.00"))], "t")
    ledger.allocate(payment, [(second, D("30.00"))], "t")
    ledger.unallocate(payment, first, D("20.00"), "t", "allocated to the wrong invoice")
    ledger.unallocate(payment, second, D("130.00"), "t", "paid twice")
    ledger.refund_payment(payment, D("50.00"), "t", reason="overpaid")
    ledger.void_invoice(mistaken, "t", "issued by mistake")
    return [first, second, mistaken], credit_note


def test_a_month_with_corrections_reads_back_equal_to_the_ledger(ledger, clearbooks, make_exporter):
    numbers, credit_note = month_of_corrections(ledger)
    exporter = make_exporter(ledger, connection_to(clearbooks))

    report = exporter.run()

    assert report.stopped is None
    assert {i.outcome for i in report.items if i.kind != "refund"} == {"exported"}
    # the refunded credit never reached Clear Books: nothing sent, and said so in words
    [refund] = [i for i in report.items if i.kind == "refund"]
    assert refund.outcome == "noted"
    assert refund.detail.startswith(
        "refund: nothing to send - Clear Books never held the unallocated credit (50.00 GBP"
    )
    assert [line.note for line in exporter.store.reconciliation("clearbooks")] == [refund.detail]
    assert exporter.store.dead_letters("clearbooks") == []
    client = exporter.client
    assert isinstance(client, ReadsBack)
    remote = exporter.store.remote_ids("clearbooks")
    for number in numbers:
        invoice = ledger.invoice(number)
        read = client.read_back("invoice", remote[("invoice", str(invoice.id))])
        assert (read.number, read.currency) == (number, "GBP")
        assert read.total == invoice.totals.total
        assert read.amount_due == invoice.outstanding
    voided = remote[("invoice", str(ledger.invoice(numbers[2]).id))]
    assert client.read_back("invoice", voided).status == "voided"
    assert views.credit_notes(clearbooks) == [credit_note]
    # what remains paid remotely is what remains allocated in the ledger
    assert views.payments(clearbooks) == {numbers[0]: D("30.00")}
    assert views.voided(clearbooks) == [numbers[2]]
    # the first invoice's lines are priced finer than a penny: sent as 1 x the ledger's net
    first = ledger.invoice(numbers[0])
    assert views.invoices(clearbooks)[numbers[0]] == first.totals.total
    sent = next(r.body for r in clearbooks.requests if b"createInvoice>" in r.body)
    assert "Calls to UK mobiles (1234.5 × 0.012345)".encode() in sent


@pytest.mark.parametrize(
    "method",
    [
        "createEntity",
        "createInvoice",
        "writeOffPartial",
        "createPayment",
        "voidPayment",
        "voidInvoice",
    ],
)
def test_a_write_whose_answer_is_lost_is_looked_up_again_and_never_made_twice(
    method, ledger, clearbooks, make_exporter
):
    numbers, _ = month_of_corrections(ledger)
    working = clearbooks.handle
    lost: list[str] = []

    def lose_the_first_answer(request):
        response = working(request)
        if f"{method}>".encode() in request.body and not lost and response.status == 200:
            lost.append(method)
            clearbooks.drop_responses_after_commit(1)
        return response

    clearbooks.handle = lose_the_first_answer
    exporter = make_exporter(ledger, connection_to(clearbooks))

    report = exporter.run()

    assert lost == [method] and len(exporter.client.policy.waits) == 1  # one re-send
    assert report.stopped is None and exporter.store.dead_letters("clearbooks") == []
    assert len(clearbooks.entities) == 2 and len(clearbooks.invoices) == 4
    assert views.payments(clearbooks) == {numbers[0]: D("30.00")}
    remote = exporter.store.remote_ids("clearbooks")
    for number in numbers:
        invoice = ledger.invoice(number)
        read = exporter.client.read_back("invoice", remote[("invoice", str(invoice.id))])
        assert (read.total, read.amount_due) == (invoice.totals.total, invoice.outstanding)


def test_requests_carry_clear_books_types_prefix_integer_numbers_and_currency_ids(
    ledger, clearbooks, make_exporter
):
    _customer(ledger, "ZURICH", "Zürich AG", currency="EUR")
    number = _invoice(ledger, "ZURICH", [("Calls", "100", "0.25", "20")])
    exporter = make_exporter(ledger, connection_to(clearbooks))
    exporter.run()
    ledger_invoice = ledger.invoice(number)
    remote = exporter.store.remote_ids("clearbooks")[("invoice", str(ledger_invoice.id))]
    read = exporter.client.read_back("invoice", remote)
    # a foreign-currency invoice reads back in its own currency, not in pounds
    assert (read.currency, read.total, read.amount_due) == ("EUR", D("30.00"), D("30.00"))
    assert ledger_invoice.totals.total == ledger_invoice.outstanding == D("30.00")

    body = next(r.body for r in clearbooks.requests if b"createInvoice>" in r.body)
    invoice = ET.fromstring(body).find("s:Body/cb:createInvoice/invoice", NS)
    assert invoice is not None
    prefix, digits = number.rstrip("0123456789"), number[len(number.rstrip("0123456789")) :]
    # optional members are attributes, required ones elements, as the WSDL's types have them
    assert invoice.get("invoice_prefix") + invoice.get("invoiceNumber") == number
    assert invoice.get("invoiceNumber") == str(int(digits))
    assert invoice.get("invoice_prefix").startswith(prefix)
    assert invoice.get("multicurrency") == "2"  # EUR in listCurrencies
    assert invoice.get("vatTreatment") == "UK" and invoice.get("status") == "approved"
    assert invoice.findtext("entityId") and invoice.findtext("dateCreated")
    item = invoice.find("items/cb:Item", NS)
    assert item is not None and item.findtext("unitPrice") == "0.25"
    assert (item.get("quantity"), item.get("vatRate"), item.findtext("type")) == (
        "100",
        "0.2",
        "1001001",
    )
    lookup = next(
        r.body for r in clearbooks.requests if b"getInvoiceIdFromInvoiceNumber>" in r.body
    )
    call = ET.fromstring(lookup).find("s:Body/cb:getInvoiceIdFromInvoiceNumber", NS)
    assert [c.tag for c in call] == ["type", "invoicePrefix", "invoiceNumber"]


def test_a_currency_clear_books_lacks_is_one_dead_letter_and_other_customers_go_on(
    ledger, clearbooks, make_exporter
):
    _customer(ledger, "ISTANBUL", "İstanbul Telekom", currency="TRY")
    _customer(ledger, "TOKYO", "東京テレコム株式会社")
    refused = _invoice(ledger, "ISTANBUL", [("Calls", "10", "1", "20")])
    sent = _invoice(ledger, "TOKYO", [("Calls", "10", "1", "20")])
    exporter = make_exporter(ledger, connection_to(clearbooks))

    report = exporter.run()

    [letter] = exporter.store.dead_letters("clearbooks")
    assert letter.label == refused and "has no currency TRY" in letter.error
    assert report.stopped is None and list(views.invoices(clearbooks)) == [sent]


# ------------------------------------------------------------------ refusals of the fake


def _line(net="10.00", tax="2.00"):
    return docs.Line("Calls", D(1), D(net), D(20), "VAT 20%", "usage", D(net), D(tax))


def _sent_invoice(ledger, clearbooks, make_exporter):
    _customer(ledger, "TOKYO", "東京テレコム株式会社")
    number = _invoice(ledger, "TOKYO", [("Calls", "10", "1", "20")])
    exporter = make_exporter(ledger, connection_to(clearbooks, max_attempts=1))
    exporter.run()
    invoice = ledger.invoice(number)
    remote = exporter.store.remote_ids("clearbooks")
    return (
        exporter.client,
        invoice,
        remote[("contact", str(invoice.customer_id))],
        remote[("invoice", str(invoice.id))],
    )


def _document(number, on):
    return docs.SalesInvoice(
        uuid4(), uuid4(), number, on, on, "GBP", "", (_line(),), D(10), D(2), D(12)
    )


def _allocation(invoice, amount):
    return docs.PaymentAllocation(
        uuid4(),
        invoice.id,
        invoice.number,
        invoice.customer_id,
        D(amount),
        "GBP",
        invoice.due_date,
        "bank transfer",
        "",
    )


def test_the_fake_refuses_what_clear_books_refuses(ledger, clearbooks, make_exporter):
    client, invoice, entity, remote = _sent_invoice(ledger, clearbooks, make_exporter)
    key = ExportKey("k", "k")

    with pytest.raises(RemoteRejected, match="exceeds the amount outstanding"):
        client.payment(_allocation(invoice, "12.01"), entity, remote, ExportKey("p1", "p1"))
    with pytest.raises(RemoteRejected, match="entity 999 does not exist"):
        client.invoice(
            _document("INV-9", invoice.due_date),
            "999",
            key,
        )
    with pytest.raises(RemoteRejected, match="does not end in a number"):
        client.invoice(
            _document("INV-A", invoice.due_date),
            entity,
            key,
        )
    with pytest.raises(RemoteRejected, match="invoice 999 cannot take payments"):
        client.payment(_allocation(invoice, "1.00"), entity, "999", ExportKey("p3", "p3"))
    with pytest.raises(RemoteRejected, match="Clear Books has no sales document 999"):
        client.void(docs.Void(invoice.id, invoice.number, invoice.customer_id, "x"), "999", key)
    client.payment(_allocation(invoice, "5.00"), entity, remote, ExportKey("p2", "p2"))
    with pytest.raises(RemoteRejected, match="voidInvoice: Remove the payments and credits"):
        client.void(docs.Void(invoice.id, invoice.number, invoice.customer_id, "x"), remote, key)
    assert clearbooks.balance(int(remote)) == D("7.00")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            "<cb:getInvoiceIdFromInvoiceNumber><type>sales</type><invoicePrefix>INV-</invoicePrefix>"
            "<invoiceNumber>1a</invoiceNumber></cb:getInvoiceIdFromInvoiceNumber>",
            "'1a' is not a valid int",
        ),
        (
            "<cb:getInvoiceIdFromInvoiceNumber><type>sales</type><invoiceNumber>1</invoiceNumber>"
            "</cb:getInvoiceIdFromInvoiceNumber>",
            "invoicePrefix is required",
        ),
        (
            '<cb:voidInvoice><invoice reason="x"><type>sales</type><id>1</id></invoice>'
            "</cb:voidInvoice>",
            "unexpected attribute 'reason'",
        ),
        (
            "<cb:createPayment><payment><description>x</description><type>sales</type>"
            "<amount>1</amount><entityId>1</entityId><paymentMethod>1</paymentMethod>"
            "</payment></cb:createPayment>",
            "createPayment.payment.bankAccount is required",
        ),
        (
            "<cb:createInvoice><invoice><items/><entityId>1</entityId>"
            "<dateCreated>2026-13-01</dateCreated><type>sales</type></invoice></cb:createInvoice>",
            "is not a valid date",
        ),
    ],
)
def test_the_fake_refuses_requests_that_do_not_match_clear_books_types(clearbooks, call, message):
    method = call.split(">", 1)[0].removeprefix("<cb:")
    envelope = (
        f'<?xml version="1.0"?><s:Envelope xmlns:s="{wire.SOAP_ENV}" xmlns:cb="{wire.NS}">'
        f"<s:Header><cb:authenticate><apiKey>{clearbooks.API_KEY}</apiKey></cb:authenticate>"
        f"</s:Header><s:Body>{call}</s:Body></s:Envelope>"
    )
    response = httpx.post(
        clearbooks.url + clearbooks.PATH,
        content=envelope.encode(),
        headers={"SOAPAction": f"{wire.NS}#{method}", "Content-Type": "text/xml"},
    )

    assert response.status_code == 500
    fault = ET.fromstring(response.content).find("s:Body/s:Fault", NS)
    assert fault is not None and fault.findtext("faultcode") == "SOAP-ENV:Client"
    assert message in (fault.findtext("faultstring") or "")


# ------------------------------------------------------------------ VAT treatment, currency banks


def _reverse_charge_customer(ledger, account):
    _customer(ledger, account, f"{account} GmbH", currency="EUR", tax=("0", "Reverse charge"))


def _invoice_taxed(ledger, account, description, rate="0"):
    invoice_id = ledger.create_invoice(account, "t")
    ledger.add_line(
        invoice_id,
        "t",
        description="Calls",
        quantity=D(100),
        unit_price=D("0.25"),
        tax_rate=D(rate),
        tax_description=description,
    )
    return ledger.issue_invoice(invoice_id, "t")


def _sent_treatments(clearbooks) -> dict[str, str]:
    """Invoice number -> the vatTreatment Clear Books was sent with it."""
    sent = {}
    for request in clearbooks.requests:
        if b"createInvoice>" not in request.body:
            continue
        invoice = ET.fromstring(request.body).find("s:Body/cb:createInvoice/invoice", NS)
        sent[invoice.get("invoice_prefix") + invoice.get("invoiceNumber")] = invoice.get(
            "vatTreatment"
        )
    return sent


def test_a_mapped_tax_description_sets_the_invoices_vat_treatment(
    ledger, clearbooks, make_exporter
):
    _reverse_charge_customer(ledger, "BERLIN")
    _customer(ledger, "LEEDS", "Leeds Telecom")
    reverse = _invoice_taxed(ledger, "BERLIN", "  reverse CHARGE ")
    domestic = _invoice_taxed(ledger, "LEEDS", "VAT 20%", "20")
    mapping: dict = {}
    mapping["vat_treatments"] = {"Reverse charge": "SEU"}
    exporter = make_exporter(ledger, connection_to(clearbooks, mapping=mapping))

    report = exporter.run()

    assert report.stopped is None and exporter.store.dead_letters("clearbooks") == []
    # matched as a person reads it (case, spaces); unmapped descriptions stay UK
    assert _sent_treatments(clearbooks) == {reverse: "SEU", domestic: "UK"}


def test_lines_of_different_treatments_are_one_dead_letter_not_a_wrong_vat_return(
    ledger, clearbooks, make_exporter
):
    _reverse_charge_customer(ledger, "BERLIN")
    invoice_id = ledger.create_invoice("BERLIN", "t")
    for description, rate in (("Reverse charge", "0"), ("VAT 20%", "20")):
        ledger.add_line(
            invoice_id,
            "t",
            description="Calls",
            quantity=D(1),
            unit_price=D(10),
            tax_rate=D(rate),
            tax_description=description,
        )
    number = ledger.issue_invoice(invoice_id, "t")
    mapping: dict = {}
    mapping["vat_treatments"] = {"Reverse charge": "SEU"}
    exporter = make_exporter(ledger, connection_to(clearbooks, mapping=mapping))

    exporter.run()

    [letter] = exporter.store.dead_letters("clearbooks")
    assert letter.label == number and "different VAT treatments (SEU, UK)" in letter.error
    assert list(views.invoices(clearbooks)) == []


def test_payments_land_in_the_bank_account_of_their_currency(ledger, clearbooks, make_exporter):
    _customer(ledger, "PARIS", "Paris Télécom", currency="EUR")
    _customer(ledger, "LEEDS", "Leeds Telecom")
    numbers = {
        account: _invoice_taxed(ledger, account, "VAT 20%", "20") for account in ("PARIS", "LEEDS")
    }
    for account, number in numbers.items():
        payment = ledger.record_payment(account, "t", amount=D("10.00"), status="completed")
        ledger.allocate(payment, [(ledger.invoice(number).id, D("10.00"))], "t")
    clearbooks.bank_accounts.add("7502009")
    mapping: dict = {}
    mapping["bank_accounts"] = {"EUR": "7502009"}
    exporter = make_exporter(ledger, connection_to(clearbooks, mapping=mapping))

    report = exporter.run()

    assert report.stopped is None and exporter.store.dead_letters("clearbooks") == []
    banks = {
        clearbooks.number(p["invoices"][0]["id"]): p["bankAccount"]
        for p in clearbooks.payments.values()
    }
    assert banks == {numbers["PARIS"]: "7502009", numbers["LEEDS"]: "7502001"}
