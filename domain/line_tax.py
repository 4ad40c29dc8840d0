"""Which tax rate and description a new or edited line carries (docs/money.md, "Tax on a line").

A line's tax description follows its rate: a rate given without a description gets the
default description of that rate, worked out from the description it would otherwise have
had ("VAT 20%" at 0 % reads "VAT 0%", never "VAT 20%"). The customer's tax treatment comes
first: a treatment without VAT gives every line 0 % under its own name, whatever a package
says (a package's rate is for customers who are charged VAT).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from domain.tax_treatment import TaxTreatment

# "20%", "20 %", "7.5%": the rate a description names (the first one)
_PERCENT = re.compile(r"(?<![0-9.])([0-9]+(?:\.[0-9]+)?)(\s?%)")


def rate_text(rate: Decimal) -> str:
    """A rate as a description shows it: ``20``, ``7.5``, ``0`` (never ``2E+1``)."""
    return format(rate.normalize(), "f")


def default_terms(
    treatment: TaxTreatment,
    customer_rate: Decimal,
    customer_description: str,
    package_rate: Decimal | None = None,
    package_description: str | None = None,
) -> tuple[Decimal, str]:
    """The rate and description of a line no one chose them for: 0 % when the treatment
    charges no VAT (under the customer's description, else the treatment's label), else the
    package's rate (with its description, or the customer's) when the package has one, else
    the customer's."""
    if not treatment.charges_tax:
        return Decimal(0), customer_description.strip() or treatment.label
    if package_rate is not None:
        return package_rate, package_description or customer_description
    return customer_rate, customer_description


def description_for(
    rate: Decimal, *, base_rate: Decimal, base_description: str, treatment: TaxTreatment
) -> str:
    """The default description of ``rate`` on a line whose description would otherwise be
    ``base_description`` (the description of ``base_rate``).

    - the same rate: the base description, unchanged;
    - a treatment without VAT: its label ("Reverse charge");
    - a base description naming its rate ("VAT 20%"): the same words with the new rate;
    - otherwise: "Tax N%".
    """
    if rate == base_rate and base_description.strip():
        return base_description
    if not treatment.charges_tax:
        return treatment.label
    named = _PERCENT.search(base_description)
    if named is not None and Decimal(named.group(1)) == base_rate:
        start, end = named.span(1)
        return base_description[:start] + rate_text(rate) + base_description[end:]
    return f"Tax {rate_text(rate)}%"


def follow_rate(
    given: dict[str, object], *, base_rate: Decimal, base_description: str, treatment: TaxTreatment
) -> dict[str, object]:
    """A customer's details given a new ``tax_rate`` without words for it: the description
    follows the rate as a line's does, so a seller default of "No tax" at 0 % never labels
    the tax of a customer at 20 % (nor "VAT 20%" one at 5 %)."""
    rate = given.get("tax_rate")
    if rate is None or str(given.get("tax_description") or "").strip():
        return given
    try:
        number = Decimal(str(rate))
    except InvalidOperation:
        return given  # not a rate: validating the details refuses it, with its field
    if not number.is_finite():
        return given
    described = description_for(
        number,
        base_rate=base_rate,
        base_description=base_description,
        treatment=treatment,
    )
    return {**given, "tax_description": described}
