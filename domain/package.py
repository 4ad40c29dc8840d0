"""Packages: what fills an invoice line (recurring price, setup price, frequency, tax)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal
from uuid import NAMESPACE_URL, UUID, uuid5

from domain.aggregate import Aggregate, Created, Event, Stamp
from domain.errors import InvalidInput
from domain.values import CurrencyCode, Dec, Frozen

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

    def change(self, changes: dict[str, Any], stamp: Stamp) -> None:
        if "name" in changes or "currency" in changes:
            raise InvalidInput("a package's name and currency cannot change")
        old = self.terms.model_dump(mode="json")
        updated = PackageTerms.model_validate({**self.terms.model_dump(), **changes})
        check_terms(updated)
        new = updated.model_dump(mode="json")
        changed = [key for key in new if new[key] != old[key]]
        if changed:
            self._trigger(
                self.TermsChanged,
                stamp,
                before={key: old[key] for key in changed},
                after={key: new[key] for key in changed},
            )


def check_terms(terms: PackageTerms) -> None:
    if not terms.name.strip():
        raise InvalidInput("package name must not be empty")
    if terms.unit_price < 0 or terms.setup_price < 0:
        raise InvalidInput("package prices must not be negative")
    if terms.default_quantity <= 0:
        raise InvalidInput("default quantity must be greater than zero")
    if terms.tax_rate is not None and not (0 <= terms.tax_rate <= 100):
        raise InvalidInput("tax rate must be between 0 and 100 percent")
