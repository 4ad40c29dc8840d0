"""Clear Books through its SOAP API (API key), with envelopes built by the standard library.

Endpoint ``https://secure.clearbooks.co.uk/api/soap/``; every call is a POST of a SOAP 1.1
envelope with ``SOAPAction: <namespace>#<method>`` and the API key in the ``authenticate``
header. A ``SOAP-ENV:Client`` fault is a permanent refusal; a server fault, 429 or 5xx is
transient. SOAP has no idempotency header, so every create looks its document up first
(entity by external id, invoice by number) and carries our ``external_id``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
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

ENDPOINT = "https://secure.clearbooks.co.uk/api/soap/"
NS = "https://secure.clearbooks.co.uk/api/accounting/soap/"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"

Value = str | Decimal | int | Mapping[str, Any] | Sequence[Mapping[str, Any]] | None


def _append(parent: ET.Element, name: str, value: Value) -> None:
    if value is None:
        return
    element = ET.SubElement(parent, name)
    if isinstance(value, Mapping):
        for key, inner in value.items():
            _append(element, key, inner)
    elif isinstance(value, (list, tuple)):
        for entry in value:
            _append(element, "item", entry)
    elif isinstance(value, Decimal):
        element.text = format(value, "f")
    else:
        element.text = str(value)


def envelope(api_key: str, method: str, params: Mapping[str, Value]) -> bytes:
    """A SOAP 1.1 request envelope with the authenticate header."""
    ET.register_namespace("SOAP-ENV", SOAP_ENV)
    ET.register_namespace("cb", NS)
    root = ET.Element(f"{{{SOAP_ENV}}}Envelope")
    header = ET.SubElement(root, f"{{{SOAP_ENV}}}Header")
    auth = ET.SubElement(header, f"{{{NS}}}authenticate")
    ET.SubElement(auth, "apiKey").text = api_key
    body = ET.SubElement(root, f"{{{SOAP_ENV}}}Body")
    call = ET.SubElement(body, f"{{{NS}}}{method}")
    for name, value in params.items():
        _append(call, name, value)
    text: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return text


def _plain(element: ET.Element) -> Any:
    children = list(element)
    if not children:
        return (element.text or "").strip()
    if all(child.tag == "item" for child in children):
        return [_plain(child) for child in children]
    return {child.tag.split("}")[-1]: _plain(child) for child in children}


class ClearBooksClient:
    system = "clearbooks"

    def __init__(self, connection: Connection, policy: CallPolicy) -> None:
        self.connection = connection
        self.policy = policy
        self.mapping = connection.mapping
        self.url = connection.base_url or ENDPOINT
        self.http: httpx.Client = http_client(self.url, connection.timeout_seconds, {})

    def _call(self, method: str, params: Mapping[str, Value]) -> Any:
        def attempt() -> Any:
            request = self.http.build_request(
                "POST",
                self.url,
                content=envelope(self.connection.api_key.get_secret_value(), method, params),
                headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f"{NS}#{method}"},
            )
            response = send(self.http, method, request)
            try:
                root = ET.fromstring(response.content)
            except ET.ParseError:
                raise RemoteUnavailable(
                    f"{method}: {response.status_code}, not a SOAP reply"
                ) from None
            fault = root.find(f".//{{{SOAP_ENV}}}Fault")
            if fault is not None:
                code = (fault.findtext("faultcode") or "").split(":")[-1]
                message = fault.findtext("faultstring") or "fault"
                if "authenticat" in message.lower():
                    raise NotAuthorised(f"{method}: Clear Books refused the API key")
                if code == "Client":
                    raise RemoteRejected(f"{method}: {message}")
                raise RemoteUnavailable(f"{method}: {message}")
            if response.status_code >= 400:
                raise RemoteUnavailable(f"{method}: {response.status_code}")
            result = root.find(f".//{{{NS}}}{method}Response")
            if result is None:
                raise RemoteUnavailable(f"{method}: reply without {method}Response")
            returned = result.find("return")
            return _plain(returned) if returned is not None else None

        return self.policy.call(method, attempt)

    def expected_total(self, lines: tuple[docs.Line, ...], currency: str) -> Decimal:
        return per_line_total(lines, currency, unit_places=None)

    def _items(self, lines: tuple[docs.Line, ...]) -> list[dict[str, Value]]:
        return [
            {
                "description": line.description,
                "unitPrice": line.unit_price,
                "quantity": line.quantity,
                "type": self.mapping.account_for(line.kind),
                "vatRate": (line.tax_rate / Decimal(100)).normalize(),
            }
            for line in lines
        ]

    # ---------------------------------------------------------------- contacts

    def contact(self, contact: docs.Contact, known_id: str | None, key: ExportKey) -> Sent:
        entity: dict[str, Value] = {
            "company_name": contact.name,
            "email": contact.email or None,
            **_address(contact.address),
            "vat_number": contact.tax_number or None,
            "external_id": contact.external_id or contact.account_number,
            "customer": {"default_currency": contact.currency},
        }
        if known_id is not None:
            self._call("updateEntity", {"entityId": known_id, "entity": entity})
            return Sent(known_id)
        for external in (contact.external_id, contact.account_number):
            if external:
                found = self._call("getEntityIdFromExternalId", {"externalId": external})
                if found and found != "0":
                    return Sent(str(found))
        created = self._call("createEntity", {"entity": entity})
        return Sent(str(created))

    # --------------------------------------------------------------- documents

    def _document(
        self,
        kind: str,
        number: str,
        contact_id: str,
        fields: dict[str, Value],
        lines: tuple[docs.Line, ...],
        key: ExportKey,
    ) -> Sent:
        found = self._call("getInvoiceIdFromInvoiceNumber", {"invoiceNumber": number, "type": kind})
        if found and found != "0":
            return Sent(str(found))
        invoice: dict[str, Value] = {
            "entityId": contact_id,
            "type": kind,
            "status": "approved",
            "invoiceNumber": number,
            "external_id": key.stable,
            "vatTreatment": None,
            **fields,
            "items": self._items(lines),
        }
        created = self._call("createInvoice", {"invoice": invoice})
        total = Decimal(str(created.get("due"))) if created.get("due") else None
        return Sent(str(created["invoice_id"]), total)

    def invoice(self, invoice: docs.SalesInvoice, contact_id: str, key: ExportKey) -> Sent:
        return self._document(
            "sales",
            invoice.number,
            contact_id,
            {
                "dateCreated": invoice.invoice_date.isoformat(),
                "dateDue": invoice.due_date.isoformat(),
                "description": invoice.reference or invoice.number,
                "reference": invoice.reference or None,
            },
            invoice.lines,
            key,
        )

    def credit_note(
        self, note: docs.CreditNote, contact_id: str, invoice_id: str, key: ExportKey
    ) -> Sent:
        return self._document(
            "cn-sales",
            note.number,
            contact_id,
            {
                "dateCreated": note.issued_on.isoformat(),
                "description": note.reason or note.number,
                "reference": note.invoice_number,
            },
            note.lines,
            key,
        )

    def payment(
        self, payment: docs.PaymentAllocation, contact_id: str, invoice_id: str, key: ExportKey
    ) -> Sent:
        if not self.mapping.bank_account:
            from adapters.accounting.errors import MappingMissing

            raise MappingMissing("mapping.bank_account is empty: payments need a bank account")
        created = self._call(
            "createPayment",
            {
                "payment": {
                    "amount": payment.amount,
                    "accountingDate": payment.paid_on.isoformat(),
                    "bankAccount": self.mapping.bank_account,
                    "description": payment.reference or f"Payment for {payment.invoice_number}",
                    "entityId": contact_id,
                    "paymentMethod": payment.method,
                    "type": "sales",
                    "external_id": key.stable,
                    "invoices": [{"id": invoice_id, "amount": payment.amount}],
                }
            },
        )
        return Sent(str(created))

    def void(self, void: docs.Void, invoice_id: str, key: ExportKey) -> Sent:
        self._call("voidInvoice", {"type": "sales", "invoiceId": invoice_id})
        return Sent(invoice_id)


def _address(address: PostalAddress) -> dict[str, Value]:
    """The address in an Entity's fields (its official client's ``Clearbooks_Soap_1_0_Entity``:
    address1, address2, town, county, postcode, country; the country an ISO code, ``GB`` by
    default there). Clear Books publishes no lengths for them; two line fields hold every line.
    An empty part is sent empty, so an update clears what the customer no longer has."""
    if address.is_empty:
        return {}
    names = ("address1", "address2", "town", "county", "postcode")
    fitted = dict(zip(names, parts(address, 2, "Clear Books"), strict=True))
    return {**fitted, "country": address.country}
