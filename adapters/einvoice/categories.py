"""VAT categories of EN 16931 (UNCL5305 codes) and how a document's tax treatment picks them.

EN 16931 states every line's VAT category (BT-151) and groups the VAT breakdown (BG-23) by
category and rate. A category other than standard needs the reason no VAT is charged
(BT-120 text, BT-121 VATEX code) — except zero rated, which must carry neither (BR-Z-10).

The treatment of a document decides the category of its lines: ``standard`` gives S for a
non-zero rate and Z (zero rated) for 0 %; the other treatments give one category whatever the
rate (and carry 0 %: the domain refuses another rate for them).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from domain.invoice import BillingSnapshot


@dataclass(frozen=True, slots=True)
class Category:
    code: str  # UNCL5305
    reason: str = ""  # BT-120
    reason_code: str = ""  # BT-121 (VATEX, CEF list)
    charges_tax: bool = False


STANDARD = Category("S", charges_tax=True)
ZERO_RATED = Category("Z")
EXEMPT = Category("E", "Exempt from VAT")
REVERSE_CHARGE = Category("AE", "Reverse charge", "VATEX-EU-AE")
OUTSIDE_SCOPE = Category("O", "Not subject to VAT", "VATEX-EU-O")

#: treatment (domain/tax_treatment.py's TaxTreatment values) -> the category of every line
_BY_TREATMENT = {
    "zero_rated": ZERO_RATED,
    "exempt": EXEMPT,
    "reverse_charge": REVERSE_CHARGE,
    "outside_scope": OUTSIDE_SCOPE,
}
TREATMENTS = ("standard", *_BY_TREATMENT)


def category_for(treatment: str, rate: Decimal) -> Category:
    """The category of a line at ``rate`` on a document of ``treatment``."""
    if treatment == "standard":
        return STANDARD if rate else ZERO_RATED
    return _BY_TREATMENT[treatment]


def treatment_of(billing: BillingSnapshot | None) -> str:
    """The tax treatment an issued document was made under: the customer's, as the invoice's
    billing snapshot recorded it at issue (``standard`` for invoices issued before treatments
    existed, and for a draft, which has no e-invoice)."""
    if billing is None:
        return "standard"
    return str(billing.tax_treatment.value)
