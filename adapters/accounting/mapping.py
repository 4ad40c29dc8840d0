"""Which remote account code and tax type each ledger line lands on, per connection.

The mapping is configuration, not code: a chart of accounts differs per organisation. A line is
booked to ``accounts[line kind]`` or else ``sales_account``; its tax rate (percent, as the
ledger holds it) must appear in ``tax_types`` when the system needs a named tax type (Xero).
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from adapters.accounting.errors import MappingMissing


def rate_key(rate: Decimal) -> str:
    """``20``, ``20.0`` and ``20.00`` are the same rate: keys are normalised plain numbers."""
    normalised = rate.normalize()
    return format(normalised, "f")


class AccountMapping(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sales_account: str = "200"
    accounts: dict[str, str] = Field(default_factory=dict)  # line kind -> account code
    tax_types: dict[str, str] = Field(default_factory=dict)  # tax rate percent -> tax type
    bank_account: str = ""  # where payments land (Xero account code, Clear Books bank id)

    def account_for(self, kind: str) -> str:
        return self.accounts.get(kind) or self.sales_account

    def tax_type_for(self, rate: Decimal) -> str:
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
        "bank_account": "090",
    },
    "clearbooks": {"sales_account": "1001001", "bank_account": "7502001"},
    "freshbooks": {"sales_account": "Sales"},
}
