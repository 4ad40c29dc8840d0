"""A fake Clear Books account speaking its SOAP API as Clear Books documents it.

Every request is parsed without any DTD (as SOAP requires), must name its method in the
SOAPAction, carry the API key in the ``authenticate`` header, and match the method's parts and
complex types member by member (``adapters/accounting/clearbooks_wire``: our transcription of
the WSDL's types from the official PHP client): unknown members, missing required ones, values
of the wrong type (an invoice number that is not an integer) are a ``SOAP-ENV:Client`` fault.

Its rules, from the method pages of Clear Books' SOAP documentation and the official client:
- documents are numbered prefix + integer, unique in the sales ledger (invoices and credit
  notes); ``getInvoiceIdFromInvoiceNumber`` takes type (sales | purchases), prefix and number;
- an item's net is unitPrice ("in pounds", so to the penny) x quantity, rounded to the penny,
  its VAT that net x vatRate rounded to the penny (or the ``vat`` given with vatRate
  ``Manual``); the invoice's gross is the sum of the lines;
- items need an account code of the account; entities must be a customer or a supplier;
  ``multicurrency`` is a currency id of ``listCurrencies``; ``vatTreatment`` one of the
  documented codes;
- a payment needs a known entity, bank account and open payment method id; it may be allocated
  only to approved, un-voided sales invoices, never above what is outstanding on each, nor in
  total above its own amount; ``getPaymentIdFromExternalId`` finds a live payment;
- ``voidPayment`` takes the payment's allocations off its invoices; ``voidInvoice`` answers a
  ResponseStatus, refused (``success`` false) for an invoice already voided or with payments or
  credit allocated; ``writeOffPartial`` allocates a credit note's credit to an invoice of the
  same entity, never above the credit left nor the invoice's balance;
- ``listInvoices`` returns gross, net, vat, paid, balance (home currency, pounds) and
  ``foreignCurrencyBalance`` (the invoice's own currency) of each document.
"""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from adapters.accounting import clearbooks_wire as wire
from tests.fakes.server import FakeService, Request, Response

NS = wire.NS
SOAP_ENV = wire.SOAP_ENV
VAT_TREATMENTS = {"OUT", "UK", "GE", "SE", "GNIEU", "DSEU", "GEU", "SEU", "GOEU", "SOEU"}
SALES = ("sales", "cn-sales")


class Fault(Exception):
    def __init__(self, message: str, code: str = "Client") -> None:
        super().__init__(message)
        self.code = code


