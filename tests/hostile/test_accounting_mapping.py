"""A connection's mapping is typed in by a person: every wrong value is refused when the
configuration is read, naming the connection and the entry, before anything is exported."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from adapters.accounting.config import parse_connections
from adapters.accounting.errors import MappingMissing
from adapters.config_error import ConfigError


def _connect(system: str, **mapping: object):
    settings = {"system": system, "api_key": "k", "mapping": mapping}
    return parse_connections({"connections": {"books": settings}}, {})["books"]


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"vat_treatments": {"Reverse charge": "REVERSE"}}, "'REVERSE' is not a Clear Books VAT"),
        ({"vat_treatments": {"Reverse charge": "seu"}}, "'seu' is not a Clear Books VAT"),
        ({"vat_treatments": {"": "SEU"}}, "keys are tax descriptions of 1-100"),
        ({"vat_treatments": {"   ": "SEU"}}, "keys are tax descriptions of 1-100"),
        ({"vat_treatments": {"x" * 101: "SEU"}}, "keys are tax descriptions of 1-100"),
        (
            {"vat_treatments": {"Reverse charge": "SEU", "REVERSE  charge": "UK"}},
            "maps 'REVERSE  charge' twice",
        ),
        ({"vat_treatments": {f"d{n}": "UK" for n in range(201)}}, "at most 200 items"),
        ({"vat_treatments": ["SEU"]}, "vat_treatments"),
        ({"bank_accounts": {"eur": "7502009"}}, "ISO 4217 currency codes (e.g. EUR), not 'eur'"),
        ({"bank_accounts": {"EURO": "7502009"}}, "not 'EURO'"),
        ({"bank_accounts": {"EUR": ""}}, "an account code of 1-64 characters"),
        ({"bank_accounts": {"EUR": "9" * 65}}, "an account code of 1-64 characters"),
    ],
)
def test_a_bad_clear_books_mapping_is_refused_naming_the_entry(mapping, message):
    with pytest.raises(ConfigError, match="connection 'books'") as refused:
        _connect("clearbooks", **mapping)
    assert message in str(refused.value)


@pytest.mark.parametrize("system", ["xero", "freshbooks"])
def test_vat_treatments_on_another_system_are_refused_not_ignored(system):
    with pytest.raises(ConfigError, match=f"for Clear Books connections, not {system}"):
        _connect(system, vat_treatments={"Reverse charge": "SEU"})


def test_a_payment_in_a_currency_with_no_bank_account_is_a_mapping_error():
    connection = _connect("xero", bank_account="", bank_accounts={"EUR": "091"})
    assert connection.mapping.bank_account_for("EUR") == "091"
    with pytest.raises(MappingMissing, match=r"payments in USD: set mapping\.bank_account or"):
        connection.mapping.bank_account_for("USD")
    assert _connect("xero").mapping.tax_type_for(D("20.00")) == "OUTPUT2"
