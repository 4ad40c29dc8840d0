"""The stored form of events: pydantic's JSON of the payload, loaded back exactly."""

from __future__ import annotations

import json
from decimal import Decimal as D

from eventsourcing.persistence import JSONTranscoder

from adapters.ledger.event_mapper import PydanticMapper, event_json, event_payload
from domain.changes import CustomerChanges
from tests.helpers import completed_payment, customer, issued_invoice


def test_every_event_is_stored_as_the_json_of_its_payload_and_loads_back_equal(memory_ledger):
    customer(memory_ledger, "ACME")
    memory_ledger.change_customer(
        "ACME",
        CustomerChanges.model_validate({"billing_address": "Rue de l'Église 1, Genève"}),
        "t",
    )
    memory_ledger.define_package("t", name="Trunk ☎", unit_price=D("120.00"), currency="GBP")
    number = issued_invoice(memory_ledger, "ACME", "99.99")
    payment = completed_payment(memory_ledger, "ACME", "50.00")
    memory_ledger.allocate(payment, [(number, D("50.00"))], "t")
    memory_ledger.issue_credit_note(number, "t", "goodwill €", amount=D("10.00"))
    mapper = PydanticMapper(transcoder=JSONTranscoder())

    events = [event for _, event in memory_ledger.all_events()]
    assert len(events) >= 10
    for event in events:
        stored = mapper.to_stored_event(event)
        assert json.loads(stored.state) == event_payload(event) == json.loads(event_json(event))
        assert mapper.to_domain_event(stored) == event


def test_stored_json_loads_as_json_loads_loads_it_even_where_msgspec_would_refuse_it():
    """The mapper's JSON decoding (msgspec, falling back to ``json.loads``) gives what
    ``json.loads`` gives, and raises what it raises, for hostile stored bytes too."""
    from adapters.ledger.event_mapper import load_json

    cases = [
        b'{"a":1,"a":2}',
        b'{"a":1e400,"b":-0.0,"c":1E5,"d":0.1e-400,"e":12345678901234567890.123}',
        b'{"a":123456789012345678901234567890}',
        b'{"a":NaN,"b":Infinity,"c":-Infinity}',
        b'{"a":"\\ud800","\\ud83d\\ude00":"\\u0000"}',
        b'\xef\xbb\xbf{"a":1}',
        '{"a":"é"}'.encode("utf-16"),
        b'  {"a":[1,{"b":null}]}  ',
        b'{"a":"x\x01y"}',
        b'{"a":"\xff"}',
        b'{"a":1} x',
        b'{"a":' + b"1" * 5000 + b"}",
        b"",
        b'{"a":[1,2,]}',
    ]

    def outcome(loads, data):
        try:
            return "ok", repr(loads(data))
        except Exception as error:
            return "error", type(error).__name__, str(error)

    for data in cases:
        assert outcome(load_json, data) == outcome(json.loads, data), data
