"""Clear Books' SOAP types as its own WSDL publishes them, and the envelopes that carry them.

Clear Books publishes its API as an RPC-style WSDL (``https://secure.clearbooks.co.uk/api/
accounting/wsdl/``, target namespace ``…/api/accounting/soap/``, SOAPAction ``<ns>#<method>``)
and an official PHP client (``clearbooks/clearbooks-soap-php``) whose classes mirror its complex
types. The WSDL cannot be fetched at test time, so this module is our own description of those
types, transcribed from the official client's classes and the method pages of its API
documentation ("required" / "optional" columns). Their examples show how a field travels: a
member the client gives a default value (an optional one) is an XML **attribute**
(``<entity country="GB" external_id="1234">``, ``<BankAccountListItem last_date="…">``), a
member without a default is a child **element** (``<company_name>``, ``<unitPrice>``); arrays
are a wrapper element with one element per member, named by the member's type
(``<return><ns1:Currency>…``). The client builds every request from these types and the test
fake validates every request against the same types, so neither can drift from them unnoticed.

Replies are parsed with defusedxml and **no DTD at all** is accepted: SOAP 1.1 forbids a
document type declaration in a message, so a reply carrying one (billion laughs, an external
entity) is refused before anything in it is expanded or fetched.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

NS = "https://secure.clearbooks.co.uk/api/accounting/soap/"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
XSD = "http://www.w3.org/2001/XMLSchema"

Scalar = Literal["string", "int", "float", "date", "bool"]


@dataclass(frozen=True)
class Field:
    name: str
    type: str  # a Scalar or the name of a complex type in TYPES
    attribute: bool = False  # optional members travel as attributes, the others as elements
    required: bool = False  # "required" on Clear Books' method page
    many: bool = False  # an array: one child element per member


def _el(name: str, type_: str = "string", *, required: bool = False, many: bool = False) -> Field:
    return Field(name, type_, False, required, many)


def _at(name: str, type_: str = "string") -> Field:
    return Field(name, type_, True, False)


TYPES: dict[str, tuple[Field, ...]] = {
    "EntityExtra": (
        _at("default_account_code", "int"),
        _at("default_vat_rate"),
        _at("default_credit_terms", "int"),
    ),
    "Entity": (
        _el("company_name"),
        _el("contact_name"),
        _el("address1"),
        _el("town"),
        _el("county"),
        _el("postcode"),
        _el("email"),
        _el("phone1"),
        _el("supplier", "EntityExtra"),
        _el("customer", "EntityExtra"),
        _at("id", "int"),
        _at("country"),
        _at("building"),
        _at("address2"),
        _at("phone2"),
        _at("fax"),
        _at("website"),
        _at("external_id"),
        _at("vat_number"),
        _at("company_number"),
    ),
    "Item": (
        _el("description", required=True),
        _el("unitPrice", "float", required=True),
        _el("type", "int", required=True),  # the account code of the revenue stream
        _at("quantity", "float"),
        _at("vat", "float"),  # the line's VAT in pounds, with vatRate "Manual"
        _at("vatRate"),  # a fraction ("0.2"), or "Manual"
        _at("project", "int"),
    ),
    "Invoice": (
        _el("items", "Item", required=True, many=True),
        _el("description"),
        _el("entityId", "int", required=True),
        _el("dateCreated", "date", required=True),
        _el("type", required=True),  # sales | purchases | cn-sales | cn-purchases
        _at("invoice_id", "int"),
        _at("invoice_prefix"),
        _at("invoiceNumber", "int"),
        _at("reference"),
        _at("dateDue", "date"),
        _at("dateAccrual", "date"),
        _at("creditTerms", "int"),
        _at("bankPaymentId", "int"),
        _at("project", "int"),
        _at("external_id"),
        _at("status"),
        _at("statementPage"),
        _at("pdfUrl"),
        _at("themeId", "int"),
        _at("vatTreatment"),
        _at("multicurrency", "int"),  # a currency id from listCurrencies
        _at("fxrate", "float"),
        _at("gross", "float"),
        _at("net", "float"),
        _at("vat", "float"),
        _at("paid", "float"),
        _at("balance", "float"),
        _at("foreignCurrencyBalance", "float"),
    ),
    "InvoiceReturn": (
        _el("due", "float"),
        _el("invoice_id", "int"),
        _el("invoice_prefix"),
        _el("invoice_number"),
    ),
    "InvoiceQuery": (
        _el("id", "int", many=True),
        _el("entityId", "int", many=True),
        _el("ledger"),
        _at("status"),
        _at("offset", "int"),
    ),
    "InvoiceRef": (_el("type", required=True), _el("id", "int", required=True)),
    "PaymentInvoice": (_el("id", "int", required=True), _at("amount", "float")),
    "Payment": (
        _el("description", required=True),
        _el("invoices", "PaymentInvoice", many=True),
        _el("type", required=True),
        _el("project", "int"),
        _el("accountingDate", "date"),
        _el("amount", "float", required=True),
        _el("entityId", "int", required=True),
        _el("paymentMethod", "int", required=True),
        _el("bankAccount", required=True),
        _at("bsAccount", "int"),
        _at("fxRate", "float"),
        # Not a member of the PHP client's Payment class; the service's
        # getPaymentIdFromExternalId finds payments by it (see docs/exports.md).
        _at("external_id"),
    ),
    "PaymentReturn": (_el("payment_id", "int"),),
    "RemovePayment": (_el("id", "int", required=True), _el("type", required=True)),
    "ResponseStatus": (_el("success", "bool"), _at("msg")),
    "CreditPartialQuery": (
        _el("invoiceId", "int", required=True),
        _el("creditId", "int", required=True),
        _el("amountToAllocate", "float", required=True),
        _el("ledger", required=True),
    ),
    "Currency": (_el("id", "int"), _el("name"), _el("code"), _el("symbol")),
    "PaymentMethod": (_el("id", "int"), _el("name"), _el("isClosed", "bool")),
}

#: method -> its parts in order, and what it returns ("[]" suffix: an array)
OPERATIONS: dict[str, tuple[tuple[tuple[str, str], ...], str | None]] = {
    "createEntity": ((("entity", "Entity"),), "int"),
    "updateEntity": ((("entityId", "int"), ("entity", "Entity")), "int"),
    "getEntityIdFromExternalId": ((("externalId", "string"),), "int"),
    "createInvoice": ((("invoice", "Invoice"),), "InvoiceReturn"),
    "getInvoiceIdFromInvoiceNumber": (
        (("type", "string"), ("invoicePrefix", "string"), ("invoiceNumber", "string")),
        "int",
    ),
    "listInvoices": ((("query", "InvoiceQuery"),), "Invoice[]"),
    "voidInvoice": ((("invoice", "InvoiceRef"),), "ResponseStatus"),
    "createPayment": ((("payment", "Payment"),), "PaymentReturn"),
    "getPaymentIdFromExternalId": ((("externalId", "string"),), "int"),
    "voidPayment": ((("payment", "RemovePayment"),), "ResponseStatus"),
    "writeOffPartial": ((("query", "CreditPartialQuery"),), None),
    "listCurrencies": ((), "Currency[]"),
    "listPaymentMethods": ((), "PaymentMethod[]"),
}


class WireError(ValueError):
    """A message that does not match Clear Books' types."""


