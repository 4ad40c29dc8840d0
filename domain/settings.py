"""The seller's account settings ("My Account > Settings"): one aggregate per ledger."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from domain.aggregate import Aggregate, Created, Event, Stamp
from domain.errors import InvalidInput
from domain.values import CurrencyCode, Dec, Frozen, LineGrouping

SETTINGS_ID: UUID = uuid5(NAMESPACE_URL, "tollbook:settings")


class SellerSettings(Frozen):
    """Everything about the seller that appears on or shapes an invoice."""

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


def check_number_format(pattern: str) -> str:
    """A number format must contain {seq} and only the {year} and {seq} fields."""
    if "{seq" not in pattern:
        raise InvalidInput(f"number format {pattern!r} must contain {{seq}} (e.g. {{seq:06d}})")
    try:
        pattern.format(year=2026, seq=1)
    except (KeyError, IndexError, ValueError) as exc:
        raise InvalidInput(f"number format {pattern!r} is invalid: {exc}") from None
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

    def change(self, changes: dict[str, Any], stamp: Stamp) -> None:
        merged = SellerSettings.model_validate({**self.values.model_dump(), **changes})
        check_number_format(merged.invoice_number_format)
        check_number_format(merged.credit_note_number_format)
        dumped_new = merged.model_dump(mode="json")
        dumped_old = self.values.model_dump(mode="json")
        changed = [k for k in dumped_new if dumped_new[k] != dumped_old[k]]
        if not changed:
            return
        self._trigger(
            self.Changed,
            stamp,
            before={k: dumped_old[k] for k in changed},
            after={k: dumped_new[k] for k in changed},
        )
