"""Clear Books through its SOAP API (API key), requests built to its published types.

Endpoint ``https://secure.clearbooks.co.uk/api/accounting/soap/``; every call is a POST of a SOAP
1.1 envelope with ``SOAPAction: <namespace>#<method>`` and the API key in the ``authenticate``
header (``clearbooks_wire`` holds the types). A ``Client`` fault is a permanent refusal, a
refused login stops the run, a server fault, 429 or 5xx is transient, and so is a reply the
hardened parser refuses (nothing in it is trusted, nothing recorded). SOAP has no idempotency
header, so every write is looked up first: entities by external id, invoices and credit notes
by prefix + number, payments by the external id each one carries (our export key).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any, Literal

import httpx

from adapters.accounting import clearbooks_wire as wire
from adapters.accounting import documents as docs
from adapters.accounting.addresses import parts
from adapters.accounting.client import ExportKey, RemoteDocument, Sent, nothing_to_refund
from adapters.accounting.config import Connection
from adapters.accounting.errors import (
    MappingMissing,
    NotAuthorised,
    RemoteRejected,
    RemoteUnavailable,
)
from adapters.accounting.exporter import export_key  # the keys earlier payments carry
from adapters.accounting.http import http_client, send
from adapters.accounting.policy import CallPolicy
from adapters.accounting.rounding import plain
from domain.address import PostalAddress
from domain.money import round_to_currency
from domain.tax_treatment import TaxTreatment

ENDPOINT = "https://secure.clearbooks.co.uk/api/accounting/soap/"
HOME_CURRENCY = "GBP"  # Clear Books keeps UK books: balances are in pounds
_CENT = Decimal("0.01")
# Leading zeros stay in the prefix, so Clear Books shows the ledger's number as it is.
_NUMBER = re.compile(r"^(?P<prefix>.*?0*)(?P<digits>[1-9][0-9]*)$")
#: ledger payment methods -> the names Clear Books gives its payment methods
_METHOD_NAMES = {
    "card": "credit card",
    "check": "cheque",
    "bacs": "bank transfer",
    "transfer": "bank transfer",
    "dd": "direct debit",
}


def split_number(number: str) -> tuple[str, int]:
    """Prefix + integer, as Clear Books numbers documents: ``INV-2026-0042`` is ``INV-2026-`` 42"""
    match = _NUMBER.match(number)
    if match is None:
        raise RemoteRejected(
            f"Clear Books numbers documents as a prefix and an integer: {number!r} does not end"
            " in a number (change the number format, or enter this document by hand and resolve)"
        )
    return match["prefix"], int(match["digits"])


def clear_books_line(line: docs.Line, currency: str) -> dict[str, Any]:
    """One Item whose net and VAT Clear Books computes exactly as the ledger did.

    Clear Books takes ``unitPrice`` "in pounds" and computes the line as unitPrice x quantity
    and its VAT from ``vatRate``, each rounded to the penny. A price finer than a penny (a
    telecom rate of 0.012345/min) would not survive that, so such a line goes as 1 x the
    ledger's net with the real quantity and price in the description. A line whose tax is not
    its own net x rate (its share of a rate's tax under per-invoice-rate rounding) goes with
    ``vatRate`` "Manual" and the ``vat`` itself, which Clear Books takes as given.
    """
    for name, amount in (("net", line.net), ("tax", line.tax)):
        if amount != amount.quantize(_CENT):
            raise RemoteRejected(
                f"Clear Books keeps amounts in pounds and pence: the line {line.description!r}"
                f" has a {name} of {amount} {currency}, which it cannot hold"
            )
    vat: dict[str, Any] = {"vatRate": plain(line.tax_rate / Decimal(100))}
    if round_to_currency(line.net * line.tax_rate / Decimal(100), currency) != line.tax:
        vat = {"vatRate": "Manual", "vat": line.tax}
    if line.unit_price == line.unit_price.quantize(_CENT):
        return {
            "description": line.description,
            "unitPrice": line.unit_price.quantize(_CENT),
            "quantity": Decimal(plain(line.quantity)),
            **vat,
        }
    return {
        "description": f"{line.description} ({plain(line.quantity)} × {plain(line.unit_price)})",
        "unitPrice": line.net,
        "quantity": Decimal(1),
        **vat,
    }


def item_total(item: dict[str, Any], currency: str) -> Decimal:
    net = round_to_currency(Decimal(item["unitPrice"]) * Decimal(item["quantity"]), currency)
    if item["vatRate"] == "Manual":
        return net + Decimal(item["vat"])
    return net + round_to_currency(net * Decimal(item["vatRate"]), currency)


class ClearBooksClient:
    system = "clearbooks"

    def __init__(self, connection: Connection, policy: CallPolicy) -> None:
        self.connection = connection
        self.policy = policy
        self.mapping = connection.mapping
        self.url = connection.base_url or ENDPOINT
        self.http: httpx.Client = http_client(self.url, connection.timeout_seconds, {})
        self._currencies: dict[str, int] | None = None
        self._methods: dict[str, int] | None = None

    # ------------------------------------------------------------------ calls

    def _call(self, method: str, **params: Any) -> Any:
        return self.policy.call(method, lambda: self._send(method, **params))

    def _once(self, what: str, find: Callable[[], Any], write: Callable[[], Any]) -> Any:
        """Look the write's result up, and write only if it is not there, as one retried unit:
        a re-send after a lost answer looks again first, so it never writes twice."""
        return self.policy.call(what, lambda: find() or write())

    def _send(self, method: str, **params: Any) -> Any:
        """One SOAP call, no retry: the reply's ``return`` as the method's declared type."""
        _, returns = wire.OPERATIONS[method]
        try:
            content = wire.envelope(self.connection.api_key.get_secret_value(), method, params)
        except wire.WireError as error:
            raise RemoteRejected(f"{method}: {error}") from None
        request = self.http.build_request(
            "POST",
            self.url,
            content=content,
            headers={
                "Content-Type": "text/xml; charset=utf-8",
                "SOAPAction": f"{wire.NS}#{method}",
            },
        )
        response = send(self.http, method, request)
        try:
            root = wire.parse(response.content)
        except wire.WireError as error:
            raise RemoteUnavailable(f"{method}: {response.status_code}, {error}") from None
        fault = next((e for e in root.iter() if wire.local(e.tag) == "Fault"), None)
        if fault is not None:
            code = (fault.findtext("faultcode") or "").split(":")[-1]
            message = fault.findtext("faultstring") or "fault"
            if "login failed" in message.lower() or "authenticat" in message.lower():
                raise NotAuthorised(f"{method}: Clear Books refused the API key")
            if code == "Client":
                raise RemoteRejected(f"{method}: {message}")
            raise RemoteUnavailable(f"{method}: {message}")
        if response.status_code >= 400:
            raise RemoteUnavailable(f"{method}: {response.status_code}")
        reply = next((e for e in root.iter() if wire.local(e.tag) == f"{method}Response"), None)
        if reply is None:
            raise RemoteUnavailable(f"{method}: reply without {method}Response")
        try:
            return wire.read_return(reply.find("return"), returns)
        except wire.WireError as error:
            raise RemoteUnavailable(f"{method}: {error}") from None

    def _status(self, method: str, **params: Any) -> bool:
        """A call answering a ResponseStatus: ``success`` false is a refusal with its message."""
        status = self._send(method, **params)
        if not status.get("success"):
            raise RemoteRejected(f"{method}: {status.get('msg') or 'refused'}")
        return True

    def _currency_ids(self) -> dict[str, int]:
        if self._currencies is None:
            self._currencies = {c["code"]: c["id"] for c in self._call("listCurrencies")}
        return self._currencies

    def _currency_id(self, code: str) -> int:
        found = self._currency_ids().get(code)
        if found is None:
            raise RemoteRejected(f"Clear Books has no currency {code} (listCurrencies)")
        return found

    def _currency_code(self, currency_id: int | None) -> str:
        codes = {v: k for k, v in self._currency_ids().items()}
        return codes.get(currency_id or 0, HOME_CURRENCY)

    def _method_id(self, method: str) -> int:
        if self._methods is None:
            self._methods = {
                m["name"].strip().lower(): m["id"]
                for m in self._call("listPaymentMethods")
                if not m.get("isClosed")
            }
        wanted = method.strip().lower().replace("_", " ")
        for name in (wanted, _METHOD_NAMES.get(wanted, ""), "other"):
            if name in self._methods:
                return self._methods[name]
        raise RemoteRejected(
            f"Clear Books has no open payment method {method!r} nor 'Other' (listPaymentMethods)"
        )

    def _account(self, kind: str) -> int:
        code = self.mapping.account_for(kind)
        if not code.isdigit():
            raise MappingMissing(f"Clear Books account codes are numbers: {code!r} is not")
        return int(code)

    def expected_total(self, lines: tuple[docs.Line, ...], currency: str) -> Decimal:
        return sum(
            (item_total(clear_books_line(line, currency), currency) for line in lines), Decimal(0)
        )

    # --------------------------------------------------------------- contacts

    def contact(self, contact: docs.Contact, known_id: str | None, key: ExportKey) -> Sent:
        entity: dict[str, Any] = {
            "company_name": contact.name,
            "email": contact.email or None,
            **_address(contact.address),
            "vat_number": contact.tax_number or None,
            "external_id": contact.external_id or contact.account_number,
            "customer": {"default_account_code": self._account("")},
        }
        if known_id is not None:
            self._call("updateEntity", entityId=int(known_id), entity=entity)
            return Sent(known_id)
        externals = [e for e in (contact.external_id, contact.account_number) if e]

        def find() -> int:
            for external in externals:
                found: int = self._send("getEntityIdFromExternalId", externalId=external)
                if found:
                    return found
            return 0

        created = self._once(
            "createEntity", find, lambda: self._send("createEntity", entity=entity)
        )
        return Sent(str(created))

    # -------------------------------------------------------------- documents

    def _find(self, number: str) -> dict[str, Any] | None:
        prefix, digits = split_number(number)
        found = self._send(
            "getInvoiceIdFromInvoiceNumber",
            type="sales",
            invoicePrefix=prefix,
            invoiceNumber=str(digits),
        )
        return {"invoice_id": found} if found else None

    def _document(
        self,
        kind: Literal["sales", "cn-sales"],
        number: str,
        contact_id: str,
        fields: dict[str, Any],
        lines: tuple[docs.Line, ...],
        currency: str,
        key: ExportKey,
        treatment: TaxTreatment,
    ) -> Sent:
        prefix, digits = split_number(number)
        items = [
            {**clear_books_line(line, currency), "type": self._account(line.kind)} for line in lines
        ]
        invoice = {
            "entityId": int(contact_id),
            "type": kind,
            "status": "approved",
            "invoice_prefix": prefix,
            "invoiceNumber": digits,
            "external_id": key.stable,
            "vatTreatment": self.mapping.vat_treatment_for(
                (line.tax_description for line in lines), treatment
            ),
            "multicurrency": self._currency_id(currency),
            **fields,
            "items": items,
        }
        created = self._once(
            "createInvoice",
            lambda: self._find(number),
            lambda: self._send("createInvoice", invoice=invoice),
        )
        return Sent(str(created["invoice_id"]), created.get("due"))

    def invoice(self, invoice: docs.SalesInvoice, contact_id: str, key: ExportKey) -> Sent:
        return self._document(
            "sales",
            invoice.number,
            contact_id,
            {
                "dateCreated": invoice.invoice_date,
                "dateDue": invoice.due_date,
                "description": invoice.reference or invoice.number,
                "reference": invoice.reference or None,
            },
            invoice.lines,
            invoice.currency,
            key,
            invoice.tax_treatment,
        )

    def credit_note(
        self, note: docs.CreditNote, contact_id: str, invoice_id: str, key: ExportKey
    ) -> Sent:
        """A ``cn-sales`` document, then its credit allocated to the invoice it credits
        (``writeOffPartial``) for whatever of it is not yet allocated."""
        sent = self._document(
            "cn-sales",
            note.number,
            contact_id,
            {
                "dateCreated": note.issued_on,
                "dateDue": note.issued_on,
                "description": note.reason or note.number,
                "reference": note.invoice_number,
            },
            note.lines,
            note.currency,
            key,
            note.tax_treatment,
        )

        def allocate() -> bool:
            unallocated = self._read(sent.remote_id).get("balance", Decimal(0))
            if unallocated > 0:
                self._send(
                    "writeOffPartial",
                    query={
                        "invoiceId": int(invoice_id),
                        "creditId": int(sent.remote_id),
                        "amountToAllocate": unallocated,
                        "ledger": "sales",
                    },
                )
            return True

        self.policy.call("writeOffPartial", allocate)
        return sent

    def void(self, void: docs.Void, invoice_id: str, key: ExportKey) -> Sent:
        self._once(
            "voidInvoice",
            lambda: self._read(invoice_id).get("status") == "voided",
            lambda: self._status("voidInvoice", invoice={"type": "sales", "id": int(invoice_id)}),
        )
        return Sent(invoice_id)

    # --------------------------------------------------------------- payments

    def due_date(self, change: docs.DueDateChange, invoice_id: str, key: ExportKey) -> Sent:
        """Clear Books' SOAP API cannot edit an invoice: it creates (``createInvoice``) and
        voids (``voidInvoice``) them, and has no update method (its WSDL and official client
        list none). Voiding and re-creating would need a new number and would undo the
        payments on it, so nothing is sent: the run notes it, and ``export reconcile`` shows
        the due dates differ until the invoice is edited in Clear Books by hand."""
        return Sent(
            invoice_id,
            nothing_sent=(
                f"due date: nothing sent - the Clear Books API cannot edit invoice"
                f" {change.invoice_number}; change its due date in Clear Books to"
                f" {change.after.isoformat()} (was {change.before.isoformat()})"
            ),
        )

    def _pay(
        self,
        amount: Decimal,
        *,
        currency: str,
        contact_id: str,
        invoice_id: str,
        paid_on: date,
        method: str,
        description: str,
        external_id: str,
    ) -> str:
        """One payment into the bank account of its currency (``mapping.bank_accounts``, else
        ``mapping.bank_account``) allocated to one invoice, created only when no payment
        carries ``external_id`` yet (a lost answer never pays twice)."""
        bank_account = self.mapping.bank_account_for(currency)
        method_id = self._method_id(method)
        created = self._once(
            "createPayment",
            lambda: self._payment_id(external_id),
            lambda: self._send(
                "createPayment",
                payment={
                    "description": description,
                    "invoices": [{"id": int(invoice_id), "amount": amount}],
                    "type": "sales",
                    "accountingDate": paid_on,
                    "amount": amount,
                    "entityId": int(contact_id),
                    "paymentMethod": method_id,
                    "bankAccount": bank_account,
                    "external_id": external_id,
                },
            ),
        )
        return str(created["payment_id"])

    def _payment_id(self, external_id: str) -> dict[str, Any] | None:
        found = self._send("getPaymentIdFromExternalId", externalId=external_id)
        return {"payment_id": found} if found else None

    def payment(
        self, payment: docs.PaymentAllocation, contact_id: str, invoice_id: str, key: ExportKey
    ) -> Sent:
        return Sent(
            self._pay(
                payment.amount,
                currency=payment.currency,
                contact_id=contact_id,
                invoice_id=invoice_id,
                paid_on=payment.paid_on,
                method=payment.method,
                description=payment.reference or f"Payment for {payment.invoice_number}",
                external_id=key.stable,
            )
        )

    def unallocate(
        self, unallocation: docs.Unallocation, contact_id: str, invoice_id: str, key: ExportKey
    ) -> Sent:
        """Clear Books cannot shrink a payment's allocation: the remote payments this payment
        made to the invoice (one per earlier allocation or un-allocation, found by the
        external ids they carry) are voided (``voidPayment``), and one payment of what
        remains allocated is created in their place, carrying this event's key."""
        for earlier in unallocation.earlier:
            external = export_key(self.connection.name, earlier)

            def void(external: str = external) -> bool:
                found = self._payment_id(external)
                if found is None:  # never made, or voided already
                    return True
                return self._status(
                    "voidPayment", payment={"id": found["payment_id"], "type": "sales"}
                )

            self.policy.call("voidPayment", void)
        if unallocation.remaining <= 0:
            return Sent(invoice_id)
        return Sent(
            self._pay(
                unallocation.remaining,
                currency=unallocation.currency,
                contact_id=contact_id,
                invoice_id=invoice_id,
                paid_on=unallocation.paid_on,
                method=unallocation.method,
                description=unallocation.reference
                or f"Payment for {unallocation.invoice_number} (after un-allocation)",
                external_id=key.stable,
            )
        )

    def refund(self, refund: docs.Refund, contact_id: str, key: ExportKey) -> Sent:
        """Nothing to replay: Clear Books only ever received this payment's allocations, never
        the customer's unallocated credit, so paying that credit back leaves its books as
        they are."""
        return Sent("", nothing_sent=nothing_to_refund("Clear Books", refund))

    # ------------------------------------------------------------- reading back

    def _read(self, remote_id: str) -> dict[str, Any]:
        found = self._send("listInvoices", query={"id": [int(remote_id)], "ledger": "sales"})
        match = [i for i in found if str(i.get("invoice_id")) == remote_id]
        if not match:
            raise RemoteRejected(f"Clear Books has no sales document {remote_id}")
        document: dict[str, Any] = match[0]
        return document

    def read_back(self, kind: Literal["invoice", "credit_note"], remote_id: str) -> RemoteDocument:
        document = self.policy.call("listInvoices", lambda: self._read(remote_id))
        currency = self._currency_code(document.get("multicurrency"))
        home = self._home_balance(document, currency)
        return RemoteDocument(
            remote_id=remote_id,
            number=f"{document.get('invoice_prefix', '')}{document.get('invoiceNumber', '')}",
            currency=currency,
            total=document.get("gross", Decimal(0)),
            amount_due=home,
            status=str(document.get("status", "")),
            due_date=_day(document.get("dateDue")),
        )

    def _home_balance(self, document: dict[str, Any], currency: str) -> Decimal:
        """``balance`` is in the home currency; a foreign-currency invoice's own is
        ``foreignCurrencyBalance``."""
        foreign = document.get("foreignCurrencyBalance")
        if currency != HOME_CURRENCY and foreign is not None:
            return Decimal(foreign)
        return Decimal(document.get("balance", Decimal(0)))


def _day(value: Any) -> date | None:
    """``dateDue`` as listInvoices gives it (a date, or its ISO text; a credit note has one)."""
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def _address(address: PostalAddress) -> dict[str, str]:
    """The address in an Entity's fields (its official client's ``Clearbooks_Soap_1_0_Entity``:
    address1, address2, town, county, postcode, country; the country an ISO code, ``GB`` by
    default there). Clear Books publishes no lengths for them; two line fields hold every line.
    An empty part is sent empty, so an update clears what the customer no longer has."""
    if address.is_empty:
        return {}
    names = ("address1", "address2", "town", "county", "postcode")
    fitted = dict(zip(names, parts(address, 2, "Clear Books"), strict=True))
    return {**fitted, "country": address.country}
