"""The long-address case: every part of a customer's address arrives in each accounting system,
within that system's documented field limits, and nothing is ever cut off."""

from __future__ import annotations

import json
from typing import Any

import pytest

from domain.changes import CustomerChanges
from tests.fakes.clearbooks import FakeClearBooks
from tests.fakes.freshbooks import FakeFreshBooks
from tests.fakes.server import Request
from tests.fakes.xero import FakeXero
from tests.integration.accounting.helpers import connection_to

SYSTEMS = ["xero", "clearbooks", "freshbooks"]
# The export's behaviour does not depend on the store: SQLite only keeps the suite fast.
SQLITE = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)

LINES = [f"{n}{'ª' * 10} " + chr(0x41 + n) * 86 for n in range(1, 5)]  # 4 x 100 characters
STRUCTURED = {
    "lines": LINES,
    "city": "Łódź" + "ł" * 96,
    "region": "Województwo łódzkie",
    "postal_code": "90-001",
    "country": "PL",
}
# a customer registered before addresses had structure: six lines, commas inside lines
FREE_TEXT = "Flat 2, Block C\nUnit 7\nIndustrial Estate, North\nHigh Road\nLeeds\nLS1 1AA"


def _register(ledger: Any) -> None:
    ledger.register_customer(
        "t", account_number="LODZ", name="Łódź Telekom", currency="PLN", address=STRUCTURED
    )
    ledger.register_customer(
        "t", account_number="LEEDS", name="Leeds Calls", currency="GBP", billing_address=FREE_TEXT
    )


def remote_address(fake: Any, account: str) -> dict[str, str]:
    """The address the system holds for a customer, under our names for the parts."""
    if isinstance(fake, FakeXero):
        contact = next(c for c in fake.contacts.values() if c["AccountNumber"] == account)
        (address,) = contact["Addresses"]
        assert address["AddressType"] == "POBOX"
        return {
            "lines": "\n".join(address.get(f"AddressLine{n}", "") for n in range(1, 5)),
            "city": address.get("City", ""),
            "region": address.get("Region", ""),
            "postal_code": address.get("PostalCode", ""),
            "country": address.get("Country", ""),
        }
    if isinstance(fake, FakeClearBooks):
        entity = next(e for e in fake.entities.values() if e["external_id"] == account)
        return {
            "lines": f"{entity['address1']}\n{entity['address2']}",
            "city": entity["town"],
            "region": entity["county"],
            "postal_code": entity["postcode"],
            "country": entity["country"],
        }
    assert isinstance(fake, FakeFreshBooks)
    client = next(c for c in fake.clients.values() if f" account {account}" in (c["note"] or ""))
    return {
        "lines": f"{client['p_street']}\n{client['p_street2']}",
        "city": client["p_city"],
        "region": client["p_province"],
        "postal_code": client["p_code"],
        "country": client["p_country"],
    }


@SQLITE
@pytest.mark.parametrize("system", SYSTEMS)
def test_every_part_of_a_long_address_arrives_in_each_system(
    system: str, ledger: Any, fakes: Any, make_exporter: Any
) -> None:
    fake = fakes(system)
    _register(ledger)

    report = make_exporter(ledger, connection_to(fake)).run()

    assert [i.outcome for i in report.items] == ["exported", "exported"]
    lodz = remote_address(fake, "LODZ")
    if system == "xero":  # four line fields: one line each
        assert lodz["lines"] == "\n".join(LINES)
        assert lodz["country"] == "PL"
    else:  # two line fields: lines 2-4 joined into the second, within no published limit
        assert lodz["lines"] == f"{LINES[0]}\n{', '.join(LINES[1:])}"
        assert lodz["country"] == ("Poland" if system == "freshbooks" else "PL")
    assert (lodz["city"], lodz["region"], lodz["postal_code"]) == (
        STRUCTURED["city"],
        "Województwo łódzkie",
        "90-001",
    )
    leeds = remote_address(fake, "LEEDS")
    kept = leeds["lines"].replace(", ", "\n").replace("\n", "|")
    # every part of the free text, in order; the commas it had are kept as they were
    assert kept == FREE_TEXT.replace(", ", "\n").replace("\n", "|")
    assert leeds["city"] == leeds["postal_code"] == ""


@SQLITE
@pytest.mark.parametrize("system", SYSTEMS)
def test_a_changed_address_updates_the_contact_and_clears_what_it_no_longer_has(
    system: str, ledger: Any, fakes: Any, make_exporter: Any
) -> None:
    fake = fakes(system)
    _register(ledger)
    make_exporter(ledger, connection_to(fake)).run()
    ledger.change_customer(
        "LODZ", CustomerChanges.model_validate({"address": {"lines": ["ul. Piotrkowska 1"]}}), "t"
    )

    report = make_exporter(ledger, connection_to(fake)).run()

    assert [(i.kind, i.outcome) for i in report.items] == [("contact", "exported")]
    assert remote_address(fake, "LODZ") == {
        "lines": "ul. Piotrkowska 1" + "\n" * (3 if system == "xero" else 1),
        "city": "",
        "region": "",
        "postal_code": "",
        "country": "",
    }


@SQLITE
def test_a_free_text_line_longer_than_xero_holds_is_a_dead_letter_never_cut(
    ledger: Any, xero: FakeXero, make_exporter: Any
) -> None:
    ledger.register_customer(
        "t", account_number="LONG", name="Long Line", currency="GBP", billing_address="x" * 501
    )
    ledger.create_invoice("LONG", "t")  # a draft: not exported

    report = make_exporter(ledger, connection_to(xero)).run()

    (item,) = report.items
    assert (item.kind, item.outcome) == ("contact", "dead")
    assert "at most 500 characters in a contact's address line 1" in item.detail
    assert "would be 501" in item.detail
    assert xero.contacts == {}


@pytest.mark.parametrize(
    ("address", "words"),
    [
        ({"AddressType": "POBOX", "AddressLine4": "l" * 501}, ["addressline4", "500"]),
        ({"AddressType": "POBOX", "City": "c" * 256}, ["city", "255"]),
        ({"AddressType": "POBOX", "PostalCode": "1" * 51}, ["postalcode", "50"]),
        ({"AddressType": "POBOX", "Country": "United Kingdom"}, ["only the letters"]),
        ({"AddressType": "HOME", "City": "Leeds"}, ["addresstype", "home"]),
    ],
)
def test_the_fake_xero_refuses_an_address_past_its_documented_limits(
    address: dict[str, str], words: list[str]
) -> None:
    """Xero's own rules, not our mapping's: the fake refuses what Xero documents it refuses."""
    fake = FakeXero()
    fake.tokens.add("token")
    body = json.dumps({"Contacts": [{"Name": "N", "Addresses": [address]}]}).encode()
    headers = {"authorization": "Bearer token", "xero-tenant-id": fake.TENANT}
    answer = fake.handle(Request("PUT", "/api.xro/2.0/Contacts", {}, headers, body))
    said = answer.body.decode().lower().replace("_", "")  # the SDK's names or Xero's
    assert answer.status == 400 and all(word in said for word in words), said
    assert fake.contacts == {}
