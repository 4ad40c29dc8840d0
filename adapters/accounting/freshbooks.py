"""FreshBooks through its REST API with httpx (OAuth2 bearer token).

Shapes: ``{"client": {...}}`` / ``{"invoice": {...}}`` / ``{"payment": {...}}`` in,
``{"response": {"result": {...}}}`` out, errors as ``{"response": {"errors": [{errno, field,
message}]}}``. FreshBooks has no idempotency header, so before creating anything the client
searches for it (invoice by number, credit note by number, payment by the ledger key in its
note): a re-send after a lost answer finds the first document instead of making a second.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from adapters.accounting import documents as docs
from adapters.accounting.addresses import parts
from adapters.accounting.client import ExportKey, Sent
from adapters.accounting.config import Connection
from adapters.accounting.errors import NotAuthorised, RemoteRejected, RemoteUnavailable
from adapters.accounting.http import http_client, send
from adapters.accounting.policy import CallPolicy
from adapters.accounting.rounding import per_line_total
from domain.address import PostalAddress

BASE_URL = "https://api.freshbooks.com"

#: FreshBooks' payment types; a ledger method not listed travels as "Other".
PAYMENT_TYPES = {
    "bank transfer": "Bank Transfer",
    "card": "Credit Card",
    "credit card": "Credit Card",
    "paypal": "PayPal",
    "cash": "Cash",
    "cheque": "Check",
    "check": "Check",
    "ach": "ACH",
}


def _amount(value: Decimal, currency: str) -> dict[str, str]:
    return {"amount": format(value, "f"), "code": currency}


class FreshBooksClient:
    system = "freshbooks"

    def __init__(self, connection: Connection, policy: CallPolicy) -> None:
        self.connection = connection
        self.policy = policy
        self.mapping = connection.mapping
        self.http: httpx.Client = http_client(
            connection.base_url or BASE_URL,
            connection.timeout_seconds,
            {
                "Authorization": f"Bearer {connection.access_token.get_secret_value()}",
                "Api-Version": "alpha",
                "Accept": "application/json",
            },
        )
        self.account = f"/accounting/account/{connection.account_id}"

    def _call(
        self,
        what: str,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        def attempt() -> dict[str, Any]:
            request = self.http.build_request(method, path, json=body, params=params)
            response = send(self.http, what, request)
            if response.status_code == 401:
                raise NotAuthorised(f"{what}: FreshBooks refused the access token")
            try:
                document = response.json()
            except ValueError:
                raise RemoteUnavailable(f"{what}: {response.status_code}, not JSON") from None
            errors = (document.get("response") or {}).get("errors") or []
            if response.status_code >= 500:
                raise RemoteUnavailable(f"{what}: {response.status_code}")
            if response.status_code >= 400 or errors:
                text = "; ".join(
                    f"{e.get('field') or e.get('object') or 'error'}: {e.get('message')}"
                    f" (errno {e.get('errno')})"
                    for e in errors
                ) or str(response.status_code)
                raise RemoteRejected(f"{what}: {text}")
            result: dict[str, Any] = (document.get("response") or {}).get("result") or {}
            return result

        return self.policy.call(what, attempt)

    def expected_total(self, lines: tuple[docs.Line, ...], currency: str) -> Decimal:
        return per_line_total(lines, currency, unit_places=None)

    def _lines(self, lines: tuple[docs.Line, ...], currency: str) -> list[dict[str, Any]]:
        return [
            {
                "name": line.description[:200],
                "description": line.description,
                "qty": format(line.quantity, "f"),
                "unit_cost": _amount(line.unit_price, currency),
                "taxName1": line.tax_description or f"Tax {line.tax_rate}%",
                "taxAmount1": format(line.tax_rate.normalize(), "f"),  # a percentage
            }
            for line in lines
        ]

    # ---------------------------------------------------------------- clients

    def contact(self, contact: docs.Contact, known_id: str | None, key: ExportKey) -> Sent:
        # FreshBooks has no account-number field: the account number rides in the
        # organisation as "Name (ACCOUNT)" and is matched exactly, never the name alone.
        body = {
            "client": {
                "organization": f"{contact.name} ({contact.account_number})",
                "email": contact.email or None,
                "currency_code": contact.currency,
                **_address(contact.address),
                "vat_number": contact.tax_number or None,
            }
        }
        if known_id is not None:
            self._call(
                "update client", "PUT", f"{self.account}/users/clients/{known_id}", body=body
            )
            return Sent(known_id)
        found = self._find_client(contact)
        if found is not None:
            return Sent(found)
        made = self._call("create client", "POST", f"{self.account}/users/clients", body=body)
        return Sent(str(made["client"]["id"]))

    def _find_client(self, contact: docs.Contact) -> str | None:
        if contact.external_id.isdigit():
            try:
                result = self._call(
                    "get client", "GET", f"{self.account}/users/clients/{contact.external_id}"
                )
                return str(result["client"]["id"])
            except RemoteRejected:
                pass  # not a FreshBooks client id after all: fall back to the account number
        suffix = f"({contact.account_number})"
        result = self._call(
            "find client",
            "GET",
            f"{self.account}/users/clients",
            params={"search[organization_like]": suffix},
        )
        for client in result.get("clients", []):
            if str(client.get("organization", "")).endswith(suffix):
                return str(client["id"])
        return None

    # -------------------------------------------------------------- documents

    def invoice(self, invoice: docs.SalesInvoice, contact_id: str, key: ExportKey) -> Sent:
        found = self._call(
            "find invoice",
            "GET",
            f"{self.account}/invoices/invoices",
            params={"search[invoice_number]": invoice.number},
        )
        for existing in found.get("invoices", []):
            if existing.get("invoice_number") == invoice.number:
                return Sent(str(existing["id"]), Decimal(existing["amount"]["amount"]))
        body = {
            "invoice": {
                "customerid": int(contact_id),
                "create_date": invoice.invoice_date.isoformat(),
                "due_offset_days": (invoice.due_date - invoice.invoice_date).days,
                "currency_code": invoice.currency,
                "invoice_number": invoice.number,
                "notes": invoice.reference,
                "lines": self._lines(invoice.lines, invoice.currency),
            }
        }
        made = self._call("create invoice", "POST", f"{self.account}/invoices/invoices", body=body)
        result = made["invoice"]
        return Sent(str(result["id"]), Decimal(result["amount"]["amount"]))

    def credit_note(
        self, note: docs.CreditNote, contact_id: str, invoice_id: str, key: ExportKey
    ) -> Sent:
        path = f"{self.account}/credit_notes/credit_notes"
        found = self._call(
            "find credit note", "GET", path, params={"search[credit_number]": note.number}
        )
        for existing in found.get("credit_notes", []):
            if existing.get("credit_number") == note.number:
                return Sent(str(existing["creditid"]), Decimal(existing["amount"]["amount"]))
        body = {
            "credit_note": {
                "clientid": int(contact_id),
                "create_date": note.issued_on.isoformat(),
                "currency_code": note.currency,
                "credit_number": note.number,
                "notes": f"Credit against {note.invoice_number}: {note.reason}",
                "lines": self._lines(note.lines, note.currency),
            }
        }
        made = self._call("create credit note", "POST", path, body=body)
        result = made["credit_note"]
        return Sent(str(result["creditid"]), Decimal(result["amount"]["amount"]))

    def payment(
        self, payment: docs.PaymentAllocation, contact_id: str, invoice_id: str, key: ExportKey
    ) -> Sent:
        path = f"{self.account}/payments/payments"
        marker = f"tollbook:{key.stable}"
        found = self._call("find payment", "GET", path, params={"search[invoiceid]": invoice_id})
        for existing in found.get("payments", []):
            if marker in str(existing.get("note", "")):
                return Sent(str(existing["id"]))
        body = {
            "payment": {
                "invoiceid": int(invoice_id),
                "amount": _amount(payment.amount, payment.currency),
                "date": payment.paid_on.isoformat(),
                "type": PAYMENT_TYPES.get(payment.method.strip().lower(), "Other"),
                "note": f"{payment.reference} {marker}".strip(),
            }
        }
        made = self._call("create payment", "POST", path, body=body)
        return Sent(str(made["payment"]["id"]))

    def void(self, void: docs.Void, invoice_id: str, key: ExportKey) -> Sent:
        # FreshBooks has no "void" status: the invoice is moved to deleted (vis_state 1).
        self._call(
            "void invoice",
            "PUT",
            f"{self.account}/invoices/invoices/{invoice_id}",
            body={"invoice": {"vis_state": 1}},
        )
        return Sent(invoice_id)


def _address(address: PostalAddress) -> dict[str, str]:
    """The address in a client's primary-address fields (p_street, p_street2, p_city,
    p_province, p_code, p_country; FreshBooks' own examples give the country by name, as
    "Canada"). FreshBooks publishes no lengths for them; two street fields hold every line.
    An empty part is sent empty, so an update clears what the customer no longer has."""
    if address.is_empty:
        return {}
    names = ("p_street", "p_street2", "p_city", "p_province", "p_code")
    fitted = dict(zip(names, parts(address, 2, "FreshBooks"), strict=True))
    return {**fitted, "p_country": address.country_name if address.country else ""}
