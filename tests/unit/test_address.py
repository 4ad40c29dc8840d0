"""Structured customer addresses (domain/address.py): limits, the free-text mapping of customers
registered before addresses had structure, and the ``AddressChanged`` event."""

from __future__ import annotations

from datetime import date

import pytest

from adapters.ledger.application import Ledger
from domain.address import PostalAddress, postal_address
from domain.changes import CustomerChanges
from domain.errors import InvalidCharacters, InvalidInput, OutOfRange, TextTooLong, UnknownCountry
from tests.helpers import customer, event_count, issued_invoice

ZURICH = {
    "lines": ["Bahnhofstrasse 1", "c/o Büro 4"],
    "city": "Zürich",
    "region": "ZH",
    "postal_code": "8001",
    "country": "ch",
}


def test_an_address_is_trimmed_and_its_country_code_upper_cased() -> None:
    address = postal_address(["  1 High St ", "", "  "], " London ", "", " EC2A 2BR ", " gb ")
    assert address == PostalAddress(
        lines=("1 High St",), city="London", postal_code="EC2A 2BR", country="GB"
    )
    assert address.printed() == ["1 High St", "London", "EC2A 2BR", "United Kingdom"]
    assert str(address) == "1 High St / London / EC2A 2BR / United Kingdom"


@pytest.mark.parametrize(
    ("parts", "error", "words"),
    [
        ({"lines": ["1", "2", "3", "4", "5"]}, OutOfRange, "at most 4 address lines, got 5"),
        ({"lines": []}, InvalidInput, "at least one address line"),
        ({"lines": ["x" * 101]}, TextTooLong, "address line 1 must be at most 100"),
        ({"lines": ["a", "b\nc"]}, InvalidCharacters, "address line 2 must not contain"),
        ({"lines": ["a"], "city": "c" * 101}, TextTooLong, "city must be at most 100"),
        ({"lines": ["a"], "region": "\x1b[31m"}, InvalidCharacters, "region must not contain"),
        ({"lines": ["a"], "postal_code": "1" * 21}, TextTooLong, "postal code must be at most"),
        ({"lines": ["a"], "postal_code": "80<01>"}, InvalidCharacters, "letters, digits"),
        ({"lines": ["a"], "country": "XX"}, UnknownCountry, "ISO 3166-1 alpha-2"),
        ({"lines": ["a"], "country": "GBR"}, UnknownCountry, "ISO 3166-1 alpha-2"),
        ({"lines": ["a"], "country": "U\u202eK"}, UnknownCountry, "ISO 3166-1 alpha-2"),
    ],
)
def test_an_address_outside_the_limits_is_refused_with_its_code(
    parts: dict[str, object], error: type[Exception], words: str
) -> None:
    with pytest.raises(error, match=words):
        postal_address(**parts)  # type: ignore[arg-type]


def test_free_text_maps_to_its_lines_and_drops_nothing() -> None:
    """Commas are not split on; every line is kept, even past four or past 100 characters."""
    text = "Flat 2, 10 Rue X\n\n2nd floor\nBuilding C\nBlock 9\n75001 Paris\n" + "y" * 150
    address = PostalAddress.from_free_text(text)
    assert address.lines == (
        "Flat 2, 10 Rue X",
        "2nd floor",
        "Building C",
        "Block 9",
        "75001 Paris",
        "y" * 150,
    )
    assert (address.city, address.country) == ("", "")


def test_a_customer_with_only_free_text_shows_it_until_an_address_is_set(
    memory_ledger: Ledger,
) -> None:
    customer(memory_ledger)
    memory_ledger.change_customer(
        "ACME", CustomerChanges.model_validate({"billing_address": "1 Road\nTown"}), "t"
    )
    assert memory_ledger.customer("ACME").latest.postal_address.lines == ("1 Road", "Town")
    memory_ledger.change_customer("ACME", CustomerChanges.model_validate({"address": ZURICH}), "t")
    latest = memory_ledger.customer("ACME").latest
    assert latest.postal_address.printed() == [
        "Bahnhofstrasse 1",
        "c/o Büro 4",
        "Zürich",
        "ZH",
        "8001",
        "Switzerland",
    ]
    memory_ledger.change_customer("ACME", CustomerChanges.model_validate({"address": None}), "t")
    assert memory_ledger.customer("ACME").latest.postal_address.lines == ("1 Road", "Town")


