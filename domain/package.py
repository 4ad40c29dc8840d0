"""Packages: what fills an invoice line (recurring price, setup price, frequency, tax)."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal, Required, TypedDict
from uuid import NAMESPACE_URL, UUID, uuid5

from domain import limits
from domain.aggregate import Aggregate, Created, Event, Stamp
from domain.errors import InvalidInput
from domain.values import CurrencyCode, Dec, Frozen

if TYPE_CHECKING:  # domain/changes.py names this module's Frequency
    from domain.changes import PackageChanges

Frequency = Literal["one-off", "daily", "weekly", "monthly"]
FREQUENCIES: tuple[Frequency, ...] = ("one-off", "daily", "weekly", "monthly")


def package_id_for(name: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"tollbook:package:{name.strip().lower()}")


class PackageTerms(Frozen):
    """A package's commercial terms."""

    name: str
    description: str = ""
    currency: CurrencyCode
    unit_price: Dec
    setup_price: Dec = Decimal(0)
    frequency: Frequency = "monthly"
    default_quantity: Dec = Decimal(1)
    tax_rate: Dec | None = None  # overrides the customer's tax rate when set
    tax_description: str | None = None
    #: a monthly minimum spend on usage per unit assigned (billing runs top usage up to it)
    minimum_spend: Dec = Decimal(0)


class NewPackage(TypedDict, total=False):
    """A package's terms at definition, as keywords: those of ``PackageTerms`` (the currency
    defaults to the seller's)."""

    name: Required[str]
    description: str
    currency: str
    unit_price: Required[Decimal]
    setup_price: Decimal
    frequency: Frequency
    default_quantity: Decimal
    tax_rate: Decimal | None
    tax_description: str | None
    minimum_spend: Decimal


class Package(Aggregate):
    """A sellable package; price changes are events, lines already written keep their price."""

    terms: PackageTerms

    class Defined(Created):
        """A package was defined."""

        terms: PackageTerms

        def apply(self, aggregate: Any) -> None:
            aggregate.terms = self.terms

    class TermsChanged(Event):
        """A package's terms changed; ``before``/``after`` hold the changed fields."""

        before: dict[str, Any]
        after: dict[str, Any]

        def apply(self, aggregate: Any) -> None:
            aggregate.terms = PackageTerms.model_validate(
                {**aggregate.terms.model_dump(mode="json"), **self.after}
            )

    @classmethod
    def define(cls, terms: PackageTerms, stamp: Stamp) -> Package:
        check_terms(terms)
        return cls._start(cls.Defined, package_id_for(terms.name), stamp, terms=terms)

    def change(self, changes: PackageChanges, stamp: Stamp) -> None:
        # a change-set cannot name the name or currency: they never change (domain/changes.py)
        old = self.terms.model_dump(mode="json")
        updated = PackageTerms.model_validate({**self.terms.model_dump(), **changes.given()})
        new = updated.model_dump(mode="json")
        changed = [key for key in new if new[key] != old[key]]
        if changed:
            check_terms(updated, changed)
            self._trigger(
                self.TermsChanged,
                stamp,
                before={key: old[key] for key in changed},
                after={key: new[key] for key in changed},
            )


def check_terms(terms: PackageTerms, fields: list[str] | None = None) -> None:
    """Every term of a new package (or only ``fields``, the changed ones) within the limits."""
    names = set(PackageTerms.model_fields if fields is None else fields)
    if "name" in names:
        if not terms.name.strip():
            raise InvalidInput("package name must not be empty", field="name")
        limits.check_text(terms.name, limits.PACKAGE_NAME)
    if "description" in names:
        limits.check_text(terms.description, limits.PACKAGE_DESCRIPTION)
    if "unit_price" in names:
        limits.check_unit_price(
            terms.unit_price, terms.currency, what="package price", field="unit_price"
        )
    if "setup_price" in names:
        limits.check_unit_price(
            terms.setup_price, terms.currency, what="setup price", field="setup_price"
        )
    if "default_quantity" in names:
        limits.check_quantity(
            terms.default_quantity, what="default quantity", field="default_quantity"
        )
    if "tax_rate" in names and terms.tax_rate is not None:
        limits.check_tax_rate(terms.tax_rate)
    if "tax_description" in names and terms.tax_description is not None:
        limits.check_text(terms.tax_description, limits.TAX_DESCRIPTION)
    if "minimum_spend" in names:
        if terms.minimum_spend < 0:
            raise InvalidInput("minimum spend must not be negative", field="minimum_spend")
        limits.check_money(
            terms.minimum_spend, terms.currency, what="minimum spend", field="minimum_spend"
        )
