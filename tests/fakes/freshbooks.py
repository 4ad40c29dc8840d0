"""A fake FreshBooks account: its REST paths, JSON shapes, arithmetic, statuses and refusals.

Modelled on FreshBooks' own API pages (Invoices, Payments, Credits, Clients) and its published
SDKs (freshbooks-nodejs-sdk models, freshbooks-python-sdk):
- requests need ``Authorization: Bearer <token>``; bodies are ``{"client"|"invoice"|"payment"|
  "credit_note": {...}}``; answers ``{"response": {"result": {...}}}``; refusals HTTP 422 with
  ``{"response": {"errors": [{"errno", "field", "message", "object"}]}}``;
- money travels as ``{"amount": "12.00", "code": "GBP"}``; ``unit_cost`` is kept to 2 decimals,
  a line's ``amount`` is ``qty x unit_cost`` to 2 decimals, ``taxAmount1``/``taxAmount2`` are
  percentages of at most 3 decimals, and the document's ``amount`` sums lines and their taxes
  (tax per line, half-up: FreshBooks does not document its tax rounding - see
  adapters/accounting/freshbooks_lines.py);
- an invoice is created a draft (status 1, ``v3_status`` "draft") and leaves draft only by a
  PUT with ``action_mark_as_sent``; payments move it to partial (8) and paid (4);
  ``outstanding`` = ``amount`` - the active payments on it;
- a payment larger than what is outstanding pays the invoice and turns the rest into an
  overpayment credit of the client (``overpaymentid``); a payment of type "Credit" is paid
  from the client's credit (credit notes and overpayments, less the credit already applied)
  and is refused beyond it; a payment is reduced by a PUT of its ``amount`` and deleted by a
  PUT of ``vis_state`` 1 (deleted payments leave the lists);
- an invoice's ``due_date`` is read-only, ``create_date`` + ``due_offset_days`` (its SDKs
  write only the offset); a PUT of ``due_offset_days`` moves it, with payments on it or not;
- "deleting" an invoice is a PUT of ``vis_state`` 1; a deleted invoice takes no payment and
  leaves the lists, but is still read by id; invoice and credit numbers are unique; a client
  needs one of organization, fname, lname or email, and organization names need not be unique.
"""

from __future__ import annotations

import itertools
import json
from datetime import date, timedelta
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
    "2Checkout",
    "VISA",
    "MASTERCARD",
    "DISCOVER",
    "AMEX",
    "DINERS",
    "JCB",
    "ACH",
    "Cash",
    "Other",
}
STATUS_CODES = {"draft": 1, "sent": 2, "paid": 4, "partial": 8}
NOT_FOUND = b'{"response": {"errors": [{"errno": 1012, "message": "not found"}]}}'


class Refused(Exception):
    def __init__(self, errno: int, field: str, message: str, obj: str) -> None:
        super().__init__(message)
        self.error = {"errno": errno, "field": field, "message": message, "object": obj}


def _cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _money(value: Decimal, code: str) -> dict[str, str]:
    return {"amount": format(_cents(value), "f"), "code": code}


