"""A fake Clear Books account speaking the SOAP API (namespace, SOAPAction, API-key header).

It parses each envelope, checks the SOAPAction names the called method and the API key in the
``authenticate`` header, and answers with a ``<method>Response`` or a SOAP 1.1 fault (HTTP 500,
``SOAP-ENV:Client`` for a refusal). Rules: entities found by external id; invoice numbers unique
per type; items need a known account code; payments never above what is outstanding, only on
approved, un-voided invoices; a repeated payment ``external_id`` returns the first payment.
"""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from tests.fakes.server import FakeService, Request, Response

NS = "https://secure.clearbooks.co.uk/api/accounting/soap/"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"


class Fault(Exception):
    def __init__(self, message: str, code: str = "Client") -> None:
        super().__init__(message)
        self.code = code


def _plain(element: ET.Element) -> Any:
    children = list(element)
    if not children:
        return (element.text or "").strip()
    if all(child.tag == "item" for child in children):
        return [_plain(child) for child in children]
    return {child.tag.split("}")[-1]: _plain(child) for child in children}


def _xml(parent: ET.Element, name: str, value: Any) -> None:
    element = ET.SubElement(parent, name)
    if isinstance(value, dict):
        for key, inner in value.items():
            _xml(element, key, inner)
    else:
        element.text = str(value)


def _cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


