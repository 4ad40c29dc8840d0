"""The CII XML (Factur-X / ZUGFeRD, level EN 16931) of an e-invoice, made with the
``factur-x`` library's generator from a dict keyed by the EN 16931 business terms (BT-n).

Amounts go in as decimal strings (the library formats floats; we never hand it one), so the
XML carries exactly the amounts the PDF prints. The generator checks the result against the
official XSD it bundles; a failure there is a bug of ours, not a user's input.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from facturx.generate_xml import generate_cii_xml

from adapters.einvoice.model import Breakdown, EInvoice, Line, Party
from domain.money import round_to_currency

LEVEL = "en16931"


def cii_xml(einvoice: EInvoice) -> bytes:
    """The UTF-8 CII XML of ``einvoice``; the same e-invoice always gives the same bytes."""
    xml: bytes = generate_cii_xml(
        _data(einvoice), level=LEVEL, check_xsd=True, check_schematron=False
    )
    return xml


def _amount(value: Decimal, currency: str) -> str:
    return format(round_to_currency(value, currency), "f")


def _number(value: Decimal) -> str:
    """A quantity, price or rate as written: no exponent, no trailing zeros ("20", "0.0123")."""
    text = format(value.normalize(), "f")
    return text if text != "-0" else "0"


def _data(e: EInvoice) -> dict[str, Any]:
    c = e.content
    cur = c.currency
    data: dict[str, Any] = {
        "BT-1": e.number,
        "BT-2": e.issue_date,
        "BT-3": e.type_code,
        "BT-5": cur,
        "BG-4": _party(c.seller),
        "BG-7": _party(c.buyer),
        "BT-72": e.delivery_date,
        "BG-23": [_tax(entry, cur) for entry in c.breakdown],
        "BG-25": [_line(line, cur) for line in c.lines],
        "BT-106": _amount(c.net, cur),
        "BT-109": _amount(c.net, cur),
        "BT-110": _amount(c.tax, cur),
        "BT-112": _amount(c.total, cur),
        "BT-115": _amount(e.due, cur),
    }
    if e.prepaid:
        data["BT-113"] = _amount(e.prepaid, cur)
    if e.due_date:
        data["BT-9"] = e.due_date
    if e.payment_terms:
        data["BT-20"] = e.payment_terms
    if e.period_start:
        data["BT-73"] = e.period_start
    if e.period_end:
        data["BT-74"] = e.period_end
    if e.preceding:
        data["BG-3"] = [{"BT-25": e.preceding[0], "BT-26": e.preceding[1]}]
    if e.notes:
        data["BG-1"] = [{"BT-22": note} for note in e.notes]
    return data


def _party(party: Party) -> dict[str, Any]:
    result: dict[str, Any] = {"name": party.name, "country_code": party.country}
    for key, value in (
        ("city", party.city),
        ("postcode", party.postal_code),
        ("country_subdivision", party.region),
        ("vat_identifier", party.vat_id),
    ):
        if value:
            result[key] = value
    # three address lines in CII: a fourth and later run on in the third
    lines = list(party.lines)
    for key, value in zip(("addr_l1", "addr_l2"), lines[:2], strict=False):
        result[key] = value
    if len(lines) > 2:
        result["addr_l3"] = ", ".join(lines[2:])
    if party.identifier:
        result["identifiers"] = {None: party.identifier}
    if party.legal_id:
        result["legal_identifier"] = party.legal_id
    return result


def _tax(entry: Breakdown, currency: str) -> dict[str, Any]:
    result: dict[str, Any] = {
        "BT-116": _amount(entry.basis, currency),
        "BT-117": _amount(entry.tax, currency),
        "BT-118": entry.category.code,
    }
    if entry.category.code != "O":  # BR-O-09: no rate outside the scope of VAT
        result["BT-119"] = _number(entry.rate)
    if entry.category.reason:
        result["BT-120"] = entry.category.reason
    if entry.category.reason_code:
        result["BT-121"] = entry.category.reason_code
    return result


def _line(line: Line, currency: str) -> dict[str, Any]:
    result: dict[str, Any] = {
        "BT-126": line.line_id,
        "BT-129": _number(line.quantity),
        "BT-130": line.unit_code,
        "BT-131": _amount(line.net, currency),
        "BT-146": _number(line.price),
        "BT-151": line.category.code,
        "BT-153": line.name,
    }
    if line.category.code != "O":  # BR-O-05
        result["BT-152"] = _number(line.rate)
    if line.period_start:
        result["BT-134"] = line.period_start
    if line.period_end:
        result["BT-135"] = line.period_end
    return result
