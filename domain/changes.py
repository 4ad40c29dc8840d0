"""Typed change-sets: what a command that edits an aggregate may change, field by field.

A field left out is unchanged; a field given (even as ``None``, where the aggregate allows
``None``: no address, no schedule, no package tax rate) is the new value. "Left out" is
pydantic's own record of the fields a model was built with (``model_fields_set``), so
``None`` stays a value one can set. Each field has the type of the aggregate's own field, so a
bad value is refused with the same words whether it comes from the CLI, HTTP or the portal;
the limits are checked by the aggregate, on the merged result (domain/limits.py).

The events keep their stored shape (``before``/``after`` of the changed fields): only the
commands are typed.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from pydantic import BeforeValidator, model_validator

from domain.address import PostalAddress
from domain.dunning import ReminderOffsets
from domain.errors import InvalidInput
from domain.invoice_line import LineKind, LineSource
from domain.money import TAX_ROUNDINGS, TaxRounding, parse_decimal
from domain.package import Frequency
from domain.pricing import TieredPrice
from domain.schedule import InvoiceSchedule
from domain.seller_details import normal_iban, normal_sort_code
from domain.tax_treatment import Treatment
from domain.values import CurrencyCode, Dec, Frozen, LineGrouping, Threshold, tax_rate


class Changes(Frozen):
    """A change-set: only the fields it was built with are changes."""

    def given(self) -> dict[str, Any]:
        """The fields to change, by name (nested values as plain data, to merge and
        re-validate with the aggregate's own model)."""
        return self.model_dump(exclude_unset=True)

    def __bool__(self) -> bool:
        return bool(self.model_fields_set)


class CustomerChanges(Changes):
    """A customer's details to change (its account number and currency never change)."""

    name: str | None = None
    billing_address: str | None = None
    address: PostalAddress | None = None
    tax_number: str | None = None
    email: str | None = None
    tax_rate: Dec | None = None
    tax_description: str | None = None
    payment_terms_days: int | None = None
    invoice_line_grouping: LineGrouping | None = None
    external_accounting_id: str | None = None
    time_zone: str | None = None
    invoice_schedule: InvoiceSchedule | None = None
    minimum_spend: Dec | None = None
    minimum_invoice_amount: Dec | None = None
    usage_prices: tuple[TieredPrice, ...] | None = None
    auto_apply_credit: bool = False
    low_balance_threshold: Threshold | None = None
    tax_treatment: Treatment | None = None
    reminder_offsets: ReminderOffsets | None = None

    @model_validator(mode="before")
    @classmethod
    def _changeable(cls, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = set(data) - set(cls.model_fields)
            if "currency" in unknown:
                raise InvalidInput(
                    "a customer's currency cannot change after registration", field="currency"
                )
            if unknown:
                raise InvalidInput(f"cannot change {', '.join(sorted(unknown))}")
        return data


def _default_tax_rate(value: object) -> Decimal:
    # parsed as every other surface parses a rate: no floats, exponents or NaN
    return tax_rate(value, what="default tax rate")


def _normal_iban(value: object) -> object:
    return normal_iban(value) if isinstance(value, str) else value


def _upper(value: object) -> object:
    return value.strip().upper() if isinstance(value, str) else value


def _normal_sort_code(value: object) -> object:
    return normal_sort_code(value) if isinstance(value, str) else value


def _plain_amount(value: object) -> Decimal:
    # a plain decimal, as every surface parses money: no floats, exponents or NaN
    return parse_decimal(value, what="minimum invoice amount", field="minimum_invoice_amount")


def _country_code(value: object) -> object:
    # typed however a person types it ("gb ", "GB"): stored upper-case, checked by the
    # settings aggregate against ISO 3166-1
    return value.strip().upper() if isinstance(value, str) else value


def _tax_rounding(value: object) -> TaxRounding | None:
    for mode in TAX_ROUNDINGS:
        if value == mode:
            return mode
    if value is None:
        return None
    raise InvalidInput(
        f"tax rounding must be one of {', '.join(TAX_ROUNDINGS)}", field="tax_rounding"
    )


class SettingsChanges(Changes):
    """The seller's settings to change (the names of ``SellerSettings``)."""

    company_name: str | None = None
    address: str | None = None
    tax_number: str | None = None
    default_currency: CurrencyCode | None = None
    default_tax_rate: Annotated[Dec | None, BeforeValidator(_default_tax_rate)] = None
    default_tax_description: str | None = None
    default_payment_terms_days: int | None = None
    invoice_number_format: str | None = None
    credit_note_number_format: str | None = None
    invoice_line_grouping: LineGrouping | None = None
    payment_instructions: str | None = None
    registration_number: str | None = None
    contact_email: str | None = None
    contact_phone: str | None = None
    # kept as banks print them: an IBAN in capitals without spaces, a sort code 12-34-56
    iban: Annotated[str | None, BeforeValidator(_normal_iban)] = None
    bic: Annotated[str | None, BeforeValidator(_upper)] = None
    sort_code: Annotated[str | None, BeforeValidator(_normal_sort_code)] = None
    bank_account_number: str | None = None
    minimum_invoice_amount: Annotated[Dec | None, BeforeValidator(_plain_amount)] = None
    country: Annotated[str | None, BeforeValidator(_country_code)] = None
    tax_rounding: Annotated[TaxRounding | None, BeforeValidator(_tax_rounding)] = None


class PackageChanges(Changes):
    """A package's terms to change (its name and currency never change)."""

    description: str | None = None
    unit_price: Dec | None = None
    setup_price: Dec | None = None
    frequency: Frequency | None = None
    default_quantity: Dec | None = None
    tax_rate: Dec | None = None
    tax_description: str | None = None
    minimum_spend: Dec | None = None

    @model_validator(mode="before")
    @classmethod
    def _changeable(cls, data: Any) -> Any:
        if isinstance(data, dict) and ("name" in data or "currency" in data):
            raise InvalidInput("a package's name and currency cannot change")
        return data


class LineChanges(Changes):
    """A draft invoice line's fields to change (its id never changes)."""

    description: str | None = None
    quantity: Dec | None = None
    unit_price: Dec | None = None
    tax_rate: Dec | None = None
    tax_description: str | None = None
    period_start: date | None = None
    period_end: date | None = None
    package_id: UUID | None = None
    kind: LineKind | None = None
    unit: str | None = None
    source: LineSource | None = None


class DatesChanges(Changes):
    """A draft invoice's dates to change; the period's ends may be set to ``None``."""

    invoice_date: date | None = None
    due_date: date | None = None
    period_start: date | None = None
    period_end: date | None = None