def _pence(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


class FakeClearBooks(FakeService):
    API_KEY = "cb-test-key-0123456789"
    PATH = "/api/accounting/soap/"

    def __init__(self) -> None:
        super().__init__()
        self.ids = itertools.count(101)
        self.accounts = {1001001, 1001002, 1001003}
        self.bank_accounts = {"7502001"}
        self.currencies = [
            {"id": 1, "name": "British Pound", "code": "GBP", "symbol": "&pound;"},
            {"id": 2, "name": "Euro", "code": "EUR", "symbol": "&euro;"},
            {"id": 3, "name": "US Dollar", "code": "USD", "symbol": "$"},
        ]
        self.fx = {2: Decimal("1.17"), 3: Decimal("1.27")}  # per pound
        self.payment_methods = [
            {"id": n, "name": name, "isClosed": False}
            for n, name in enumerate(
                ["Bank Transfer", "Cash", "Cheque", "Credit Card", "Direct Debit", "Other"], 1
            )
        ]
        self.entities: dict[int, dict[str, Any]] = {}
        self.invoices: dict[int, dict[str, Any]] = {}
        self.payments: dict[int, dict[str, Any]] = {}
        self.next_reply: bytes | None = None  # test seam: the next answer, verbatim

    def connection_settings(self) -> dict[str, Any]:
        return {
            "system": "clearbooks",
            "base_url": self.url + self.PATH,
            "api_key": self.API_KEY,
            "timeout_seconds": 5,
        }

    # ------------------------------------------------------------------ wire

    def handle(self, request: Request) -> Response:
        if request.method != "POST" or request.path != self.PATH:
            return Response(404, b"not found", "text/plain")
        if self.next_reply is not None:
            body, self.next_reply = self.next_reply, None
            return Response(200, body, "text/xml")
        try:
            root = wire.parse(request.body)
        except wire.WireError as error:
            return self._fault(Fault(f"malformed envelope: {error}"))
        if root.tag != f"{{{SOAP_ENV}}}Envelope":
            return self._fault(Fault("not a SOAP 1.1 envelope"))
        key = root.findtext(f"{{{SOAP_ENV}}}Header/{{{NS}}}authenticate/apiKey")
        if key != self.API_KEY:
            return self._fault(Fault("Login Failed", "Server"))
        body = root.find(f"{{{SOAP_ENV}}}Body")
        call = next(iter(body)) if body is not None and len(body) else None
        if call is None or not call.tag.startswith(f"{{{NS}}}"):
            return self._fault(Fault("no method in the SOAP body"))
        method = wire.local(call.tag)
        if request.headers.get("soapaction", "").strip('"') != f"{NS}#{method}":
            return self._fault(Fault(f"SOAPAction does not name {method}"))
        if method not in wire.OPERATIONS:
            return self._fault(Fault(f"Procedure '{method}' not present", "Server"))
        try:
            result = getattr(self, f"_m_{method}")(**self._params(method, call))
        except (Fault, wire.WireError) as error:
            return self._fault(error if isinstance(error, Fault) else Fault(str(error)))
        return self._reply(method, result)

    @staticmethod
    def _params(method: str, call: ET.Element) -> dict[str, Any]:
        parts, _ = wire.OPERATIONS[method]
        given = {wire.local(child.tag): child for child in call}
        unknown = set(given) - {name for name, _ in parts}
        if unknown:
            raise Fault(f"{method} has no part {sorted(unknown)[0]!r}")
        params: dict[str, Any] = {}
        for name, type_ in parts:
            if name not in given:
                raise Fault(f"{method}: {name} is required")
            params[name] = wire.read(given[name], type_, f"{method}.{name}")
        return params

    def _reply(self, method: str, result: Any) -> Response:
        _, returns = wire.OPERATIONS[method]
        root = ET.Element(f"{{{SOAP_ENV}}}Envelope")
        body = ET.SubElement(root, f"{{{SOAP_ENV}}}Body")
        reply = ET.SubElement(body, f"{{{NS}}}{method}Response")
        if returns is not None:
            returned = ET.SubElement(reply, "return")
            if returns.endswith("[]"):
                for entry in result:
                    wire.write(
                        ET.SubElement(returned, f"{{{NS}}}{returns[:-2]}"), returns[:-2], entry
                    )
            elif returns in wire.TYPES:
                wire.write(returned, returns, result)
            else:
                returned.text = str(result)
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

    # -------------------------------------------------------------- entities

    def _check_entity(self, entity: dict[str, Any]) -> None:
        if not (entity.get("company_name") or entity.get("contact_name")):
            raise Fault("an entity needs a company or contact name")
        if entity.get("customer") is None and entity.get("supplier") is None:
            raise Fault("an entity must be a customer, a supplier or both")

    def _m_getEntityIdFromExternalId(self, externalId: str) -> int:
        for entity_id, entity in self.entities.items():
            if entity.get("external_id") == externalId:
                return entity_id
        return 0

    def _m_createEntity(self, entity: dict[str, Any]) -> int:
        self._check_entity(entity)
        _check_entity_address(entity)
        entity_id = next(self.ids)
        self.entities[entity_id] = entity
        return entity_id

    def _m_updateEntity(self, entityId: int, entity: dict[str, Any]) -> int:
        if entityId not in self.entities:
            raise Fault(f"entity {entityId} does not exist")
        self._check_entity(entity)
        _check_entity_address(entity)
        self.entities[entityId] = entity
        return entityId

    # ------------------------------------------------------------- documents

    def _m_listCurrencies(self) -> list[dict[str, Any]]:
        return self.currencies

    def _m_listPaymentMethods(self) -> list[dict[str, Any]]:
        return self.payment_methods

    def _m_getInvoiceIdFromInvoiceNumber(
        self, type: str, invoicePrefix: str, invoiceNumber: str
    ) -> int:
        if type not in ("sales", "purchases"):
            raise Fault(f"type must be sales or purchases, not {type!r}")
        number = wire.check_scalar(invoiceNumber, "int", "invoiceNumber")
        ledger = SALES if type == "sales" else ("purchases", "cn-purchases")
        found = [
            invoice_id
            for invoice_id, invoice in self.invoices.items()
            if invoice["type"] in ledger
            and invoice.get("invoice_prefix", "") == invoicePrefix
            and invoice["invoiceNumber"] == number
        ]
        return max(found, default=0)  # "the latest invoice ID" for the pair

    def _line(self, item: dict[str, Any]) -> tuple[Decimal, Decimal]:
        if item["type"] not in self.accounts:
            raise Fault(f"account code {item['type']} does not exist")
        net = _pence(_pence(item["unitPrice"]) * item.get("quantity", Decimal(1)))
        rate = item.get("vatRate", "0")
        if rate == "Manual":
            if "vat" not in item:
                raise Fault("vatRate Manual needs the item's vat")
            return net, _pence(item["vat"])
        vat_rate = wire.check_scalar(rate, "float", "Item.vatRate")
        if not 0 <= vat_rate < 1:
            raise Fault(f"vatRate is a fraction (0.2 for 20%), not {rate}")
        return net, _pence(net * vat_rate)

    def _m_createInvoice(self, invoice: dict[str, Any]) -> dict[str, Any]:
        if invoice["entityId"] not in self.entities:
            raise Fault(f"entity {invoice['entityId']} does not exist")
        if invoice["type"] not in SALES:
            raise Fault(f"this account takes sales documents, not {invoice['type']!r}")
        if "dateDue" not in invoice and "creditTerms" not in invoice:
            raise Fault("give dateDue or creditTerms")
        if invoice.get("status", "approved") not in ("draft", "approved"):
            raise Fault(f"status {invoice['status']!r} is not draft or approved")
        if invoice.get("vatTreatment", "UK") not in VAT_TREATMENTS:
            raise Fault(f"unknown vatTreatment {invoice['vatTreatment']!r}")
        if invoice.get("multicurrency", 1) not in {c["id"] for c in self.currencies}:
            raise Fault(f"unknown currency id {invoice['multicurrency']}")
        if not invoice["items"]:
            raise Fault("an invoice needs at least one item")
        prefix = invoice.setdefault("invoice_prefix", "INV")
        if not invoice.get("invoiceNumber"):
            invoice["invoiceNumber"] = 1 + max(
                (i["invoiceNumber"] for i in self.invoices.values() if i["type"] in SALES),
                default=0,
            )
        elif self._m_getInvoiceIdFromInvoiceNumber("sales", prefix, str(invoice["invoiceNumber"])):
            raise Fault(f"invoice number {prefix}{invoice['invoiceNumber']} is already used")
        lines = [self._line(item) for item in invoice["items"]]
        invoice_id = next(self.ids)
        self.invoices[invoice_id] = {
            **invoice,
            "invoice_id": invoice_id,
            "status": invoice.get("status", "approved"),
            "net": sum((net for net, _ in lines), Decimal(0)),
            "vat": sum((vat for _, vat in lines), Decimal(0)),
            "paid": Decimal(0),
            "credited": Decimal(0),  # credit allocated to it (or, for a credit note, from it)
            "void": False,
        }
        return {
            "due": self.total(invoice_id),
            "invoice_id": invoice_id,
            "invoice_prefix": prefix,
            "invoice_number": str(invoice["invoiceNumber"]),
        }

    def number(self, invoice_id: int) -> str:
        invoice = self.invoices[invoice_id]
        return f"{invoice['invoice_prefix']}{invoice['invoiceNumber']}"

    def total(self, invoice_id: int) -> Decimal:
        invoice = self.invoices[invoice_id]
        gross: Decimal = invoice["net"] + invoice["vat"]
        return gross

    def balance(self, invoice_id: int) -> Decimal:
        invoice = self.invoices[invoice_id]
        if invoice["void"]:
            return Decimal(0)
        left: Decimal = self.total(invoice_id) - invoice["paid"] - invoice["credited"]
        return left

    def _listed(self, invoice_id: int) -> dict[str, Any]:
        invoice = self.invoices[invoice_id]
        balance = self.balance(invoice_id)
        rate = self.fx.get(invoice.get("multicurrency", 1))
        status = "voided" if invoice["void"] else "paid" if balance == 0 else invoice["status"]
        listed = {k: v for k, v in invoice.items() if k not in ("paid", "credited", "void")}
        return {
            **listed,
            "status": status,
            "gross": self.total(invoice_id),
            "paid": invoice["paid"],
            "balance": _pence(balance / rate) if rate else balance,
            "foreignCurrencyBalance": balance if rate else Decimal(0),
        }

    def _m_listInvoices(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        ledger = query.get("ledger", "sales")
        types = SALES if ledger == "sales" else ("purchases", "cn-purchases")
        found = [
            self._listed(invoice_id)
            for invoice_id, invoice in sorted(self.invoices.items())
            if invoice["type"] in types
            and (not query.get("id") or invoice_id in query["id"])
            and (not query.get("entityId") or invoice["entityId"] in query["entityId"])
        ]
        offset = query.get("offset", 0)
        return found[offset : offset + 100]

    def _live_payments(self, invoice_id: int) -> list[int]:
        return [
            payment_id
            for payment_id, payment in self.payments.items()
            if not payment["void"] and any(a["id"] == invoice_id for a in payment["invoices"])
        ]

    def _m_voidInvoice(self, invoice: dict[str, Any]) -> dict[str, Any]:
        found = self.invoices.get(invoice["id"])
        if found is None or found["type"] != invoice["type"]:
            return {"success": False, "msg": "Invoice not found"}
        if found["void"]:
            return {"success": False, "msg": "This invoice has already been voided"}
        if self._live_payments(invoice["id"]) or found["credited"]:
            return {
                "success": False,
                "msg": "Remove the payments and credits of this invoice first",
            }
        found["void"] = True
        return {"success": True, "msg": "Voiding this invoice was successful"}

    def _m_writeOffPartial(self, query: dict[str, Any]) -> None:
        invoice = self.invoices.get(query["invoiceId"])
        credit = self.invoices.get(query["creditId"])
        if invoice is None or invoice["type"] != "sales" or invoice["void"]:
            raise Fault(f"invoice {query['invoiceId']} cannot take credit")
        if credit is None or credit["type"] != "cn-sales" or credit["void"]:
            raise Fault(f"{query['creditId']} is not a sales credit note")
        if invoice["entityId"] != credit["entityId"]:
            raise Fault("the credit note and the invoice belong to different entities")
        amount = query["amountToAllocate"]
        if not 0 < amount <= self.balance(query["creditId"]):
            raise Fault(f"{amount} is more than the credit left on {query['creditId']}")
        if amount > self.balance(query["invoiceId"]):
            raise Fault(f"{amount} exceeds the amount outstanding on invoice {query['invoiceId']}")
        invoice["credited"] += amount
        credit["credited"] += amount

    # -------------------------------------------------------------- payments

    def _m_getPaymentIdFromExternalId(self, externalId: str) -> int:
        for payment_id, payment in self.payments.items():
            if not payment["void"] and payment.get("external_id") == externalId:
                return payment_id
        return 0

    def _m_createPayment(self, payment: dict[str, Any]) -> dict[str, Any]:
        if payment["type"] != "sales":
            raise Fault(f"this account takes sales payments, not {payment['type']!r}")
        if payment["entityId"] not in self.entities:
            raise Fault(f"entity {payment['entityId']} does not exist")
        if payment["bankAccount"] not in self.bank_accounts:
            raise Fault(f"bank account {payment['bankAccount']} does not exist")
        methods = {m["id"] for m in self.payment_methods if not m["isClosed"]}
        if payment["paymentMethod"] not in methods:
            raise Fault(f"payment method {payment['paymentMethod']} does not exist")
        if payment["amount"] <= 0:
            raise Fault("a payment's amount must be positive")
        left = payment["amount"]
        allocations = []
        for allocation in payment.get("invoices", []):
            invoice = self.invoices.get(allocation["id"])
            if (
                invoice is None
                or invoice["type"] != "sales"
                or invoice["void"]
                or invoice["status"] != "approved"
                or invoice["entityId"] != payment["entityId"]
            ):
                raise Fault(f"invoice {allocation['id']} cannot take payments")
            amount = allocation.get("amount") or min(left, self.balance(allocation["id"]))
            if amount > self.balance(allocation["id"]):
                raise Fault(f"Payment exceeds the amount outstanding on invoice {allocation['id']}")
            if amount > left:
                raise Fault("the allocations exceed the payment's amount")
            left -= amount
            allocations.append({"id": allocation["id"], "amount": amount})
        for allocation in allocations:
            self.invoices[allocation["id"]]["paid"] += allocation["amount"]
        payment_id = next(self.ids)
        self.payments[payment_id] = {**payment, "invoices": allocations, "void": False}
        return {"payment_id": payment_id}

    def _m_voidPayment(self, payment: dict[str, Any]) -> dict[str, Any]:
        found = self.payments.get(payment["id"])
        if found is None or found["type"] != payment["type"] or found["void"]:
            return {"success": False, "msg": "Payment not found"}
        for allocation in found["invoices"]:
            self.invoices[allocation["id"]]["paid"] -= allocation["amount"]
        found["void"] = True
        return {"success": True, "msg": "Voiding this payment was successful"}


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
