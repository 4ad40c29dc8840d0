"""A fake Xero organisation that behaves like the real Accounting API for what tollbook uses.

Every request body is validated against the official xero-python SDK's models, and also
against Xero's official OpenAPI document when ``TOLLBOOK_XERO_OPENAPI`` names it (see
tests/fakes/xero_contract.py).
Business rules applied, as Xero words them: unique contact names (among active contacts) and
invoice numbers, valid account codes and tax types, payments only on AUTHORISED documents and
never above the amount due; a payment is removed by POST /Payments/{id} with Status DELETED,
which gives the money back to what it paid (AmountDue restored, PAID back to AUTHORISED); an
invoice with a payment or credit note on it cannot be voided, nor take a new DueDate (an
AUTHORISED one without either can); an overpayment (a
RECEIVE-OVERPAYMENT bank transaction) is customer credit that a payment against it refunds.
Arithmetic as Xero documents it ("Rounding in Xero", the LineItem schema): Quantity and
UnitAmount kept to 4 dp (UnitAmount to ``unitdp``, default 2), LineAmount = round(Quantity x
UnitAmount, 2) (less a line's DiscountRate or DiscountAmount, on invoices only; a line may be
negative, a document's total may not), TaxAmount per line = round(LineAmount x rate, 2)
unless the line gives one
(accepted as sent, whatever it differs by: Xero publishes no bound; differences are listed in
``tax_overrides``), SubTotal, TotalTax and Total summed from the lines. 60 calls per minute
then 429 with Retry-After, and Idempotency-Key replays answering with the first response.
A contact's Addresses obey Xero's Address type: AddressType POBOX or STREET, AddressLine1-4 at
most 500 characters, City and Region 255, PostalCode 50, Country 50 letters (A-Z, a-z) only.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import parse_qs

from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

from tests.fakes.server import FakeClock, FakeService, Request, Response
from tests.fakes.xero_contract import (
    model_for,
    openapi_validator,
    openapi_violations,
    sdk_violations,
)

API_PREFIX = "/api.xro/2.0"
TOKEN_PATH = "/connect/token"


class _SpecRequest:
    """The request as openapi-core's protocol wants it."""

    def __init__(self, host_url: str, request: Request) -> None:
        self.host_url = host_url
        self.path = request.path
        self.method = request.method.lower()
        self.body = request.body or None
        self.content_type = request.headers.get("content-type", "application/json").lower()
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(
                [(k, v) for k, values in request.query.items() for v in values]
            ),
            header=Headers(list(request.headers.items())),
            cookie=ImmutableMultiDict(),
        )


