"""Which remote account code and tax type each ledger line lands on, per connection.

The mapping is configuration, not code: a chart of accounts differs per organisation. A line is
booked to ``accounts[line kind]`` or else ``sales_account``; its tax rate (percent, as the
ledger holds it) must appear in ``tax_types`` when the system needs a named tax type (Xero).
A payment lands in ``bank_accounts[its currency]`` or else ``bank_account``: a bank account
holds one currency, so a carrier paid in euros and pounds names one account for each.

Tax types follow the customer's tax treatment AND the line's rate (docs/exports.md, "Tax
types"): a customer charged VAT (``standard``) books each line by its rate (``tax_types``); a
customer whose treatment charges none (zero-rated, exempt, reverse charge, outside the scope)
books by the treatment (``treatment_tax_types``: Xero's ZERORATEDOUTPUT, EXEMPTOUTPUT,
ECZROUTPUTSERVICES, NONE by default), whatever the 0 % rate says.

Clear Books wants one VAT treatment code per invoice: ``vat_treatments`` maps a tax
description (what the invoice's lines print, as since #15) or a treatment value
(``reverse_charge``) to one of its codes. A description listed there wins (existing
configurations keep their meaning); else the treatment's entry; else the built-in default of
the treatment (``reverse_charge`` SEU, ``outside_scope`` OUT); else ``UK``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from adapters.accounting.errors import MappingMissing
from domain.limits import TAX_DESCRIPTION
from domain.tax_treatment import TREATMENTS, TaxTreatment

MAX_ENTRIES = 200
MAX_CODE = 64
CURRENCY = re.compile(r"[A-Z]{3}")
# Clear Books' invoice ``vatTreatment`` codes, as its SOAP documentation lists them.
CLEAR_BOOKS_VAT_TREATMENTS = frozenset(
    {"OUT", "UK", "GE", "SE", "GNIEU", "DSEU", "GEU", "SEU", "GOEU", "SOEU"}
)
DEFAULT_VAT_TREATMENT = "UK"
#: Clear Books' code for a treatment no configuration names (the others book as UK at 0 %).
CLEAR_BOOKS_BY_TREATMENT = {
    TaxTreatment.REVERSE_CHARGE: "SEU",
    TaxTreatment.OUTSIDE_SCOPE: "OUT",
}


def _description_key(description: str) -> str:
    """Tax descriptions match as a person reads them: case and surrounding spaces aside."""
    return " ".join(description.split()).casefold()


def rate_key(rate: Decimal) -> str:
    """``20``, ``20.0`` and ``20.00`` are the same rate: keys are normalised plain numbers."""
    normalised = rate.normalize()
    return format(normalised, "f")


class AccountMapping(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sales_account: str = "200"
    accounts: dict[str, str] = Field(default_factory=dict)  # line kind -> account code
    tax_types: dict[str, str] = Field(default_factory=dict)  # tax rate percent -> tax type
    # tax treatment without VAT -> tax type (Xero), whatever the line's 0 % rate
    treatment_tax_types: dict[str, str] = Field(default_factory=dict)
    bank_account: str = ""  # where payments land (Xero account code, Clear Books bank id)
    # currency code -> bank account for payments in that currency (else bank_account)
    bank_accounts: dict[str, str] = Field(default_factory=dict, max_length=MAX_ENTRIES)
    # tax description or tax treatment -> Clear Books VAT treatment code (module docstring)
    vat_treatments: dict[str, str] = Field(default_factory=dict, max_length=MAX_ENTRIES)

    @field_validator("bank_accounts")
    @classmethod
    def _currencies(cls, value: dict[str, str]) -> dict[str, str]:
        for currency, account in value.items():
            if not CURRENCY.fullmatch(currency):
                raise ValueError(
                    f"bank_accounts keys are ISO 4217 currency codes (e.g. EUR), not {currency!r}"
                )
            if not account.strip() or len(account) > MAX_CODE:
                raise ValueError(
                    f"bank_accounts.{currency}: an account code of 1-{MAX_CODE} characters"
                )
        return value

    @field_validator("treatment_tax_types")
    @classmethod
    def _treatment_keys(cls, value: dict[str, str]) -> dict[str, str]:
        for treatment, tax_type in value.items():
            if treatment not in TREATMENTS or treatment == TaxTreatment.STANDARD:
                raise ValueError(
                    "treatment_tax_types keys are tax treatments without VAT"
                    f" ({', '.join(t for t in TREATMENTS if t != TaxTreatment.STANDARD)}),"
                    f" not {treatment!r}: a standard customer's lines book by tax_types"
                )
            if not tax_type.strip() or len(tax_type) > MAX_CODE:
                raise ValueError(
                    f"treatment_tax_types.{treatment}: a tax type of 1-{MAX_CODE} characters"
                )
        return value

    @field_validator("vat_treatments")
    @classmethod
    def _treatments(cls, value: dict[str, str]) -> dict[str, str]:
        normalised: dict[str, str] = {}
        for description, code in value.items():
            key = _description_key(description)
            if not key or len(description) > TAX_DESCRIPTION.max_length:
                raise ValueError(
                    f"vat_treatments keys are tax descriptions of 1-{TAX_DESCRIPTION.max_length}"
                    " characters"
                )
            if code not in CLEAR_BOOKS_VAT_TREATMENTS:
                known = ", ".join(sorted(CLEAR_BOOKS_VAT_TREATMENTS))
                raise ValueError(
                    f"vat_treatments[{description!r}]: {code!r} is not a Clear Books VAT treatment"
                    f" (one of {known})"
                )
            if key in normalised and normalised[key] != code:
                raise ValueError(f"vat_treatments maps {description!r} twice, to different codes")
            normalised[key] = code
        return value

    def bank_account_for(self, currency: str) -> str:
        account = self.bank_accounts.get(currency) or self.bank_account
        if not account:
            raise MappingMissing(
                f"no bank account for payments in {currency}: set mapping.bank_account or"
                f" mapping.bank_accounts.{currency}"
            )
        return account

    def vat_treatment_for(
        self,
        tax_descriptions: Iterable[str],
        treatment: TaxTreatment = TaxTreatment.STANDARD,
    ) -> str:
        """The one Clear Books VAT treatment of a document for a customer of ``treatment``
        whose lines carry these descriptions (the order of the module's docstring)."""
        by_treatment = self.vat_treatments.get(treatment.value) or CLEAR_BOOKS_BY_TREATMENT.get(
            treatment, DEFAULT_VAT_TREATMENT
        )
        mapped = {_description_key(k): v for k, v in self.vat_treatments.items()}
        treatments = {mapped.get(_description_key(d), by_treatment) for d in tax_descriptions}
        if len(treatments) > 1:
            raise MappingMissing(
                "the document's lines map to different VAT treatments"
                f" ({', '.join(sorted(treatments))}); Clear Books takes one per invoice"
            )
        return treatments.pop() if treatments else by_treatment

    def account_for(self, kind: str) -> str:
        return self.accounts.get(kind) or self.sales_account

    def tax_type_for(self, rate: Decimal, treatment: TaxTreatment = TaxTreatment.STANDARD) -> str:
        """The tax type of a line at ``rate`` of a customer of ``treatment``: by the treatment
        when it charges no VAT, else by the rate."""
        if not treatment.charges_tax:
            found = self.treatment_tax_types.get(treatment.value)
            if found is None:
                raise MappingMissing(
                    f"no tax type is mapped for {treatment.value} customers: add it under"
                    f" mapping.treatment_tax_types in the connection's configuration"
                )
            return found
        wanted = rate_key(rate)
        for key, tax_type in self.tax_types.items():
            if rate_key(Decimal(key)) == wanted:
                return tax_type
        raise MappingMissing(
            f"no tax type is mapped for a {wanted}% tax rate: add it under"
            f" mapping.tax_types in the connection's configuration"
        )


#: Starting points per system; a connection's own ``mapping`` entries override them.
DEFAULTS: dict[str, dict[str, object]] = {
    "xero": {
        "sales_account": "200",
        "tax_types": {"20": "OUTPUT2", "5": "RROUTPUT", "0": "ZERORATEDOUTPUT"},
        # Xero's UK tax types: zero-rated income, exempt income, zero-rated EC services (the
        # customer accounts for the VAT), no VAT (outside the scope)
        "treatment_tax_types": {
            "zero_rated": "ZERORATEDOUTPUT",
            "exempt": "EXEMPTOUTPUT",
            "reverse_charge": "ECZROUTPUTSERVICES",
            "outside_scope": "NONE",
        },
        "bank_account": "090",
    },
    "clearbooks": {"sales_account": "1001001", "bank_account": "7502001"},
    "freshbooks": {"sales_account": "Sales"},
}
