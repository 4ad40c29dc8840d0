"""FreshBooks' total of every invoice we send is the ledger's, to the penny.

Through the real client against the fake FreshBooks, which computes as FreshBooks documents:
``unit_cost`` kept to 2 dp, line amount ``qty x unit_cost`` to 2 dp, tax from the line's
percentage, the total summed from the lines.
"""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal as D
from uuid import uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.accounting import documents as docs
from adapters.accounting.client import ExportKey
from adapters.accounting.errors import RemoteRejected
from adapters.accounting.events import lines_of
from adapters.accounting.freshbooks import FreshBooksClient
from adapters.accounting.policy import CallPolicy
from domain.address import PostalAddress
from domain.invoice_line import InvoiceLine, totals_of
from tests.integration.accounting.helpers import connection_to

_numbers = itertools.count(1)
quantities = st.decimals(min_value=D("0.0001"), max_value=D("100000"), places=4) | st.decimals(
    min_value=D("1"), max_value=D("5000"), places=0
)
prices = st.integers(min_value=2, max_value=6).flatmap(
    lambda places: st.decimals(min_value=D("0.0001"), max_value=D("50"), places=places)
)
lines_strategy = st.lists(
    st.tuples(quantities, prices, st.sampled_from(["20", "5", "0", "8.875"])),
    min_size=1,
    max_size=4,
)
KEY = ExportKey("k", "k")

NO_ADDRESS = PostalAddress.from_free_text("")


def _client(fake) -> FreshBooksClient:
    return FreshBooksClient(connection_to(fake), CallPolicy(max_attempts=1))


def _contact(client: FreshBooksClient) -> str:
    contact = docs.Contact(uuid4(), "P1", "", "Property Telecom", "", NO_ADDRESS, "", "GBP")
    return client.contact(contact, None, KEY).remote_id


def _invoice(specs: list[tuple[D, D, str]]) -> docs.SalesInvoice:
    lines = [
        InvoiceLine(
            line_id=uuid4(),
            description=f"Calls band {index}",
            quantity=quantity,
            unit_price=price,
            tax_rate=D(rate),
            tax_description=f"Tax {rate}%",
        )
        for index, (quantity, price, rate) in enumerate(specs)
    ]
    totals = totals_of(lines, "GBP")
    return docs.SalesInvoice(
        uuid4(),
        uuid4(),
        f"P-{next(_numbers):05d}",
        date(2026, 10, 1),
        date(2026, 10, 15),
        "GBP",
        "",
        lines_of(lines, "GBP"),
        totals.net,
        totals.tax,
        totals.total,
    )


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(specs=lines_strategy)
def test_freshbooks_totals_every_invoice_as_the_ledger_does(specs, freshbooks):
    client = _client(freshbooks)
    invoice = _invoice(specs)

    sent = client.invoice(invoice, _contact(client), KEY)

    assert sent.remote_total == invoice.total == client.expected_total(invoice.lines, "GBP")
    back = client.read_back("invoice", sent.remote_id)
    assert (back.total, back.amount_due, back.status) == (invoice.total, invoice.total, "sent")


def test_a_price_freshbooks_cannot_hold_goes_as_one_times_the_net_with_its_rate_in_words(
    freshbooks,
):
    client = _client(freshbooks)
    invoice = _invoice([(D("1234.5"), D("0.012345"), "20"), (D("10"), D("1.50"), "5")])

    client.invoice(invoice, _contact(client), KEY)

    (remote,) = freshbooks.invoices.values()
    first, second = remote["lines"]
    assert (first["qty"], first["unit_cost"]["amount"]) == ("1", "15.24")
    assert first["description"] == "Calls band 0 (1234.5 × 0.012345)"
    assert (first["taxName1"], first["taxAmount1"]) == ("Tax 20%", "20")
    assert (second["qty"], second["unit_cost"]["amount"], second["taxAmount1"]) == (
        "10",
        "1.50",
        "5",
    )
    assert remote["amount"]["amount"] == str(invoice.total) == "34.04"


def test_a_tax_rate_finer_than_freshbooks_keeps_is_refused_before_sending(freshbooks):
    client = _client(freshbooks)
    invoice = _invoice([(D("1"), D("10"), "8.8755")])
    contact = _contact(client)
    requests = len(freshbooks.requests)

    with pytest.raises(RemoteRejected, match=r"tax percentages to 3 decimals.*8\.8755%"):
        client.invoice(invoice, contact, KEY)
    assert len(freshbooks.requests) == requests and freshbooks.invoices == {}


def test_a_credit_note_reads_back_applied_however_many_pages_the_clients_payments_fill(
    freshbooks,
):
    client = _client(freshbooks)
    contact = _contact(client)
    invoice = _invoice([(D("3"), D("40.00"), "20")])
    invoice_id = client.invoice(invoice, contact, KEY).remote_id
    for n in range(230):  # earlier payments of this client: FreshBooks answers 100 a page
        freshbooks.payments[str(n)] = {
            "id": n,
            "invoiceid": 1,
            "clientid": int(contact),
            "type": "Cash",
            "note": "",
            "from_credit": False,
            "vis_state": 0,
            "amount": {"amount": "1.00", "code": "GBP"},
        }
    lines = lines_of(
        [
            InvoiceLine(
                line_id=uuid4(),
                description="Calls band 0",
                quantity=D(1),
                unit_price=D("10.00"),
                tax_rate=D(20),
                tax_description="Tax 20%",
            )
        ],
        "GBP",
    )
    note = docs.CreditNote(
        uuid4(),
        invoice.invoice_id,
        invoice.number,
        invoice.customer_id,
        "CN-1",
        date(2026, 10, 2),
        "GBP",
        "wrong rate",
        lines,
        D("10.00"),
        D("2.00"),
        D("12.00"),
    )

    sent = client.credit_note(note, contact, invoice_id, ExportKey("cn", "cn"))

    back = client.read_back("credit_note", sent.remote_id)
    assert (back.total, back.amount_due, back.status) == (D("12.00"), D(0), "applied")
    invoice_back = client.read_back("invoice", invoice_id)
    assert (invoice_back.total, invoice_back.amount_due) == (D("144.00"), D("132.00"))


def test_a_known_client_is_updated_keeping_what_the_accountant_noted(freshbooks):
    client = _client(freshbooks)
    contact = docs.Contact(uuid4(), "TKY", "", "東京テレコム", "a@b.example", NO_ADDRESS, "", "GBP")
    known = client.contact(contact, None, KEY).remote_id
    freshbooks.clients[known]["note"] += "\nPays late; call Hiro"
    renamed = docs.Contact(
        contact.customer_id, "TKY", "", "東京テレコム株式会社", "", NO_ADDRESS, "", "GBP"
    )

    assert client.contact(renamed, known, KEY).remote_id == known

    held = freshbooks.clients[known]
    assert held["organization"] == "東京テレコム株式会社"
    assert held["note"] == f"tollbook:{contact.customer_id} account TKY\nPays late; call Hiro"
    assert len(freshbooks.clients) == 1