class FakeClearBooks(FakeService):
    API_KEY = "cb-test-key-0123456789"
    PATH = "/api/soap/"

    def __init__(self) -> None:
        super().__init__()
        self.ids = itertools.count(101)
        self.accounts = {"1001001", "1001002", "7502001"}
        self.entities: dict[str, dict[str, Any]] = {}
        self.invoices: dict[str, dict[str, Any]] = {}
        self.payments: dict[str, dict[str, Any]] = {}

    def connection_settings(self) -> dict[str, Any]:
        return {
            "system": "clearbooks",
            "base_url": self.url + self.PATH,
            "api_key": self.API_KEY,
            "timeout_seconds": 5,
        }

    def handle(self, request: Request) -> Response:
        if request.method != "POST" or request.path != self.PATH:
            return Response(404, b"not found", "text/plain")
        try:
            root = ET.fromstring(request.body)
        except ET.ParseError as error:
            return self._fault(Fault(f"malformed envelope: {error}"))
        if root.tag != f"{{{SOAP_ENV}}}Envelope":
            return self._fault(Fault("not a SOAP 1.1 envelope"))
        key = root.findtext(f"{{{SOAP_ENV}}}Header/{{{NS}}}authenticate/apiKey")
        if key != self.API_KEY:
            return self._fault(Fault("Authentication failed: invalid API key"))
        body = root.find(f"{{{SOAP_ENV}}}Body")
        call = next(iter(body)) if body is not None and len(body) else None
        if call is None or not call.tag.startswith(f"{{{NS}}}"):
            return self._fault(Fault("no method in the SOAP body"))
        method = call.tag.split("}")[1]
        if request.headers.get("soapaction", "").strip('"') != f"{NS}#{method}":
            return self._fault(Fault(f"SOAPAction does not name {method}"))
        params = {child.tag: _plain(child) for child in call}
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return self._fault(Fault(f"unknown method {method}", "Server"))
        try:
            result = handler(**params)
        except Fault as fault:
            return self._fault(fault)
        except (TypeError, KeyError, ArithmeticError, ValueError) as error:
            return self._fault(Fault(f"invalid request for {method}: {error}"))
        return self._reply(method, result)

    def _reply(self, method: str, result: Any) -> Response:
        root = ET.Element(f"{{{SOAP_ENV}}}Envelope")
        body = ET.SubElement(root, f"{{{SOAP_ENV}}}Body")
        reply = ET.SubElement(body, f"{{{NS}}}{method}Response")
        _xml(reply, "return", result)
        return Response(200, ET.tostring(root, xml_declaration=True, encoding="utf-8"), "text/xml")

    def _fault(self, fault: Fault) -> Response:
        root = ET.Element(f"{{{SOAP_ENV}}}Envelope")
        body = ET.SubElement(root, f"{{{SOAP_ENV}}}Body")
        element = ET.SubElement(body, f"{{{SOAP_ENV}}}Fault")
        ET.SubElement(element, "faultcode").text = f"SOAP-ENV:{fault.code}"
        ET.SubElement(element, "faultstring").text = str(fault)
        return Response(500, ET.tostring(root, xml_declaration=True, encoding="utf-8"), "text/xml")

    def unavailable(self, status: int) -> Response:
        return Response(status, b"<html>Service Unavailable</html>", "text/html")

    # ------------------------------------------------------------------ methods

    def _m_getEntityIdFromExternalId(self, externalId: str) -> str:
        for entity_id, entity in self.entities.items():
            if entity.get("external_id") == externalId:
                return entity_id
        return "0"

    def _m_createEntity(self, entity: dict[str, Any]) -> str:
        _check_entity_address(entity)
        if not entity.get("company_name"):
            raise Fault("company_name is required")
        external = entity.get("external_id")
        if external and self._m_getEntityIdFromExternalId(external) != "0":
            raise Fault(f"an entity with external id {external} already exists")
        entity_id = str(next(self.ids))
        self.entities[entity_id] = entity
        return entity_id

    def _m_updateEntity(self, entityId: str, entity: dict[str, Any]) -> str:
        if entityId not in self.entities:
            raise Fault(f"entity {entityId} does not exist")
        _check_entity_address(entity)
        self.entities[entityId].update(entity)
        return entityId

    def _m_getInvoiceIdFromInvoiceNumber(self, invoiceNumber: str, type: str) -> str:
        for invoice_id, invoice in self.invoices.items():
            if invoice["invoiceNumber"] == invoiceNumber and invoice["type"] == type:
                return invoice_id
        return "0"

    def _m_createInvoice(self, invoice: dict[str, Any]) -> dict[str, Any]:
        if invoice.get("entityId") not in self.entities:
            raise Fault(f"entity {invoice.get('entityId')} does not exist")
        if invoice.get("type") not in ("sales", "cn-sales"):
            raise Fault(f"unsupported invoice type {invoice.get('type')}")
        number = invoice.get("invoiceNumber", "")
        if number and self._m_getInvoiceIdFromInvoiceNumber(number, invoice["type"]) != "0":
            raise Fault(f"invoice number {number} is already used")
        items = invoice.get("items") or []
        if not items:
            raise Fault("an invoice needs at least one item")
        total = Decimal(0)
        for item in items:
            if item.get("type") not in self.accounts:
                raise Fault(f"account code {item.get('type')} does not exist")
            net = _cents(Decimal(item["unitPrice"]) * Decimal(item["quantity"]))
            total += net + _cents(net * Decimal(item.get("vatRate") or "0"))
        invoice_id = str(next(self.ids))
        self.invoices[invoice_id] = {**invoice, "total": total, "paid": Decimal(0), "void": False}
        return {
            "invoice_id": invoice_id,
            "invoice_prefix": "",
            "invoice_number": number,
            "due": str(total),
        }

    def _m_createPayment(self, payment: dict[str, Any]) -> str:
        external = payment.get("external_id")
        for payment_id, existing in self.payments.items():
            if external and existing.get("external_id") == external:
                return payment_id
        if payment.get("entityId") not in self.entities:
            raise Fault(f"entity {payment.get('entityId')} does not exist")
        if payment.get("bankAccount") not in self.accounts:
            raise Fault(f"bank account {payment.get('bankAccount')} does not exist")
        for allocation in payment.get("invoices") or []:
            invoice = self.invoices.get(allocation["id"])
            if invoice is None or invoice["void"] or invoice.get("status") != "approved":
                raise Fault(f"invoice {allocation['id']} cannot take payments")
            if Decimal(allocation["amount"]) > invoice["total"] - invoice["paid"]:
                raise Fault(f"payment exceeds the amount outstanding on invoice {allocation['id']}")
        for allocation in payment.get("invoices") or []:
            self.invoices[allocation["id"]]["paid"] += Decimal(allocation["amount"])
        payment_id = str(next(self.ids))
        self.payments[payment_id] = payment
        return payment_id

    def _m_voidInvoice(self, type: str, invoiceId: str) -> str:
        invoice = self.invoices.get(invoiceId)
        if invoice is None:
            raise Fault(f"invoice {invoiceId} does not exist")
        if invoice["paid"]:
            raise Fault("an invoice with payments allocated cannot be voided")
        invoice["void"] = True
        return "true"


# The address fields of Clear Books' Entity type (its official client's
# Clearbooks_Soap_1_0_Entity): every one a string, no length published. An address part sent
# under any other name is not part of the type: the SOAP server refuses the entity.
ENTITY_ADDRESS = ("building", "address1", "address2", "town", "county", "postcode", "country")
_NOT_ENTITY = ("address3", "address4", "city", "region", "postal_code", "address")


def _check_entity_address(entity: dict[str, Any]) -> None:
    for name in _NOT_ENTITY:
        if name in entity:
            raise Fault(f"Entity has no field {name}")
    for name in ENTITY_ADDRESS:
        if not isinstance(entity.get(name, ""), str):
            raise Fault(f"Entity.{name} must be a string")
