"""How a customer's supplies are taxed, and the words the law wants on their invoices.

A customer carries one ``TaxTreatment`` (``standard`` unless set). It decides three things:

- the legal wording printed on the invoice and credit note (``legal_wording``);
- which rates its lines may carry (``check_rate``): every treatment but ``standard`` means
  no VAT is charged by the seller, so its lines carry 0 % and a non-zero rate is refused
  (refused rather than silently set to 0: an invoice that charges 0 % where the user typed
  20 % would be a silent under-charge);
- the tax type each accounting system books (adapters/accounting/mapping.py).

The wording (docs/pdf.md lists it) follows the EU VAT Directive 2006/112/EC, Article 226,
and HMRC's VAT guide (VAT Notice 700, section 16.3): an invoice must state the reason no VAT
is charged.

- ``reverse_charge``: Article 226(11a) requires the mention "Reverse charge" where the
  customer is liable for the VAT (Article 196: B2B services to a customer in another member
  state); HMRC asks for "customer to account for VAT to HMRC" on domestic reverse-charge
  supplies. One wording serves both.
- ``exempt``: Article 226(11) requires a reference to the provision that exempts the supply
  (Articles 132-136 of the Directive; UK VAT Act 1994, Schedule 9).
- ``zero_rated``: a taxable supply at 0 % (UK VAT Act 1994, Schedule 8; exports of goods,
  Article 146 of the Directive): still a VAT supply, so the invoice says the rate.
- ``outside_scope``: no VAT because the place of supply is outside the seller's VAT area
  (Article 44: B2B services are supplied where the customer belongs) or the supply is not a
  business supply at all.
- ``standard``: VAT at the line's rate; no extra wording is required.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BeforeValidator

from domain.errors import TaxRateNotAllowed, UnknownTaxTreatment


class TaxTreatment(StrEnum):
    """The VAT treatment of a customer's supplies (stored as its value)."""

    STANDARD = "standard"
    ZERO_RATED = "zero_rated"
    EXEMPT = "exempt"
    REVERSE_CHARGE = "reverse_charge"
    OUTSIDE_SCOPE = "outside_scope"

    @property
    def label(self) -> str:
        """A short name for lists, forms and a line's default tax description."""
        return _LABELS[self]

    @property
    def legal_wording(self) -> str:
        """What the invoice must say about this treatment ("" for ``standard``)."""
        return _WORDING[self]

    @property
    def charges_tax(self) -> bool:
        """Whether lines of this treatment may carry a non-zero rate."""
        return self is TaxTreatment.STANDARD


_LABELS = {
    TaxTreatment.STANDARD: "Standard rated",
    TaxTreatment.ZERO_RATED: "Zero rated",
    TaxTreatment.EXEMPT: "Exempt",
    TaxTreatment.REVERSE_CHARGE: "Reverse charge",
    TaxTreatment.OUTSIDE_SCOPE: "Outside the scope of VAT",
}

_WORDING = {
    TaxTreatment.STANDARD: "",
    TaxTreatment.ZERO_RATED: "Zero-rated supply: VAT charged at 0%.",
    TaxTreatment.EXEMPT: (
        "Exempt supply: no VAT charged (Articles 132-136 Council Directive 2006/112/EC;"
        " UK: VAT Act 1994, Schedule 9)."
    ),
    TaxTreatment.REVERSE_CHARGE: (
        "Reverse charge: customer to account for VAT to HMRC / Article 196 Council Directive"
        " 2006/112/EC."
    ),
    TaxTreatment.OUTSIDE_SCOPE: (
        "Outside the scope of VAT: the place of supply is outside the seller's VAT area"
        " (Article 44 Council Directive 2006/112/EC)."
    ),
}

TREATMENTS: tuple[TaxTreatment, ...] = tuple(TaxTreatment)


def tax_treatment(value: object, *, field: str = "tax_treatment") -> TaxTreatment:
    """Parse a treatment's value, or refuse it naming the allowed values."""
    for option in TREATMENTS:
        if value == option.value:
            return option
    raise UnknownTaxTreatment(f"tax treatment must be one of {', '.join(TREATMENTS)}", field=field)


#: A treatment field of a model: a bad value is refused with ``unknown_tax_treatment``.
Treatment = Annotated[TaxTreatment, BeforeValidator(lambda value: tax_treatment(value))]


def customer_defaults(treatment: TaxTreatment) -> dict[str, Any]:
    """The rate and description a customer takes with ``treatment`` unless they are given:
    a treatment that charges no VAT means 0 % under its own name; ``standard`` sets none (the
    seller's default rate applies at registration, the current rate on a change)."""
    if treatment.charges_tax:
        return {}
    return {"tax_rate": Decimal(0), "tax_description": treatment.label}


def check_rate(treatment: TaxTreatment, rate: Decimal, *, field: str = "tax_rate") -> Decimal:
    """A rate a line (or the customer's default) may carry under ``treatment``."""
    if rate != 0 and not treatment.charges_tax:
        raise TaxRateNotAllowed(
            f"the customer's tax treatment is {treatment.value} ({treatment.label}): its lines"
            f" carry 0% tax, got {rate}%; set the rate to 0 or change the customer's tax"
            " treatment",
            field=field,
        )
    return rate