class HostileReply(WireError):
    """A reply carrying a DTD or entity declarations: refused unread."""


# ------------------------------------------------------------------ values


def _text(value: object, type_: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def check_scalar(text: str, type_: str, where: str) -> Any:
    """The value of ``text`` as ``type_``; a WireError naming ``where`` if it is not one."""
    try:
        if type_ == "int":
            if not text.lstrip("-").isdigit():
                raise ValueError(text)
            return int(text)
        if type_ == "float":
            number = Decimal(text)
            if not number.is_finite():
                raise ValueError(text)
            return number
        if type_ == "date":
            return date.fromisoformat(text[:10])
        if type_ == "bool":
            if text not in ("true", "false", "1", "0"):
                raise ValueError(text)
            return text in ("true", "1")
    except (ValueError, InvalidOperation):
        raise WireError(f"{where}: {text!r} is not a valid {type_}") from None
    return text


# ---------------------------------------------------------------- requests


def _member(parent: ET.Element, field: Field, value: Any) -> None:
    if field.type in TYPES:
        if field.many:
            wrapper = ET.SubElement(parent, field.name)
            for entry in value:
                write(ET.SubElement(wrapper, f"{{{NS}}}{field.type}"), field.type, entry)
        else:
            write(ET.SubElement(parent, field.name), field.type, value)
    elif field.many:
        wrapper = ET.SubElement(parent, field.name)
        for entry in value:
            ET.SubElement(wrapper, f"{{{XSD}}}{field.type}").text = _text(entry, field.type)
    elif field.attribute:
        parent.set(field.name, _text(value, field.type))
    else:
        ET.SubElement(parent, field.name).text = _text(value, field.type)


def write(element: ET.Element, type_: str, value: Mapping[str, Any]) -> None:
    """Fill ``element`` with ``value`` as the complex type ``type_``; unknown keys refused."""
    fields = {f.name: f for f in TYPES[type_]}
    unknown = set(value) - set(fields)
    if unknown:
        raise WireError(f"{type_} has no member {sorted(unknown)[0]!r}")
    for field in TYPES[type_]:  # in the type's own order
        member = value.get(field.name)
        if member is None:
            if field.required:
                raise WireError(f"{type_}.{field.name} is required")
            continue
        _member(element, field, member)


def envelope(api_key: str, method: str, params: Mapping[str, Any]) -> bytes:
    """A SOAP 1.1 request for ``method`` with the ``authenticate`` header."""
    parts, _ = OPERATIONS[method]
    ET.register_namespace("SOAP-ENV", SOAP_ENV)
    ET.register_namespace("cb", NS)
    ET.register_namespace("xsd", XSD)
    root = ET.Element(f"{{{SOAP_ENV}}}Envelope")
    auth = ET.SubElement(ET.SubElement(root, f"{{{SOAP_ENV}}}Header"), f"{{{NS}}}authenticate")
    ET.SubElement(auth, "apiKey").text = api_key
    call = ET.SubElement(ET.SubElement(root, f"{{{SOAP_ENV}}}Body"), f"{{{NS}}}{method}")
    if set(params) - {name for name, _ in parts}:
        raise WireError(f"{method} takes {[name for name, _ in parts]}")
    for name, type_ in parts:
        if params.get(name) is None:
            raise WireError(f"{method}: {name} is required")
        if type_ in TYPES:
            write(ET.SubElement(call, name), type_, params[name])
        else:
            ET.SubElement(call, name).text = _text(params[name], type_)
    text: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return text


# ----------------------------------------------------------------- reading


def parse(body: bytes) -> ET.Element:
    """A message parsed without any DTD, entity or external reference."""
    try:
        root: ET.Element = SafeET.fromstring(body, forbid_dtd=True)
    except DefusedXmlException as error:
        raise HostileReply(
            f"refused a message with a DTD or entities ({type(error).__name__})"
        ) from None
    except ET.ParseError as error:
        raise WireError(f"not XML: {error}") from None
    return root


def local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def read(element: ET.Element, type_: str, where: str = "", *, strict: bool = True) -> Any:
    """``element`` as ``type_`` (a dict for a complex type), checked member by member.

    ``strict``: a member the type does not have, or in the wrong place, is refused (requests,
    as the service validates them); otherwise it is skipped (replies: Clear Books adds members
    to its types over time, e.g. ``pdfUrl``), while the members we know are still type-checked.
    """
    where = where or type_
    if type_ not in TYPES:
        return check_scalar((element.text or "").strip(), type_, where)
    fields = {f.name: f for f in TYPES[type_]}
    value: dict[str, Any] = {}
    for name, text in element.attrib.items():
        field = fields.get(local(name))
        if field is None or not field.attribute:
            if (local(name) == "type" and name.startswith("{")) or not strict:  # xsi:type
                continue
            raise WireError(f"{where}: unexpected attribute {local(name)!r}")
        value[field.name] = check_scalar(text, field.type, f"{where}.{field.name}")
    for child in element:
        field = fields.get(local(child.tag))
        if field is None or field.attribute:
            if not strict:
                continue
            raise WireError(f"{where}: unexpected element {local(child.tag)!r}")
        if field.many:
            value[field.name] = [
                read(entry, field.type, f"{where}.{field.name}[]", strict=strict) for entry in child
            ]
        else:
            value[field.name] = read(child, field.type, f"{where}.{field.name}", strict=strict)
    for field in TYPES[type_]:
        if strict and field.required and field.name not in value:
            raise WireError(f"{where}.{field.name} is required")
    return value


def read_return(returned: ET.Element | None, kind: str | None) -> Any:
    """The ``return`` part of a reply as its declared type (unknown members skipped)."""
    if kind is None or returned is None:
        return None
    if kind.endswith("[]"):
        return [read(entry, kind[:-2], strict=False) for entry in returned]
    return read(returned, kind, "return", strict=False)