def _places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


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

    # ------------------------------------------------------------- questions

    def active_payments(self, invoice_id: str) -> list[dict[str, Any]]:
        return [
            p
            for p in self.payments.values()
            if str(p["invoiceid"]) == invoice_id and p["vis_state"] == 0
        ]

    def credit_balance(self, client_id: str) -> Decimal:
        """The client's credit to apply: credits issued less the credit already applied."""
        issued = sum(
            (
                Decimal(n["amount"]["amount"])
                for n in self.credit_notes.values()
                if str(n["clientid"]) == client_id and n["vis_state"] == 0
            ),
            Decimal(0),
        )
        applied = sum(
            (
                Decimal(p["amount"]["amount"])
                for p in self.payments.values()
                if p["from_credit"] and p["vis_state"] == 0 and str(p["clientid"]) == client_id
            ),
            Decimal(0),
        )
        return issued - applied

    # --------------------------------------------------------------- routing

    @staticmethod
    def _result(result: dict[str, Any]) -> Response:
        return Response(200, json.dumps({"response": {"result": result}}).encode())

    def handle(self, request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {self.TOKEN}":
            return Response(
                401, b'{"error": "unauthenticated", "error_description": "invalid token"}'
            )
        prefix = f"/accounting/account/{self.ACCOUNT}/"
        if not request.path.startswith(prefix):
            return Response(404, NOT_FOUND)
        parts = request.path[len(prefix) :].strip("/").split("/")
        query = {k: v[0] for k, v in request.query.items()}
        try:
            body = json.loads(request.body) if request.body else {}
            result = self._route(request.method, parts, query, body)
        except Refused as refused:
            return Response(422, json.dumps({"response": {"errors": [refused.error]}}).encode())
        except (KeyError, TypeError, ValueError, ArithmeticError) as error:
            refused = Refused(2001, "", f"invalid request: {error}", "request")
            return Response(400, json.dumps({"response": {"errors": [refused.error]}}).encode())
        if result is None:
            return Response(404, NOT_FOUND)
        return self._result(self._paged(result, query))

    @staticmethod
    def _paged(result: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        """Lists come a page at a time: ``page`` (from 1), ``per_page`` (15 unless asked, at
        most 100), with ``pages`` and ``total``."""
        if "pages" not in result:
            return result
        (key,) = [k for k, v in result.items() if isinstance(v, list)]
        per_page = min(int(query.get("per_page", 15)), 100)
        page = max(int(query.get("page", 1)), 1)
        items = result[key]
        pages = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        return {key: chunk, "page": page, "pages": pages, "per_page": per_page, "total": len(items)}

    def _route(
        self, method: str, parts: list[str], query: dict[str, str], body: dict[str, Any]
    ) -> dict[str, Any] | None:
        match (method, parts):
            case ("GET", ["users", "clients"]):
                return {"clients": self._find_clients(query), "pages": 1}
            case ("GET", ["users", "clients", client_id]):
                return {"client": self._get(self.clients, client_id, "client")}
            case ("POST", ["users", "clients"]):
                return {"client": self._client(None, body["client"])}
            case ("PUT", ["users", "clients", client_id]):
                return {"client": self._client(client_id, body["client"])}
            case ("GET", ["invoices", "invoices"]):
                number = query.get("search[invoice_number]")
                found = [
                    i
                    for i in self.invoices.values()
                    if i["vis_state"] == 0 and number in (None, i["invoice_number"])
                ]
                return {"invoices": found, "pages": 1}
            case ("GET", ["invoices", "invoices", invoice_id]):
                return {"invoice": self._get(self.invoices, invoice_id, "invoice")}
            case ("POST", ["invoices", "invoices"]):
                return {"invoice": self._invoice(body["invoice"])}
            case ("PUT", ["invoices", "invoices", invoice_id]):
                return {"invoice": self._update_invoice(invoice_id, body["invoice"])}
            case ("GET", ["credit_notes", "credit_notes"]):
                number = query.get("search[credit_number]")
                found = [
                    n
                    for n in self.credit_notes.values()
                    if n["vis_state"] == 0 and number in (None, n["credit_number"])
                ]
                return {"credit_notes": found, "pages": 1}
            case ("GET", ["credit_notes", "credit_notes", credit_id]):
                return {"credit_note": self._get(self.credit_notes, credit_id, "credit_note")}
            case ("POST", ["credit_notes", "credit_notes"]):
                return {"credit_note": self._credit(body["credit_note"])}
            case ("GET", ["payments", "payments"]):
                invoice_id = query.get("search[invoiceid]")
                client_id = query.get("search[clientid]")
                found = [
                    p
                    for p in self.payments.values()
                    if p["vis_state"] == 0
                    and invoice_id in (None, str(p["invoiceid"]))
                    and client_id in (None, str(p["clientid"]))
                ]
                return {"payments": found, "pages": 1}
            case ("GET", ["payments", "payments", payment_id]):
                return {"payment": self._get(self.payments, payment_id, "payment")}
            case ("POST", ["payments", "payments"]):
                return {"payment": self._payment(body["payment"])}
            case ("PUT", ["payments", "payments", payment_id]):
                return {"payment": self._update_payment(payment_id, body["payment"])}
        return None

    @staticmethod
    def _get(table: dict[str, dict[str, Any]], key: str, what: str) -> dict[str, Any]:
        if key not in table:
            raise Refused(1012, f"{what}id", f"{what.replace('_', ' ').title()} not found.", what)
        return table[key]

    # --------------------------------------------------------------- clients

    def _find_clients(self, query: dict[str, str]) -> list[dict[str, Any]]:
        found = [c for c in self.clients.values() if c["vis_state"] == 0]
        for name, field in (
            ("search[organization_like]", "organization"),
            ("search[note_like]", "note"),
        ):
            if name in query:
                found = [c for c in found if query[name] in (c.get(field) or "")]
        if "search[email]" in query:
            found = [c for c in found if c.get("email") == query["search[email]"]]
        return found

    def _client(self, client_id: str | None, data: dict[str, Any]) -> dict[str, Any]:
        if client_id is None:
            if not any(data.get(k) for k in ("organization", "fname", "lname", "email")):
                raise Refused(
                    2001,
                    "organization",
                    "At least one of organization, first name, last name or email is required.",
                    "client",
                )
            client_id = str(next(self.ids))
            self.clients[client_id] = {
                "id": int(client_id),
                "userid": int(client_id),
                "vis_state": 0,
                "note": None,
            }
        client = self._get(self.clients, client_id, "client")
        _check_client_address(data)
        client.update({k: v for k, v in data.items() if v is not None})
        return client

    # ---------------------------------------------------------------- lines

    def _lines(self, lines: list[dict[str, Any]], currency: str, obj: str) -> Decimal:
        if not lines:
            raise Refused(2001, "lines", "At least one line is required.", obj)
        total = Decimal(0)
        for line in lines:
            if line["unit_cost"].get("code", currency) != currency:
                raise Refused(2001, "unit_cost", "Line currency differs from the document.", "line")
            unit = _cents(Decimal(line["unit_cost"]["amount"]))  # kept to two decimals
            amount = _cents(Decimal(str(line.get("qty", 1))) * unit)
            line["unit_cost"] = _money(unit, currency)
            line["amount"] = _money(amount, currency)
            total += amount
            for key in ("taxAmount1", "taxAmount2"):
                if line.get(key) in (None, ""):
                    continue
                percent = Decimal(str(line[key]))
                if _places(percent) > 3 or not 0 <= percent <= 100:
                    raise Refused(
                        2001, key, "Tax percentage must be 0 to 100, up to 3 decimals.", "line"
                    )
                total += _cents(amount * percent / 100)
        return total

    # -------------------------------------------------------------- invoices

    def _invoice(self, data: dict[str, Any]) -> dict[str, Any]:
        client = self.clients.get(str(data.get("customerid")))
        if client is None or client["vis_state"] != 0:
            raise Refused(2001, "customerid", "Client not found.", "invoice")
        number = data.get("invoice_number")
        if any(i["invoice_number"] == number for i in self.invoices.values()):
            raise Refused(2001, "invoice_number", "Invoice number already exists.", "invoice")
        code = data["currency_code"]
        total = self._lines(data.get("lines") or [], code, "invoice")
        data = {k: v for k, v in data.items() if k != "due_date"}  # read-only
        data.setdefault("due_offset_days", 0)
        invoice_id = str(next(self.ids))
        invoice = {
            **data,
            "id": int(invoice_id),
            "invoiceid": int(invoice_id),
            "organization": client.get("organization") or "",
            "current_organization": client.get("organization") or "",
            "vis_state": 0,
            "sent": False,
            "amount": _money(total, code),
        }
        self.invoices[invoice_id] = invoice
        self._refresh(invoice)
        return invoice

    def _update_invoice(self, invoice_id: str, data: dict[str, Any]) -> dict[str, Any]:
        invoice = self._get(self.invoices, invoice_id, "invoice")
        data = dict(data)
        data.pop("due_date", None)  # read-only: create_date + due_offset_days
        if data.pop("action_mark_as_sent", False):
            invoice["sent"] = True
        if "lines" in data:
            total = self._lines(data["lines"], invoice["currency_code"], "invoice")
            invoice["amount"] = _money(total, invoice["currency_code"])
        invoice.update(data)
        self._refresh(invoice)
        return invoice

    def _refresh(self, invoice: dict[str, Any]) -> None:
        created = date.fromisoformat(invoice["create_date"])
        invoice["due_date"] = (created + timedelta(days=invoice["due_offset_days"])).isoformat()
        code = invoice["currency_code"]
        amount = Decimal(invoice["amount"]["amount"])
        paid = sum(
            (Decimal(p["amount"]["amount"]) for p in self.active_payments(str(invoice["id"]))),
            Decimal(0),
        )
        invoice["paid"] = _money(paid, code)
        invoice["outstanding"] = _money(amount - paid, code)
        invoice["payment_status"] = (
            "unpaid" if paid == 0 else "paid" if paid >= amount else "partial"
        )
        if not invoice["sent"]:
            v3 = "draft"
        elif paid == 0:
            v3 = "sent"
        else:
            v3 = "paid" if paid >= amount else "partial"
        invoice["v3_status"] = v3
        invoice["status"] = STATUS_CODES[v3]
        invoice["display_status"] = "draft" if v3 == "draft" else "sent"

    # ---------------------------------------------------------- credit notes

    def _credit(self, data: dict[str, Any]) -> dict[str, Any]:
        client = self.clients.get(str(data.get("clientid")))
        if client is None or client["vis_state"] != 0:
            raise Refused(2001, "clientid", "Client not found.", "credit_note")
        if any(n["credit_number"] == data.get("credit_number") for n in self.credit_notes.values()):
            raise Refused(2001, "credit_number", "Credit number already exists.", "credit_note")
        code = data["currency_code"]
        total = self._lines(data.get("lines") or [], code, "credit_note")
        return self._store_credit(
            {**data, "credit_type": data.get("credit_type") or "goodwill"}, total, code
        )

    def _store_credit(self, data: dict[str, Any], total: Decimal, code: str) -> dict[str, Any]:
        credit_id = str(next(self.ids))
        note = {
            **data,
            "id": int(credit_id),
            "creditid": int(credit_id),
            "vis_state": 0,
            "amount": _money(total, code),
            "currency_code": code,
        }
        self.credit_notes[credit_id] = note
        return note

    # -------------------------------------------------------------- payments

    def _payment(self, data: dict[str, Any]) -> dict[str, Any]:
        invoice = self.invoices.get(str(data.get("invoiceid")))
        if invoice is None or invoice["vis_state"] != 0:
            raise Refused(2001, "invoiceid", "Invoice not found.", "payment")
        kind = data.get("type", "Check")
        if kind not in PAYMENT_TYPES:
            raise Refused(2001, "type", f"Invalid payment type {kind}.", "payment")
        code = invoice["currency_code"]
        if data["amount"].get("code", code) != code:
            raise Refused(2001, "amount", "Payment currency differs from the invoice.", "payment")
        amount = Decimal(data["amount"]["amount"])
        if amount <= 0 or _places(amount) > 2:
            raise Refused(2001, "amount", "Amount must be positive, to 2 decimals.", "payment")
        client_id = str(invoice["customerid"])
        outstanding = Decimal(invoice["outstanding"]["amount"])
        applied = min(amount, outstanding)
        from_credit = kind == "Credit"
        if from_credit and applied > self.credit_balance(client_id):
            raise Refused(
                2001,
                "amount",
                f"Amount exceeds the client's credit of {self.credit_balance(client_id)}.",
                "payment",
            )
        payment_id = str(next(self.ids))
        overpayment = None
        if amount > applied and not from_credit:
            overpayment = self._store_credit(
                {
                    "clientid": int(client_id),
                    "credit_type": "overpayment",
                    "credit_number": f"OP-{payment_id}",
                    "description": f"Overpayment: invoice {invoice['invoice_number']}",
                },
                amount - applied,
                code,
            )
        payment = {
            **data,
            "type": kind,
            "id": int(payment_id),
            "logid": int(payment_id),
            "clientid": int(client_id),
            "amount": _money(applied, code),
            "from_credit": from_credit,
            "overpaymentid": overpayment["id"] if overpayment else None,
            "vis_state": 0,
        }
        self.payments[payment_id] = payment
        self._refresh(invoice)
        return payment

    def _update_payment(self, payment_id: str, data: dict[str, Any]) -> dict[str, Any]:
        payment = self._get(self.payments, payment_id, "payment")
        if payment["vis_state"] != 0:
            raise Refused(1012, "paymentid", "Payment not found.", "payment")
        invoice = self.invoices[str(payment["invoiceid"])]
        code = invoice["currency_code"]
        if "amount" in data:
            amount = Decimal(data["amount"]["amount"])
            room = Decimal(payment["amount"]["amount"]) + Decimal(invoice["outstanding"]["amount"])
            if amount <= 0 or _places(amount) > 2 or amount > room:
                raise Refused(
                    2001, "amount", f"Amount must be positive and at most {room}.", "payment"
                )
            payment["amount"] = _money(amount, code)
        if data.get("vis_state") == 1:
            payment["vis_state"] = 1
        payment.update(
            {k: v for k, v in data.items() if k in ("note", "date", "type", "transactionid")}
        )
        self._refresh(invoice)
        return payment


# A client's primary address as FreshBooks' Clients resource lists it: two street lines, city,
# province, postal code and country, each a string; no length is published.
CLIENT_ADDRESS = ("p_street", "p_street2", "p_city", "p_province", "p_code", "p_country")


def _check_client_address(data: dict[str, Any]) -> None:
    for name in CLIENT_ADDRESS:
        if not isinstance(data.get(name, ""), str | None):
            raise Refused(2001, name, f"{name} must be a string.", "client")