def _dp(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def _ms_date(day: date) -> str:
    moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return f"/Date({int(moment.timestamp() * 1000)}+0000)/"


def _parse_date(value: Any) -> date:
    text = str(value)
    match = re.match(r"/Date\((-?\d+)", text)
    if match:
        return datetime.fromtimestamp(int(match.group(1)) / 1000, tz=UTC).date()
    return date.fromisoformat(text[:10])


class ValidationFailed(Exception):
    def __init__(self, *messages: str) -> None:
        super().__init__("; ".join(messages))
        self.messages = list(messages)


class FakeXero(FakeService):
    CLIENT_ID = "fake-client-id"
    CLIENT_SECRET = "fake-client-secret"
    TENANT = "b1f2c3d4-0000-4000-8000-000000000001"

    def __init__(self, clock: FakeClock | None = None, calls_per_minute: int = 60) -> None:
        super().__init__()
        self.clock = clock or FakeClock()
        self.calls_per_minute = calls_per_minute
        self.api = openapi_validator(self.url + API_PREFIX)
        self.tokens: set[str] = set()
        self.calls: list[float] = []
        self.idempotent: dict[str, tuple[str, Response]] = {}
        self.spec_violations: list[str] = []
        self.accounts = {"200": "REVENUE", "201": "REVENUE", "260": "OTHERINCOME", "090": "BANK"}
        self.tax_rates = {
            "OUTPUT2": Decimal("20"),
            "RROUTPUT": Decimal("5"),
            "ZERORATEDOUTPUT": Decimal("0"),
            # a UK organisation's exempt income and zero-rated EC services (reverse charge)
            "EXEMPTOUTPUT": Decimal("0"),
            "ECZROUTPUTSERVICES": Decimal("0"),
            "NONE": Decimal("0"),
        }
        self.contacts: dict[str, dict[str, Any]] = {}
        self.invoices: dict[str, dict[str, Any]] = {}
        self.credit_notes: dict[str, dict[str, Any]] = {}
        self.payments: dict[str, dict[str, Any]] = {}
        self.bank_transactions: dict[str, dict[str, Any]] = {}
        self.overpayments: dict[str, dict[str, Any]] = {}
        self.rate_limited = 0
        # (description, Xero's own tax, the tax sent) for each override that differs.
        self.tax_overrides: list[tuple[str, Decimal, Decimal]] = []

    def connection_settings(self) -> dict[str, Any]:
        return {
            "system": "xero",
            "base_url": self.url + API_PREFIX,
            "token_url": self.url + TOKEN_PATH,
            "tenant_id": self.TENANT,
            "client_id": self.CLIENT_ID,
            "client_secret": self.CLIENT_SECRET,
            "timeout_seconds": 5,
        }

    # ------------------------------------------------------------------ plumbing

    @staticmethod
    def _json(status: int, document: Any, headers: dict[str, str] | None = None) -> Response:
        body = json.dumps(document, default=_encode).encode()
        return Response(status, body, headers=headers or {})

    def _envelope(self, name: str, items: list[dict[str, Any]]) -> Response:
        return self._json(
            200,
            {
                "Id": str(uuid.uuid4()),
                "Status": "OK",
                "ProviderName": "tollbook tests",
                "DateTimeUTC": _ms_date(date(2026, 10, 1)),
                name: items,
            },
        )

    def _validation(self, messages: list[str], element: dict[str, Any] | None = None) -> Response:
        return self._json(
            400,
            {
                "ErrorNumber": 10,
                "Type": "ValidationException",
                "Message": "A validation exception occurred",
                "Elements": [
                    {**(element or {}), "ValidationErrors": [{"Message": m} for m in messages]}
                ],
            },
        )

    def handle(self, request: Request) -> Response:
        if request.path == TOKEN_PATH:
            return self._token(request)
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
            return self._json(401, {"Title": "Unauthorized", "Status": 401})
        if request.headers.get("xero-tenant-id") != self.TENANT:
            return self._json(403, {"Title": "Forbidden", "Detail": "AuthenticationUnsuccessful"})
        now = self.clock()
        self.calls = [t for t in self.calls if now - t < 60]
        if len(self.calls) >= self.calls_per_minute:
            self.rate_limited += 1
            wait = math.ceil(60 - (now - self.calls[0]))
            return Response(
                429,
                b'{"Title": "Too Many Requests"}',
                headers={"Retry-After": str(wait), "X-Rate-Limit-Problem": "minute"},
            )
        self.calls.append(now)
        problems = self._check_spec(request)
        if problems:
            self.spec_violations.append(f"{request.method} {request.path}: {problems}")
            return self._validation([f"request does not match the OpenAPI document: {problems}"])
        key = request.headers.get("idempotency-key")
        if key and request.method != "GET" and key in self.idempotent:
            return self.idempotent[key][1]
        response = self._route(request)
        if key and request.method != "GET":
            self.idempotent[key] = (request.path, response)
        return response

    def _check_spec(self, request: Request) -> str:
        problems = []
        path = request.path[len(API_PREFIX) :] if request.path.startswith(API_PREFIX) else ""
        if request.body:
            try:
                body = json.loads(request.body, parse_float=Decimal)
            except ValueError as error:
                return f"body is not JSON: {error}"
            model = model_for(request.method, [p for p in path.split("/") if p], body)
            if model is not None:
                problems.append(sdk_violations(model, body))
        if self.api is not None:
            problems.append(openapi_violations(self.api, _SpecRequest(self.url, request)))
        return "; ".join(p for p in problems if p)

    def _token(self, request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        if request.method != "POST" or form.get("grant_type") != "client_credentials":
            return self._json(400, {"error": "unsupported_grant_type"})
        if (form.get("client_id"), form.get("client_secret")) != (
            self.CLIENT_ID,
            self.CLIENT_SECRET,
        ):
            return self._json(400, {"error": "invalid_client"})
        token = f"tok-{uuid.uuid4().hex}"
        self.tokens.add(token)
        return self._json(
            200,
            {
                "access_token": token,
                "expires_in": 1800,
                "token_type": "Bearer",
                "scope": "accounting.transactions accounting.contacts",
            },
        )

    def _route(self, request: Request) -> Response:
        path = request.path[len(API_PREFIX) :] if request.path.startswith(API_PREFIX) else ""
        body = json.loads(request.body, parse_float=Decimal) if request.body else {}
        parts = [p for p in path.split("/") if p]
        try:
            match (request.method, parts):
                case ("GET", ["Contacts"]):
                    return self._envelope("Contacts", self._where(self.contacts, request))
                case ("PUT" | "POST", ["Contacts"]):
                    return self._envelope(
                        "Contacts", [self._new_contact(c) for c in body["Contacts"]]
                    )
                case ("POST", ["Contacts", contact_id]):
                    return self._envelope(
                        "Contacts", [self._update_contact(contact_id, body["Contacts"][0])]
                    )
                case ("GET", ["Invoices"]):
                    numbers = request.query.get("InvoiceNumbers", [])
                    wanted = {n for value in numbers for n in value.split(",")}
                    found = [i for i in self.invoices.values() if i["InvoiceNumber"] in wanted]
                    return self._envelope(
                        "Invoices", found if numbers else list(self.invoices.values())
                    )
                case ("PUT", ["Invoices"]):
                    unitdp = int(request.query.get("unitdp", ["2"])[0])
                    return self._envelope(
                        "Invoices", [self._new_invoice(i, unitdp) for i in body["Invoices"]]
                    )
                case ("GET", ["Invoices", invoice_id]):
                    return self._envelope("Invoices", [self._invoice(invoice_id)])
                case ("POST", ["Invoices", invoice_id]):
                    return self._envelope(
                        "Invoices", [self._update_invoice(invoice_id, body["Invoices"][0])]
                    )
                case ("GET", ["CreditNotes", note_id]):
                    return self._envelope("CreditNotes", [self.credit_notes[note_id]])
                case ("GET", ["CreditNotes"]):
                    return self._envelope("CreditNotes", self._where(self.credit_notes, request))
                case ("PUT", ["CreditNotes"]):
                    unitdp = int(request.query.get("unitdp", ["2"])[0])
                    return self._envelope(
                        "CreditNotes",
                        [self._new_credit_note(n, unitdp) for n in body["CreditNotes"]],
                    )
                case ("PUT", ["CreditNotes", note_id, "Allocations"]):
                    return self._envelope(
                        "Allocations", [self._allocate(note_id, a) for a in body["Allocations"]]
                    )
                case ("GET", ["Payments"]):
                    return self._envelope("Payments", self._where(self.payments, request))
                case ("PUT" | "POST", ["Payments"]):
                    items = body.get("Payments", [body])
                    return self._envelope("Payments", [self._new_payment(p) for p in items])
                case ("GET", ["Payments", payment_id]):
                    return self._envelope("Payments", [self.payments[payment_id]])
                case ("POST", ["Payments", payment_id]):
                    return self._envelope("Payments", [self._delete_payment(payment_id, body)])
                case ("GET", ["BankTransactions"]):
                    return self._envelope(
                        "BankTransactions", self._where(self.bank_transactions, request)
                    )
                case ("PUT", ["BankTransactions"]):
                    return self._envelope(
                        "BankTransactions",
                        [self._new_overpayment(t) for t in body["BankTransactions"]],
                    )
                case ("GET", ["Overpayments", overpayment_id]):
                    return self._envelope("Overpayments", [self.overpayments[overpayment_id]])
        except ValidationFailed as failure:
            return self._validation(failure.messages)
        except KeyError as missing:
            return self._json(404, {"Title": "Not Found", "Detail": f"{missing} not found"})
        return self._json(
            404, {"Title": "Not Found", "Detail": f"no route {request.method} {path}"}
        )

    @staticmethod
    def _where(table: dict[str, dict[str, Any]], request: Request) -> list[dict[str, Any]]:
        clause = request.query.get("where", [""])[0]
        if not clause:
            return list(table.values())
        match = re.fullmatch(r'\s*([\w.]+)\s*==\s*(guid\()?"([^"]*)"\)?\s*', clause)
        if not match:
            raise ValidationFailed(f"unsupported where clause {clause!r}")
        field_name, guid, value = match.groups()
        if guid:  # a guid matches in any letter case; text exactly
            return [r for r in table.values() if _field(r, field_name).lower() == value.lower()]
        return [row for row in table.values() if _field(row, field_name) == value]

    # ------------------------------------------------------------------ contacts

    def _new_contact(self, data: dict[str, Any]) -> dict[str, Any]:
        name = str(data.get("Name") or "").strip()
        if not name:
            raise ValidationFailed("The contact name must be specified.")
        if self._name_taken(name, None):
            raise ValidationFailed(_name_taken_message(name))
        _check_addresses(data)
        contact_id = str(uuid.uuid4())
        contact = {**_plain(data), "ContactID": contact_id, "ContactStatus": "ACTIVE"}
        self.contacts[contact_id] = contact
        return contact

    def _update_contact(self, contact_id: str, data: dict[str, Any]) -> dict[str, Any]:
        contact = self.contacts[contact_id]
        new_name = str(data.get("Name") or contact["Name"]).strip()
        if self._name_taken(new_name, contact_id):
            raise ValidationFailed(_name_taken_message(new_name))
        _check_addresses(data)
        contact.update(_plain(data))
        contact["ContactID"] = contact_id
        return contact

    def _name_taken(self, name: str, other_than: str | None) -> bool:
        """Xero: "The contact name must be unique across all active contacts" (an archived
        contact's name may be reused; the comparison ignores letter case and outer spaces)."""
        return any(
            str(c.get("Name", "")).strip().lower() == name.lower()
            and cid != other_than
            and c.get("ContactStatus", "ACTIVE") == "ACTIVE"
            for cid, c in self.contacts.items()
        )

    # ------------------------------------------------------------------ documents

    def _lines(
        self, data: dict[str, Any], unitdp: int, *, discounts: bool = True
    ) -> tuple[list[dict[str, Any]], Decimal, Decimal]:
        """Lines as Xero computes them. A line may be negative (a discount line); on a sales
        invoice a line may also carry DiscountRate (percent) or DiscountAmount, which Xero
        takes off the line: LineAmount = round(Quantity x UnitAmount x (1 - rate / 100), 2)
        or round(Quantity x UnitAmount - amount, 2). Credit notes do not support discounts
        (the LineItem schema's own words)."""
        if data.get("LineAmountTypes", "Exclusive") != "Exclusive":
            raise ValidationFailed("this fake organisation only takes tax-exclusive amounts")
        problems: list[str] = []
        lines, subtotal, total_tax = [], Decimal(0), Decimal(0)
        for raw in data.get("LineItems") or []:
            quantity = _dp(Decimal(str(raw.get("Quantity", 1))), 4)
            unit = _dp(Decimal(str(raw.get("UnitAmount", 0))), unitdp)
            code, tax_type = raw.get("AccountCode"), raw.get("TaxType")
            if code not in self.accounts or self.accounts[code] == "BANK":
                problems.append(f"Account code '{code}' is not a valid code for this document.")
            if tax_type not in self.tax_rates:
                problems.append(
                    f"The TaxType code '{tax_type}' does not exist or cannot be used for this"
                    " type of transaction."
                )
                continue
            rate, off = raw.get("DiscountRate"), raw.get("DiscountAmount")
            if (rate is not None or off is not None) and not discounts:
                problems.append("Discounts are not supported on credit notes.")
                continue
            gross = quantity * unit
            if rate is not None:
                gross = gross * (1 - Decimal(str(rate)) / 100)
            if off is not None:
                gross = gross - Decimal(str(off))
            line_amount = _dp(gross, 2)
            computed = _dp(line_amount * self.tax_rates[tax_type] / 100, 2)
            tax = computed
            if raw.get("TaxAmount") is not None:
                # Xero: "This value can be overriden if the calculated <TaxAmount> is not
                # correct". It is taken as sent (rounded to 2 dp); an override that differs
                # from Xero's own figure is kept for tests to see, not refused.
                tax = _dp(Decimal(str(raw["TaxAmount"])), 2)
                if tax != computed:
                    self.tax_overrides.append((raw.get("Description", ""), computed, tax))
            subtotal += line_amount
            total_tax += tax
            lines.append(
                {
                    **_plain(raw),
                    "Quantity": quantity,
                    "UnitAmount": unit,
                    "LineAmount": line_amount,
                    "TaxAmount": tax,
                    "LineItemID": str(uuid.uuid4()),
                }
            )
        if not lines and not problems:
            problems.append("A document must have at least one line item.")
        if problems:
            raise ValidationFailed(*problems)
        return lines, subtotal, total_tax

    def _contact_ref(self, data: dict[str, Any]) -> dict[str, Any]:
        contact_id = (data.get("Contact") or {}).get("ContactID")
        if contact_id not in self.contacts:
            raise ValidationFailed("A Contact must be specified for this type of transaction")
        contact = self.contacts[contact_id]
        return {"ContactID": contact_id, "Name": contact["Name"]}

    def _new_invoice(self, data: dict[str, Any], unitdp: int) -> dict[str, Any]:
        if data.get("Type") != "ACCREC":
            raise ValidationFailed("this fake organisation only takes sales invoices (ACCREC)")
        number = data.get("InvoiceNumber")
        if number and any(i["InvoiceNumber"] == number for i in self.invoices.values()):
            raise ValidationFailed("Invoice # must be unique.")
        contact = self._contact_ref(data)
        lines, subtotal, tax = self._lines(data, unitdp)
        invoice_id = str(uuid.uuid4())
        total = subtotal + tax
        if total < 0:
            raise ValidationFailed("The document total cannot be negative.")
        invoice = {
            "Type": "ACCREC",
            "InvoiceID": invoice_id,
            "InvoiceNumber": number,
            "Reference": data.get("Reference", ""),
            "Contact": contact,
            "Date": _ms_date(_parse_date(data["Date"])),
            "DueDate": _ms_date(_parse_date(data["DueDate"])),
            "Status": data.get("Status", "DRAFT"),
            "LineAmountTypes": "Exclusive",
            "LineItems": lines,
            "SubTotal": subtotal,
            "TotalTax": tax,
            "Total": total,
            "AmountDue": total,
            "AmountPaid": Decimal(0),
            "AmountCredited": Decimal(0),
            "CurrencyCode": data.get("CurrencyCode", "GBP"),
            "Payments": [],
            "CreditNotes": [],
        }
        self.invoices[invoice_id] = invoice
        return invoice

    def _invoice(self, invoice_id: str) -> dict[str, Any]:
        return self.invoices[invoice_id]

    def _update_invoice(self, invoice_id: str, data: dict[str, Any]) -> dict[str, Any]:
        invoice = self.invoices[invoice_id]
        status = data.get("Status")
        if status == "VOIDED":
            if invoice["Status"] not in ("AUTHORISED", "SUBMITTED", "DRAFT"):
                raise ValidationFailed("Invoice not of valid status for modification")
            if invoice["AmountPaid"] or invoice["AmountCredited"]:
                raise ValidationFailed(
                    "This document cannot be edited as it has a payment or credit note allocated"
                    " to it."
                )
            invoice["Status"] = "VOIDED"
            invoice["AmountDue"] = Decimal(0)
        if "DueDate" in data:
            # an approved invoice's due date may change; not once money is allocated to it
            # (Xero: an invoice with payments or credit notes "cannot be edited"), nor a
            # PAID, VOIDED or DELETED one
            if invoice["Status"] not in ("AUTHORISED", "SUBMITTED", "DRAFT"):
                raise ValidationFailed("Invoice not of valid status for modification")
            if invoice["AmountPaid"] or invoice["AmountCredited"]:
                raise ValidationFailed(
                    "This document cannot be edited as it has a payment or credit note allocated"
                    " to it."
                )
            invoice["DueDate"] = _ms_date(_parse_date(data["DueDate"]))
        return invoice

    def _new_credit_note(self, data: dict[str, Any], unitdp: int) -> dict[str, Any]:
        number = data.get("CreditNoteNumber")
        if number and any(n["CreditNoteNumber"] == number for n in self.credit_notes.values()):
            raise ValidationFailed("Credit Note # must be unique.")
        contact = self._contact_ref(data)
        lines, subtotal, tax = self._lines(data, unitdp, discounts=False)
        if subtotal + tax < 0:
            raise ValidationFailed("The document total cannot be negative.")
        note_id = str(uuid.uuid4())
        note = {
            "Type": "ACCRECCREDIT",
            "CreditNoteID": note_id,
            "CreditNoteNumber": number,
            "Reference": data.get("Reference", ""),
            "Contact": contact,
            "Date": _ms_date(_parse_date(data["Date"])),
            "Status": data.get("Status", "DRAFT"),
            "LineAmountTypes": "Exclusive",
            "LineItems": lines,
            "SubTotal": subtotal,
            "TotalTax": tax,
            "Total": subtotal + tax,
            "RemainingCredit": subtotal + tax,
            "CurrencyCode": data.get("CurrencyCode", "GBP"),
            "Allocations": [],
        }
        self.credit_notes[note_id] = note
        return note

    def _allocate(self, note_id: str, data: dict[str, Any]) -> dict[str, Any]:
        note = self.credit_notes[note_id]
        invoice = self.invoices.get((data.get("Invoice") or {}).get("InvoiceID", ""))
        if invoice is None:
            raise ValidationFailed("Invoice could not be found")
        amount = Decimal(str(data.get("Amount")))
        if note["Status"] != "AUTHORISED" or invoice["Status"] != "AUTHORISED":
            raise ValidationFailed("Allocations can only be made to/from Authorised documents")
        if amount > note["RemainingCredit"]:
            raise ValidationFailed("The amount allocated exceeds the remaining credit")
        if amount > invoice["AmountDue"]:
            raise ValidationFailed("The amount allocated exceeds the amount due on the invoice")
        note["RemainingCredit"] -= amount
        invoice["AmountDue"] -= amount
        invoice["AmountCredited"] += amount
        if invoice["AmountDue"] == 0:
            invoice["Status"] = "PAID"
        if note["RemainingCredit"] == 0:
            note["Status"] = "PAID"
        allocation = {
            "AllocationID": str(uuid.uuid4()),
            "Amount": amount,
            "Date": _ms_date(_parse_date(data["Date"])),
            "Invoice": {"InvoiceID": invoice["InvoiceID"]},
        }
        note["Allocations"].append(allocation)
        return allocation

    def _new_payment(self, data: dict[str, Any]) -> dict[str, Any]:
        code = (data.get("Account") or {}).get("Code")
        if self.accounts.get(code) != "BANK":
            raise ValidationFailed("Account type is invalid for making a payment to/from")
        if data.get("Overpayment"):
            return self._refund_overpayment(data, code)
        invoice = self.invoices.get((data.get("Invoice") or {}).get("InvoiceID", ""))
        if invoice is None:
            raise ValidationFailed("Invoice could not be found")
        if invoice["Status"] != "AUTHORISED":
            raise ValidationFailed("Payment can only be made against Authorised documents")
        amount = Decimal(str(data.get("Amount")))
        if amount <= 0:
            raise ValidationFailed("Payment amount must be greater than zero")
        if amount > invoice["AmountDue"]:
            raise ValidationFailed("Payment amount exceeds the amount outstanding on this document")
        payment_id = str(uuid.uuid4())
        invoice["AmountDue"] -= amount
        invoice["AmountPaid"] += amount
        if invoice["AmountDue"] == 0:
            invoice["Status"] = "PAID"
        payment = {
            "PaymentID": payment_id,
            "Amount": amount,
            "Reference": data.get("Reference", ""),
            "Date": _ms_date(_parse_date(data["Date"])),
            "Status": "AUTHORISED",
            "PaymentType": "ACCRECPAYMENT",
            "IsReconciled": False,
            "Invoice": {
                "InvoiceID": invoice["InvoiceID"],
                "InvoiceNumber": invoice["InvoiceNumber"],
            },
            "Account": {"Code": code},
        }
        self.payments[payment_id] = payment
        invoice["Payments"].append(
            {"PaymentID": payment_id, "Amount": amount, "Reference": payment["Reference"]}
        )
        return payment

    def _delete_payment(self, payment_id: str, data: dict[str, Any]) -> dict[str, Any]:
        """Xero: "Delete (reverse) a payment" by updating its Status to DELETED; a payment is
        never edited otherwise. The money goes back: the invoice owes it again (a PAID invoice
        is AUTHORISED once more), an overpayment's refund is credit again."""
        payment = self.payments[payment_id]
        if data.get("Status") != "DELETED":
            raise ValidationFailed("A payment can only be deleted: send Status DELETED")
        if payment["Status"] == "DELETED":
            raise ValidationFailed("This payment has already been deleted")
        if payment.get("IsReconciled"):
            raise ValidationFailed("Payment cannot be deleted as it has been reconciled")
        amount = payment["Amount"]
        if "Overpayment" in payment:
            overpayment = self.overpayments[payment["Overpayment"]["OverpaymentID"]]
            overpayment["RemainingCredit"] += amount
            overpayment["Status"] = "AUTHORISED"
        else:
            invoice = self.invoices[payment["Invoice"]["InvoiceID"]]
            invoice["AmountDue"] += amount
            invoice["AmountPaid"] -= amount
            invoice["Payments"] = [p for p in invoice["Payments"] if p["PaymentID"] != payment_id]
            if invoice["Status"] == "PAID" and invoice["AmountDue"] > 0:
                invoice["Status"] = "AUTHORISED"
        payment["Status"] = "DELETED"
        return payment

    # ------------------------------------------------------------------ overpayments

    def _new_overpayment(self, data: dict[str, Any]) -> dict[str, Any]:
        """Customer money on no invoice: a RECEIVE-OVERPAYMENT bank transaction, whose one line
        carries the amount (no account code: it goes to accounts receivable)."""
        if data.get("Type") != "RECEIVE-OVERPAYMENT":
            raise ValidationFailed("this fake organisation only takes RECEIVE-OVERPAYMENT")
        contact = self._contact_ref(data)
        code = (data.get("BankAccount") or {}).get("Code")
        if self.accounts.get(code) != "BANK":
            raise ValidationFailed("The BankAccount must be a bank account")
        lines = data.get("LineItems") or []
        if len(lines) != 1:
            raise ValidationFailed("An overpayment can only have one line item")
        amount = _dp(Decimal(str(lines[0].get("LineAmount") or 0)), 2)
        if amount <= 0:
            raise ValidationFailed("The overpayment amount must be greater than zero")
        overpayment_id, transaction_id = str(uuid.uuid4()), str(uuid.uuid4())
        day = _ms_date(_parse_date(data["Date"]))
        currency = data.get("CurrencyCode", "GBP")
        self.overpayments[overpayment_id] = {
            "OverpaymentID": overpayment_id,
            "Type": "RECEIVE-OVERPAYMENT",
            "Contact": contact,
            "Date": day,
            "Status": "AUTHORISED",
            "LineAmountTypes": "NoTax",
            "SubTotal": amount,
            "TotalTax": Decimal(0),
            "Total": amount,
            "RemainingCredit": amount,
            "CurrencyCode": currency,
            "Allocations": [],
            "Payments": [],
        }
        transaction = {
            "BankTransactionID": transaction_id,
            "OverpaymentID": overpayment_id,
            "Type": "RECEIVE-OVERPAYMENT",
            "Contact": contact,
            "BankAccount": {"Code": code},
            "Date": day,
            "Reference": data.get("Reference", ""),
            "Status": "AUTHORISED",
            "LineAmountTypes": "NoTax",
            "LineItems": [{**_plain(lines[0]), "LineAmount": amount}],
            "SubTotal": amount,
            "TotalTax": Decimal(0),
            "Total": amount,
            "CurrencyCode": currency,
        }
        self.bank_transactions[transaction_id] = transaction
        return transaction

    def _refund_overpayment(self, data: dict[str, Any], code: str) -> dict[str, Any]:
        """Xero: the Payments endpoint "allows you to refund prepayments and overpayments"."""
        overpayment = self.overpayments.get(data["Overpayment"].get("OverpaymentID", ""))
        if overpayment is None:
            raise ValidationFailed("Overpayment could not be found")
        if overpayment["Status"] != "AUTHORISED":
            raise ValidationFailed("Payment can only be made against Authorised documents")
        amount = Decimal(str(data.get("Amount")))
        if amount <= 0:
            raise ValidationFailed("Payment amount must be greater than zero")
        if amount > overpayment["RemainingCredit"]:
            raise ValidationFailed("Payment amount exceeds the amount outstanding on this document")
        overpayment["RemainingCredit"] -= amount
        if overpayment["RemainingCredit"] == 0:
            overpayment["Status"] = "PAID"
        payment_id = str(uuid.uuid4())
        payment = {
            "PaymentID": payment_id,
            "Amount": amount,
            "Reference": data.get("Reference", ""),
            "Date": _ms_date(_parse_date(data["Date"])),
            "Status": "AUTHORISED",
            "PaymentType": "AROVERPAYMENTPAYMENT",
            "IsReconciled": False,
            "Overpayment": {"OverpaymentID": overpayment["OverpaymentID"]},
            "Account": {"Code": code},
        }
        self.payments[payment_id] = payment
        overpayment["Payments"].append({"PaymentID": payment_id, "Amount": amount})
        return payment

    # ------------------------------------------------------------------ for tests

    def invoice_by_hand(self, number: str, account_number: str, net: Decimal, tax_type: str) -> str:
        """A person keys an invoice into Xero by hand (no API call): its InvoiceID."""
        contact_id = next(
            cid for cid, c in self.contacts.items() if c.get("AccountNumber") == account_number
        )
        made = self._new_invoice(
            {
                "Type": "ACCREC",
                "InvoiceNumber": number,
                "Contact": {"ContactID": contact_id},
                "Date": "2026-10-01",
                "DueDate": "2026-10-15",
                "Status": "AUTHORISED",
                "LineItems": [
                    {
                        "Description": "keyed in by hand",
                        "Quantity": 1,
                        "UnitAmount": net,
                        "AccountCode": "200",
                        "TaxType": tax_type,
                    }
                ],
            },
            4,
        )
        return str(made["InvoiceID"])

    def invoice_numbers(self) -> list[str]:
        return [i["InvoiceNumber"] for i in self.invoices.values()]


def _name_taken_message(name: str) -> str:
    return (
        f"The contact name {name} is already assigned to another contact. The contact name"
        " must be unique across all active contacts."
    )


def _field(row: dict[str, Any], dotted: str) -> str:
    """A field of a row by Xero's dotted name in a where clause (``Invoice.InvoiceID``)."""
    value: Any = row
    for part in dotted.split("."):
        value = value.get(part, "") if isinstance(value, dict) else ""
    return str(value)


# Xero's Address type: the longest value of each field (its "max length = N")
ADDRESS_LIMITS = {
    "AddressLine1": 500,
    "AddressLine2": 500,
    "AddressLine3": 500,
    "AddressLine4": 500,
    "City": 255,
    "Region": 255,
    "PostalCode": 50,
    "Country": 50,
    "AttentionTo": 255,
}


def _check_addresses(data: dict[str, Any]) -> None:
    messages = []
    for address in data.get("Addresses") or []:
        if address.get("AddressType") not in ("POBOX", "STREET"):
            messages.append("AddressType must be POBOX or STREET.")
        for field_name, limit in ADDRESS_LIMITS.items():
            value = address.get(field_name)
            if value is not None and len(str(value)) > limit:
                messages.append(f"{field_name} must not be longer than {limit} characters.")
        country = address.get("Country")
        if country is not None and not re.fullmatch("[A-Za-z]*", str(country)):
            messages.append("Country may contain only the letters A-Z and a-z.")
    if messages:
        raise ValidationFailed(*messages)


def _plain(data: dict[str, Any]) -> dict[str, Any]:
    """Keep only what a client may set (drop our own computed fields it echoes)."""
    return {k: v for k, v in data.items() if v is not None}


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)  # Xero's JSON carries numbers; the SDK reads them as floats
    raise TypeError(type(value).__name__)
