"""The seller's account settings ("My Account > Settings"): one aggregate per ledger."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from domain import limits, seller_details
from domain.aggregate import Aggregate, Created, Event, Stamp
from domain.changes import SettingsChanges
from domain.countries import COUNTRY_NAMES
from domain.errors import InvalidInput, UnknownCountry
from domain.money import TaxRounding
from domain.numbering import number_format
from domain.seller_details import SellerDetails
from domain.values import CurrencyCode, Dec, LineGrouping

SETTINGS_ID: UUID = uuid5(NAMESPACE_URL, "tollbook:settings")


class SellerSettings(SellerDetails):
    """Everything about the seller that appears on or shapes an invoice (with the details a
    tax authority asks for, declared in ``SellerDetails``)."""

    company_name: str = "Your Company Ltd"
    address: str = ""
    tax_number: str = ""
    default_currency: CurrencyCode = "GBP"
    default_tax_rate: Dec = Decimal(0)
    default_tax_description: str = "No tax"
    default_payment_terms_days: int = 30
    invoice_number_format: str = "INV-{year}-{seq:06d}"
    credit_note_number_format: str = "CN-{year}-{seq:06d}"
    invoice_line_grouping: LineGrouping = "destination"
    payment_instructions: str = ""
    #: below it (in the invoice's currency) a billing run carries a period's charges forward
    minimum_invoice_amount: Dec = Decimal(0)
    # where the seller is established (ISO 3166-1 alpha-2): EN 16931 e-invoices need it
    # (BT-40); empty until set
    country: str = ""
    # how tax is rounded on invoices issued from now on (domain/money.py, docs/money.md)
    tax_rounding: TaxRounding = "per_line"

    @property
    def seller_details(self) -> SellerDetails:
        """What an invoice copies of them when it is issued."""
        return SellerDetails.model_validate(
            self.model_dump(include=set(SellerDetails.model_fields))
        )


def check_number_format(pattern: str) -> str:
    """A number format holds ``{year}``, one ``{seq}``/``{seq:0Nd}`` and literal text only."""
    number_format(pattern)
    return pattern


class AccountSettings(Aggregate):
    """The seller's settings; every change is an event, so old invoices keep what they saw."""

    values: SellerSettings

    class Initialised(Created):
        """The ledger's settings came into being."""

        values: SellerSettings

        def apply(self, aggregate: Any) -> None:
            aggregate.values = self.values

    class Changed(Event):
        """Some settings changed; ``before`` and ``after`` hold only the changed fields."""

        before: dict[str, Any]
        after: dict[str, Any]

        def apply(self, aggregate: Any) -> None:
            aggregate.values = SellerSettings.model_validate(
                {**aggregate.values.model_dump(mode="json"), **self.after}
            )

    @classmethod
    def initialise(cls, values: SellerSettings, stamp: Stamp) -> AccountSettings:
        return cls._start(cls.Initialised, SETTINGS_ID, stamp, values=values)

    def change(self, changes: SettingsChanges, stamp: Stamp) -> None:
        # the tax rate was parsed as every other surface parses a rate (domain/changes.py)
        merged = SellerSettings.model_validate({**self.values.model_dump(), **changes.given()})
        dumped_new = merged.model_dump(mode="json")
        dumped_old = self.values.model_dump(mode="json")
        changed = [k for k in dumped_new if dumped_new[k] != dumped_old[k]]
        if not changed:
            return
        check_settings(merged, changed)
        self._trigger(
            self.Changed,
            stamp,
            before={k: dumped_old[k] for k in changed},
            after={k: dumped_new[k] for k in changed},
        )


_SETTINGS_TEXT = {
    "company_name": limits.COMPANY_NAME,
    "address": limits.SELLER_ADDRESS,
    "tax_number": limits.TAX_NUMBER,
    "default_tax_description": limits.Text("default tax description", 100),
    "payment_instructions": limits.PAYMENT_INSTRUCTIONS,
}


def check_settings(values: SellerSettings, fields: list[str]) -> None:
    """The changed ``fields`` of ``values`` within the limits (domain/limits.py); a value
    stored before the limits existed does not block changing the others."""
    for name, rule in _SETTINGS_TEXT.items():
        if name in fields:
            limits.check_text(getattr(values, name), rule)
    if "default_tax_rate" in fields:
        limits.check_tax_rate(values.default_tax_rate, what="default tax rate")
    if "default_payment_terms_days" in fields:
        limits.check_days(values.default_payment_terms_days, what="default payment terms")
    if "minimum_invoice_amount" in fields:
        if values.minimum_invoice_amount < 0:
            raise InvalidInput(
                "minimum invoice amount must not be negative", field="minimum_invoice_amount"
            )
        limits.check_money(
            values.minimum_invoice_amount,
            values.default_currency,
            what="minimum invoice amount",
            field="minimum_invoice_amount",
        )
    for name in ("invoice_number_format", "credit_note_number_format"):
        if name in fields:
            check_number_format(getattr(values, name))
    if "country" in fields:
        check_country(values.country)
    for name, check in _SELLER_DETAILS.items():
        if name in fields:
            check(getattr(values, name))
    if fields_of_bank & set(fields):  # the parts of a bank account are checked together
        seller_details.check_bank_details(values)


_SELLER_DETAILS = {
    "registration_number": seller_details.check_registration_number,
    "contact_email": seller_details.check_email,
    "contact_phone": seller_details.check_phone,
}
fields_of_bank = {"iban", "bic", "sort_code", "bank_account_number"}


def check_country(code: str) -> str:
    """The seller's country: an assigned ISO 3166-1 alpha-2 code, or empty (not set)."""
    if code and code not in COUNTRY_NAMES:
        raise UnknownCountry(
            "country must be an ISO 3166-1 alpha-2 code such as GB, DE or JP, got"
            f" {limits.shown(repr(code[:8]))}",
            field="country",
        )
    return code
