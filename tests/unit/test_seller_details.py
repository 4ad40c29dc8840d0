"""The seller's bank and contact details: formats and check digits (domain/seller_details.py),
checked by the settings aggregate on change."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.aggregate import Stamp
from domain.changes import SettingsChanges
from domain.errors import InvalidBankDetails, InvalidInput
from domain.seller_details import check_bic, check_iban, iban_groups
from domain.settings import AccountSettings, SellerSettings

STAMP = Stamp("admin", datetime(2026, 10, 1, tzinfo=UTC))

# published example IBANs (their check digits are right)
GOOD_IBANS = [
    "GB29NWBK60161331926819",
    "DE89370400440532013000",
    "FR1420041010050500013M02606",
    "NO9386011117947",  # the shortest
    "MT84MALT011000012345MTLCAST001S",
]


@pytest.mark.parametrize("iban", GOOD_IBANS)
def test_well_formed_ibans_with_right_check_digits_pass(iban):
    assert check_iban(iban) == iban


@pytest.mark.parametrize(
    ("iban", "words"),
    [
        ("GB28NWBK60161331926819", "check digits are wrong"),  # one digit off
        ("GB29NWBK60161331926891", "check digits are wrong"),  # two digits swapped
        ("GB29NWBK6016133192681", "check digits are wrong"),  # one digit short
        ("GB29", "IBAN must be"),
        ("29GBNWBK60161331926819", "IBAN must be"),
        ("GB29NWBK6016133192681!", "IBAN must be"),
        ("ZZ29NWBK60161331926819", "country code"),
        ("GB29nwbk60161331926819", "IBAN must be"),  # stored in capitals only
    ],
)
def test_malformed_ibans_are_refused_at_the_iban_field(iban, words):
    with pytest.raises(InvalidBankDetails, match=words) as raised:
        check_iban(iban)
    assert raised.value.field == "iban"


@pytest.mark.parametrize("bic", ["NWBKGB2L", "COBADEFFXXX", "DEUTDEFF500"])
def test_bics_of_8_or_11_characters_pass(bic):
    assert check_bic(bic) == bic


@pytest.mark.parametrize("bic", ["NWBKGB2", "NWBKGB2LX", "NWB1GB2L", "NWBKZZ2L", "NWBKGB2L12"])
def test_malformed_bics_are_refused(bic):
    with pytest.raises(InvalidBankDetails) as raised:
        check_bic(bic)
    assert raised.value.field == "bic"


def settings() -> AccountSettings:
    found = AccountSettings.initialise(SellerSettings(), STAMP)
    found.collect_events()
    return found


def test_settings_keep_bank_details_as_banks_print_them():
    account = settings()
    account.change(
        SettingsChanges(
            iban=" gb29 nwbk 6016 1331 9268 19 ",
            bic="nwbkgb2l",
            sort_code="60 16 13",
            bank_account_number="31926819",
            registration_number="SC123456",
        ),
        STAMP,
    )
    values = account.values
    assert (values.iban, values.bic, values.sort_code) == (
        "GB29NWBK60161331926819",
        "NWBKGB2L",
        "60-16-13",
    )
    details = values.seller_details
    assert details.bank_lines == [
        "IBAN GB29 NWBK 6016 1331 9268 19 · BIC NWBKGB2L",
        "Sort code 60-16-13 · Account 31926819",
    ]
    assert iban_groups("NO9386011117947") == "NO93 8601 1117 947"
    changed = account.collect_events()[-1]
    assert isinstance(changed, AccountSettings.Changed)
    assert changed.after["registration_number"] == "SC123456"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"bic": "NWBKGB2L"}, "iban"),  # a BIC without its IBAN
        ({"sort_code": "601613"}, "bank_account_number"),
        ({"bank_account_number": "31926819"}, "sort_code"),
        ({"sort_code": "6016131", "bank_account_number": "31926819"}, "sort_code"),
        ({"sort_code": "601613", "bank_account_number": "3192681"}, "bank_account_number"),
    ],
)
def test_half_a_bank_account_or_a_bad_part_is_refused_and_nothing_changes(changes, field):
    account = settings()
    with pytest.raises(InvalidBankDetails) as raised:
        account.change(SettingsChanges(**changes), STAMP)
    assert raised.value.field == field
    assert account.collect_events() == [] and account.values == SellerSettings()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"contact_email": "billing"}, "contact_email"),
        ({"contact_email": "a b@example.com"}, "contact_email"),
        ({"contact_phone": "0800-CALL-NOW"}, "contact_phone"),
        ({"registration_number": "1\n2"}, None),
    ],
)
def test_contact_details_are_checked(changes, field):
    with pytest.raises(InvalidInput) as raised:
        settings().change(SettingsChanges(**changes), STAMP)
    if field:
        assert raised.value.field == field


def test_clearing_the_bank_details_is_allowed():
    account = settings()
    account.change(SettingsChanges(sort_code="601613", bank_account_number="31926819"), STAMP)
    account.change(SettingsChanges(sort_code="", bank_account_number=""), STAMP)
    assert account.values.seller_details.bank_lines == []
