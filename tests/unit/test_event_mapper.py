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
