"""Hostile XML on the Clear Books wire: a reply (or a request to the fake) carrying a DTD.

SOAP 1.1 forbids a document type declaration in a message. A billion-laughs reply would expand
to gigabytes, an external entity would read a local file into the books: both are refused by
the parser before any entity is expanded or fetched. The export run stops (the remote is not
trusted, so nothing is recorded and nothing dead-lettered), and the ledger is untouched.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal as D

import httpx
import pytest

from adapters.accounting import clearbooks_wire as wire
from adapters.accounting.config import parse_connections
from adapters.accounting.factory import build_exporter
from tests.fakes.clearbooks import FakeClearBooks
from tests.fakes.server import FakeClock
from tests.helpers import event_count

_LAUGHS = "".join(f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10))
BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol0 "lol">' + _LAUGHS + "]>"
    f'<SOAP-ENV:Envelope xmlns:SOAP-ENV="{wire.SOAP_ENV}" xmlns:ns1="{wire.NS}"><SOAP-ENV:Body>'
    "<ns1:getEntityIdFromExternalIdResponse><return>&lol9;</return>"
    "</ns1:getEntityIdFromExternalIdResponse></SOAP-ENV:Body></SOAP-ENV:Envelope>"
).encode()
EXTERNAL_ENTITY = (
    '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    f'<SOAP-ENV:Envelope xmlns:SOAP-ENV="{wire.SOAP_ENV}" xmlns:ns1="{wire.NS}"><SOAP-ENV:Body>'
    "<ns1:getEntityIdFromExternalIdResponse><return>&xxe;</return>"
    "</ns1:getEntityIdFromExternalIdResponse></SOAP-ENV:Body></SOAP-ENV:Envelope>"
).encode()
HOSTILE = pytest.mark.parametrize("body", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["laughs", "xxe"])


@pytest.fixture
def clearbooks() -> Iterator[FakeClearBooks]:
    fake = FakeClearBooks().start()
    assert isinstance(fake, FakeClearBooks)
    try:
        yield fake
    finally:
        fake.stop()


@HOSTILE
def test_a_reply_with_a_dtd_is_refused_unexpanded_and_the_run_stops_recording_nothing(
    body, make_ledger, store_url, clearbooks
):
    ledger = make_ledger()
    ledger.register_customer(
        "t",
        account_number="ACME",
        name="Acme Telecom Ltd",
        currency="GBP",
        tax_rate=D("20"),
        tax_description="VAT 20%",
        payment_terms_days=14,
    )
    events = event_count(ledger)
    settings = {**clearbooks.connection_settings(), "max_attempts": 1}
    connection = parse_connections({"connections": {"books": settings}}, {})["books"]
    clock = FakeClock()
    exporter = build_exporter(ledger, store_url, connection, sleep=clock.sleep, clock=clock)
    clearbooks.next_reply = body

    report = exporter.run()

    assert report.stopped is not None
    assert "refused a message with a DTD or entities (DTDForbidden)" in report.stopped
    assert exporter.store.position("books") == 0
    assert exporter.store.dead_letters("books") == []
    assert clearbooks.entities == {}  # the hostile answer was the first call's: nothing created
    assert event_count(ledger) == events


@HOSTILE
def test_the_fake_refuses_a_request_with_a_dtd_as_clear_books_would(body, clearbooks):
    response = httpx.post(
        clearbooks.url + clearbooks.PATH,
        content=body.replace(b"Response>", b">"),
        headers={"SOAPAction": f"{wire.NS}#getEntityIdFromExternalId"},
    )

    assert response.status_code == 500
    assert b"SOAP-ENV:Client" in response.content
    assert b"refused a message with a DTD or entities (DTDForbidden)" in response.content