def test_setting_an_address_is_one_address_changed_event_with_the_fields(
    memory_ledger: Ledger,
) -> None:
    customer_id = customer(memory_ledger)
    memory_ledger.change_customer(
        "ACME", CustomerChanges.model_validate({"address": ZURICH}), "t", effective_from=None
    )
    memory_ledger.change_customer(
        "ACME", CustomerChanges.model_validate({"address": {**ZURICH, "country": "CH"}}), "t"
    )
    events = memory_ledger.events_of(customer_id)
    assert [type(e).__name__ for e in events] == ["Registered", "AddressChanged"]
    changed = events[-1]
    assert changed.before == {"address": None}  # type: ignore[attr-defined]
    after = changed.after["address"]  # type: ignore[attr-defined]
    assert (after.lines, after.city, after.country) == (
        ("Bahnhofstrasse 1", "c/o Büro 4"),
        "Zürich",
        "CH",
    )


def test_an_address_can_be_registered_and_scheduled(memory_ledger: Ledger) -> None:
    memory_ledger.register_customer(
        "t",
        account_number="ZRH",
        name="Zürich Telekom AG",
        currency="CHF",
        address=ZURICH,
    )
    later = {**ZURICH, "lines": ["Europaallee 1"]}
    memory_ledger.change_customer(
        "ZRH",
        CustomerChanges.model_validate({"address": later}),
        "t",
        effective_from=date(2027, 1, 1),
    )
    zrh = memory_ledger.customer("ZRH")
    assert zrh.profile_on(date(2026, 12, 31)).postal_address.lines[0] == "Bahnhofstrasse 1"
    assert zrh.profile_on(date(2027, 1, 1)).postal_address.lines == ("Europaallee 1",)


def test_an_issued_invoice_keeps_the_address_it_was_issued_with(memory_ledger: Ledger) -> None:
    customer(memory_ledger)
    memory_ledger.change_customer("ACME", CustomerChanges.model_validate({"address": ZURICH}), "t")
    number = issued_invoice(memory_ledger)
    memory_ledger.change_customer(
        "ACME", CustomerChanges.model_validate({"address": {"lines": ["Elsewhere 9"]}}), "t"
    )
    billing = memory_ledger.invoice(number).billing
    assert billing is not None and billing.postal_address.lines[0] == "Bahnhofstrasse 1"


def test_a_refused_address_writes_nothing(memory_ledger: Ledger) -> None:
    customer(memory_ledger)
    before = event_count(memory_ledger)
    for bad in ({"lines": list("abcde")}, {"lines": ["a"], "country": "ZZ"}):
        with pytest.raises(InvalidInput):
            memory_ledger.change_customer(
                "ACME", CustomerChanges.model_validate({"address": bad}), "t"
            )
    with pytest.raises(InvalidInput):
        memory_ledger.register_customer(
            "t", account_number="B", name="B", address={"lines": ["\x00"]}
        )
    assert event_count(memory_ledger) == before


def test_the_history_names_the_address_in_one_line(memory_ledger: Ledger) -> None:
    from adapters.describe import describe

    customer_id = customer(memory_ledger)
    memory_ledger.change_customer(
        "ACME",
        CustomerChanges.model_validate({"address": ZURICH}),
        "t",
        effective_from=date(2026, 11, 1),
    )

    said = describe(memory_ledger.events_of(customer_id)[-1])

    assert said == (
        "from 2026-11-01: address None → Bahnhofstrasse 1 / c/o Büro 4 / Zürich / ZH / 8001"
        " / Switzerland"
    )
