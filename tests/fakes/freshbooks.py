"""A fake FreshBooks account: its REST paths, JSON shapes and error documents.

Requests need ``Authorization: Bearer <token>``; bodies are ``{"client"|"invoice"|"payment"|
"credit_note": {...}}``; answers are ``{"response": {"result": {...}}}``; refusals are HTTP 422
with ``{"response": {"errors": [{"errno", "field", "message", "object"}]}}``. Invoice numbers
are unique; ``taxAmount1`` is a percentage; amounts travel as ``{"amount": "12.00", "code"}``.
"""

from __future__ import annotations

import itertools
import json
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from tests.fakes.server import FakeService, Request, Response

PAYMENT_TYPES = {
    "Check",
    "Credit",
    "Credit Card",
    "Bank Transfer",
    "Debit",
    "PayPal",
    "Cash",
    "ACH",
    "Other",
}


class Refused(Exception):
    def __init__(self, errno: int, field: str, message: str, obj: str) -> None:
        super().__init__(message)
        self.error = {"errno": errno, "field": field, "message": message, "object": obj}


def _cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


class FakeFreshBooks(FakeService):
    TOKEN = "fb-test-token"
    ACCOUNT = "xZ12ab"

    def __init__(self) -> None:
        super().__init__()
        self.ids = itertools.count(5001)
        self.clients: dict[str, dict[str, Any]] = {}
        self.invoices: dict[str, dict[str, Any]] = {}
        self.credit_notes: dict[str, dict[str, Any]] = {}
        self.payments: dict[str, dict[str, Any]] = {}

    def connection_settings(self) -> dict[str, Any]:
        return {
            "system": "freshbooks",
            "base_url": self.url,
            "account_id": self.ACCOUNT,
            "access_token": self.TOKEN,
            "timeout_seconds": 5,
        }

    @staticmethod
    def _result(status: int, result: dict[str, Any]) -> Response:
        return Response(status, json.dumps({"response": {"result": result}}).encode())

    def handle(self, request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {self.TOKEN}":
            return Response(
                401, b'{"error": "unauthenticated", "error_description": "invalid token"}'
            )
        prefix = f"/accounting/account/{self.ACCOUNT}/"
        if not request.path.startswith(prefix):
            return Response(
                404, b'{"response": {"errors": [{"errno": 1012, "message": "not found"}]}}'
            )
        parts = request.path[len(prefix) :].strip("/").split("/")
        query = {k: v[0] for k, v in request.query.items()}
        try:
            body = json.loads(request.body) if request.body else {}
            match (request.method, parts):
                case ("GET", ["users", "clients"]):
                    like = query.get("search[organization_like]", "")
                    found = [c for c in self.clients.values() if like in c["organization"]]
                    return self._result(200, {"clients": found, "page": 1, "pages": 1})
                case ("GET", ["users", "clients", client_id]):
                    if client_id not in self.clients:
                        raise Refused(1012, "userid", "Client not found.", "client")
                    return self._result(200, {"client": self.clients[client_id]})
                case ("POST", ["users", "clients"]):
                    return self._result(200, {"client": self._client(None, body["client"])})
                case ("PUT", ["users", "clients", client_id]):
                    return self._result(200, {"client": self._client(client_id, body["client"])})
                case ("GET", ["invoices", "invoices"]):
                    number = query.get("search[invoice_number]")
                    found = [
                        i
                        for i in self.invoices.values()
                        if number is None or i["invoice_number"] == number
                    ]
                    return self._result(200, {"invoices": found, "page": 1, "pages": 1})
                case ("POST", ["invoices", "invoices"]):
                    return self._result(200, {"invoice": self._invoice(body["invoice"])})
                case ("PUT", ["invoices", "invoices", invoice_id]):
                    return self._result(200, {"invoice": self._update(invoice_id, body["invoice"])})
                case ("GET", ["credit_notes", "credit_notes"]):
                    number = query.get("search[credit_number]")
                    found = [
                        n
                        for n in self.credit_notes.values()
                        if number is None or n["credit_number"] == number
                    ]
                    return self._result(200, {"credit_notes": found})
                case ("POST", ["credit_notes", "credit_notes"]):
                    return self._result(200, {"credit_note": self._credit(body["credit_note"])})
                case ("GET", ["payments", "payments"]):
                    invoice_id = query.get("search[invoiceid]")
                    found = [
                        p
                        for p in self.payments.values()
                        if invoice_id is None or str(p["invoiceid"]) == invoice_id
                    ]
                    return self._result(200, {"payments": found})
                case ("POST", ["payments", "payments"]):
                    return self._result(200, {"payment": self._payment(body["payment"])})
        except Refused as refused:
            return Response(422, json.dumps({"response": {"errors": [refused.error]}}).encode())
        except (KeyError, TypeError, ValueError, ArithmeticError) as error:
            refused = Refused(2001, "", f"invalid request: {error}", "request")
            return Response(400, json.dumps({"response": {"errors": [refused.error]}}).encode())
        return Response(404, b'{"response": {"errors": [{"errno": 1012, "message": "not found"}]}}')

    def _client(self, client_id: str | None, data: dict[str, Any]) -> dict[str, Any]:
        if client_id is None:
            if not data.get("organization") and not data.get("email"):
                raise Refused(
                    2001, "organization", "Client needs an organization or email.", "client"
                )
            client_id = str(next(self.ids))
            self.clients[client_id] = {"id": int(client_id), "userid": int(client_id)}
        elif client_id not in self.clients:
            raise Refused(1012, "userid", "Client not found.", "client")
        _check_client_address(data)
        self.clients[client_id].update({k: v for k, v in data.items() if v is not None})
        return self.clients[client_id]

    def _lines(self, lines: list[dict[str, Any]], currency: str) -> Decimal:
        if not lines:
            raise Refused(2001, "lines", "At least one line is required.", "invoice")
        total = Decimal(0)
        for line in lines:
            if line["unit_cost"]["code"] != currency:
                raise Refused(2001, "unit_cost", "Line currency differs from the invoice.", "line")
            net = _cents(Decimal(line["qty"]) * Decimal(line["unit_cost"]["amount"]))
            total += net + _cents(net * Decimal(line.get("taxAmount1") or "0") / 100)
        return total

    def _invoice(self, data: dict[str, Any]) -> dict[str, Any]:
        if str(data.get("customerid")) not in self.clients:
            raise Refused(2001, "customerid", "Client not found.", "invoice")
        number = data.get("invoice_number")
        if any(i["invoice_number"] == number for i in self.invoices.values()):
            raise Refused(2001, "invoice_number", "Invoice number already exists.", "invoice")
        total = self._lines(data.get("lines") or [], data["currency_code"])
        invoice_id = str(next(self.ids))
        code = data["currency_code"]
        invoice = {
            **data,
            "id": int(invoice_id),
            "invoiceid": int(invoice_id),
            "vis_state": 0,
            "amount": {"amount": str(total), "code": code},
            "outstanding": {"amount": str(total), "code": code},
        }
        self.invoices[invoice_id] = invoice
        return invoice

    def _update(self, invoice_id: str, data: dict[str, Any]) -> dict[str, Any]:
        if invoice_id not in self.invoices:
            raise Refused(1012, "invoiceid", "Invoice not found.", "invoice")
        self.invoices[invoice_id].update(data)
        return self.invoices[invoice_id]

    def _credit(self, data: dict[str, Any]) -> dict[str, Any]:
        if str(data.get("clientid")) not in self.clients:
            raise Refused(2001, "clientid", "Client not found.", "credit_note")
        if any(n["credit_number"] == data.get("credit_number") for n in self.credit_notes.values()):
            raise Refused(2001, "credit_number", "Credit number already exists.", "credit_note")
        total = self._lines(data.get("lines") or [], data["currency_code"])
        credit_id = str(next(self.ids))
        note = {
            **data,
            "creditid": int(credit_id),
            "amount": {"amount": str(total), "code": data["currency_code"]},
        }
        self.credit_notes[credit_id] = note
        return note

    def _payment(self, data: dict[str, Any]) -> dict[str, Any]:
        invoice = self.invoices.get(str(data.get("invoiceid")))
        if invoice is None or invoice["vis_state"] != 0:
            raise Refused(2001, "invoiceid", "Invoice not found.", "payment")
        if data.get("type") not in PAYMENT_TYPES:
            raise Refused(2001, "type", f"Invalid payment type {data.get('type')}.", "payment")
        amount = Decimal(data["amount"]["amount"])
        if data["amount"]["code"] != invoice["currency_code"]:
            raise Refused(2001, "amount", "Payment currency differs from the invoice.", "payment")
        outstanding = Decimal(invoice["outstanding"]["amount"]) - amount
        invoice["outstanding"]["amount"] = str(outstanding)
        payment_id = str(next(self.ids))
        payment = {**data, "id": int(payment_id), "paymentid": int(payment_id)}
        self.payments[payment_id] = payment
        return payment



# A client's primary address as FreshBooks' Clients resource lists it: two street lines, city,
# province, postal code and country, each a string; no length is published.
CLIENT_ADDRESS = ("p_street", "p_street2", "p_city", "p_province", "p_code", "p_country")


def _check_client_address(data: dict[str, Any]) -> None:
    for name in CLIENT_ADDRESS:
        if not isinstance(data.get(name, ""), str | None):
            raise Refused(2001, name, f"{name} must be a string.", "client")
