"""The seller's details a tax authority asks to see on an invoice, and their formats.

Registration (company) number, contact e-mail and phone, and bank details in one of two shapes:
an IBAN (ISO 13616, checked with its mod-97 check digits) with an optional BIC (ISO 9362), or a
UK sort code and account number. Values are kept as the bank prints them: an IBAN in capitals
without spaces (printed in groups of four), a sort code as ``12-34-56``.
"""

from __future__ import annotations

import re
from typing import Protocol

from domain import limits
from domain.countries import COUNTRY_NAMES
from domain.errors import InvalidBankDetails, InvalidInput
from domain.values import Frozen

REGISTRATION_NUMBER = limits.Text("registration number", 50)
PHONE = limits.Text("phone", 30)
IBAN_LENGTH = (15, 34)  # Norway's IBAN is the shortest, Saint Lucia's the longest

_IBAN = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}")
_BIC = re.compile(r"[A-Z]{4}([A-Z]{2})[A-Z0-9]{2}([A-Z0-9]{3})?")
_SORT_CODE = re.compile(r"[0-9]{2}-?[0-9]{2}-?[0-9]{2}")
_ACCOUNT_NUMBER = re.compile(r"[0-9]{8}")
_PHONE = re.compile(r"\+?[0-9][0-9 ()./-]*")
# one @, no spaces, a dot in the domain: what an invoice reader can write to, not RFC 5322
_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")


class SellerDetails(Frozen):
    """The seller's details as an invoice prints them: part of the settings
    (``SellerSettings`` extends this model), copied onto an invoice when it is issued."""

    registration_number: str = ""
    contact_email: str = ""
    contact_phone: str = ""
    iban: str = ""
    bic: str = ""
    sort_code: str = ""
    bank_account_number: str = ""

    @property
    def bank_lines(self) -> list[str]:
        """The bank details, one account a line, as printed."""
        lines = []
        if self.iban:
            lines.append(
                f"IBAN {iban_groups(self.iban)}" + (f" · BIC {self.bic}" if self.bic else "")
            )
        if self.sort_code:
            lines.append(f"Sort code {self.sort_code} · Account {self.bank_account_number}")
        return lines


class BankFields(Protocol):
    @property
    def iban(self) -> str: ...
    @property
    def bic(self) -> str: ...
    @property
    def sort_code(self) -> str: ...
    @property
    def bank_account_number(self) -> str: ...


def normal_iban(value: str) -> str:
    """An IBAN as entered (spaces, lower case) -> as stored: capitals, no spaces."""
    return re.sub(r"\s", "", value).upper()


def check_iban(value: str) -> str:
    """A well-formed IBAN whose check digits are right (ISO 7064 mod 97-10)."""
    limits.check_text(value, limits.Text("IBAN", 34), field="iban")
    low, high = IBAN_LENGTH
    if not low <= len(value) <= high or not _IBAN.fullmatch(value):
        raise InvalidBankDetails(
            f"IBAN must be a country code, 2 check digits and {low - 4}-{high - 4} letters or"
            f" digits ({low}-{high} characters), got {len(value)} characters",
            field="iban",
        )
    if value[:2] not in COUNTRY_NAMES:
        raise InvalidBankDetails(
            f"IBAN must start with an ISO 3166 country code, not {value[:2]!r}", field="iban"
        )
    rearranged = value[4:] + value[:4]
    digits = "".join(str(int(char, 36)) for char in rearranged)
    if int(digits) % 97 != 1:
        raise InvalidBankDetails(
            "IBAN check digits are wrong: check the IBAN for a typo", field="iban"
        )
    return value


def check_bic(value: str) -> str:
    """A BIC: 4 letters (bank), an ISO country code, 2 letters or digits (location), and
    optionally 3 more (branch): 8 or 11 characters."""
    limits.check_text(value, limits.Text("BIC", 11), field="bic")
    found = _BIC.fullmatch(value)
    if found is None:
        raise InvalidBankDetails(
            "BIC must be 8 or 11 capital letters and digits: bank (4 letters), country (2),"
            " location (2), optionally branch (3)",
            field="bic",
        )
    if found.group(1) not in COUNTRY_NAMES:
        raise InvalidBankDetails(
            f"BIC country {found.group(1)!r} is not an ISO 3166 code", field="bic"
        )
    return value


def normal_sort_code(value: str) -> str:
    """``123456``, ``12 34 56`` or ``12-34-56`` -> ``12-34-56`` (anything else unchanged)."""
    digits = re.sub(r"[ \-]", "", value)
    if re.fullmatch(r"[0-9]{6}", digits):
        return f"{digits[:2]}-{digits[2:4]}-{digits[4:]}"
    return value


def check_sort_code(value: str) -> str:
    limits.check_text(value, limits.Text("sort code", 8), field="sort_code")
    if not _SORT_CODE.fullmatch(value):
        raise InvalidBankDetails("sort code must be 6 digits, like 12-34-56", field="sort_code")
    return value


def check_account_number(value: str) -> str:
    limits.check_text(value, limits.Text("account number", 8), field="bank_account_number")
    if not _ACCOUNT_NUMBER.fullmatch(value):
        raise InvalidBankDetails(
            "bank account number must be 8 digits (a UK account number)",
            field="bank_account_number",
        )
    return value


def check_bank_details(values: BankFields) -> None:
    """Each given part in its format, and the parts that only make sense together given
    together: a BIC with its IBAN, a sort code with its account number."""
    if values.iban:
        check_iban(values.iban)
    if values.bic:
        check_bic(values.bic)
        if not values.iban:
            raise InvalidBankDetails("a BIC needs the IBAN it belongs to", field="iban")
    if values.sort_code:
        check_sort_code(values.sort_code)
    if values.bank_account_number:
        check_account_number(values.bank_account_number)
    if bool(values.sort_code) != bool(values.bank_account_number):
        missing = "bank_account_number" if values.sort_code else "sort_code"
        raise InvalidBankDetails(
            "a UK bank account needs both its sort code and its 8-digit account number",
            field=missing,
        )


def check_registration_number(value: str) -> str:
    return limits.check_text(value, REGISTRATION_NUMBER, field="registration_number")


def check_email(value: str) -> str:
    limits.check_text(value, limits.EMAIL, field="contact_email")
    if value and not _EMAIL.fullmatch(value):
        raise InvalidInput("e-mail must look like name@example.com", field="contact_email")
    return value


def check_phone(value: str) -> str:
    limits.check_text(value, PHONE, field="contact_phone")
    if value and not _PHONE.fullmatch(value):
        raise InvalidInput(
            "phone must be digits, optionally starting with +, with spaces, ( ) . - between",
            field="contact_phone",
        )
    return value


def iban_groups(value: str) -> str:
    """``GB29NWBK60161331926819`` -> ``GB29 NWBK 6016 1331 9268 19`` (how an IBAN is printed)."""
    return " ".join(value[i : i + 4] for i in range(0, len(value), 4))
