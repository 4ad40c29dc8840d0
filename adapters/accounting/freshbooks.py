"""FreshBooks through its REST API with httpx (OAuth2 bearer token).

Shapes: ``{"client": {...}}`` / ``{"invoice": {...}}`` / ``{"payment": {...}}`` in,
``{"response": {"result": {...}}}`` out, errors as ``{"response": {"errors": [{errno, field,
message}]}}``. What we send and what FreshBooks recomputes is in docs/exports.md.

FreshBooks has no idempotency header, so every create is a find-then-create retried as one
step: a re-send after a lost answer first finds what the lost answer made (invoice and credit
note by number, client by our marker in its private ``note``, payment by the ledger key in its
``note``) instead of making a second. Corrections set remote state to a target computed from
what FreshBooks holds now, so replaying one twice changes nothing the second time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any, Literal

import httpx
import structlog

from adapters.accounting import documents as docs
from adapters.accounting.addresses import parts
from adapters.accounting.client import ExportKey, RemoteDocument, Sent, nothing_to_refund
from adapters.accounting.config import Connection
from adapters.accounting.errors import NotAuthorised, RemoteRejected, RemoteUnavailable
from adapters.accounting.freshbooks_lines import freshbooks_lines, freshbooks_total
from adapters.accounting.http import http_client, send
from adapters.accounting.policy import CallPolicy
from domain.address import PostalAddress
from domain.tax_treatment import TaxTreatment

BASE_URL = "https://api.freshbooks.com"
log = structlog.get_logger("tollbook.export")

#: FreshBooks' payment types; a ledger method not listed travels as "Other".
PAYMENT_TYPES = {
    "bank transfer": "Bank Transfer",
    "card": "Credit Card",
    "credit card": "Credit Card",
    "debit": "Debit",
    "paypal": "PayPal",
    "cash": "Cash",
    "cheque": "Check",
    "check": "Check",
    "ach": "ACH",
}
#: The payment type FreshBooks pays from a client's credit with (its "Apply credit").
CREDIT = "Credit"
DELETED = 1  # vis_state: 0 active, 1 deleted, 2 archived

Json = dict[str, Any]


def _amount(value: Decimal, currency: str) -> dict[str, str]:
    return {"amount": format(value, "f"), "code": currency}


def _money(document: Json, field: str) -> Decimal:
    return Decimal(str((document.get(field) or {}).get("amount") or "0"))


def client_marker(contact: docs.Contact) -> str:
    """Our identity for a customer, kept in the client's private ``note`` (never printed)."""
    return f"tollbook:{contact.customer_id}"


def _note(contact: docs.Contact, held: Json | None) -> str:
    """Our line first, then whatever the accountant wrote about the client, kept."""
    ours = f"{client_marker(contact)} account {contact.account_number}"
    lines = str((held or {}).get("note") or "").splitlines()
    kept = [line for line in lines if not line.startswith("tollbook:")]
    return "\n".join([ours, *kept])


def payment_marker(payment_id: object) -> str:
    return f"payment:{payment_id}"


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

    # ------------------------------------------------------------------ calls

    def _once(
        self,
        what: str,
        method: str,
        path: str,
        *,
        body: Json | None = None,
        params: dict[str, str] | None = None,
    ) -> Json:
        """One request, no retry: callers retry whole find-then-write steps."""
        request = self.http.build_request(
            method, f"{self.account}/{path}", json=body, params=params
        )
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
        result: Json = (document.get("response") or {}).get("result") or {}
        return result

    def _call(
        self,
        what: str,
        method: str,
        path: str,
        *,
        body: Json | None = None,
        params: dict[str, str] | None = None,
    ) -> Json:
        """A read or a write that sets a value: safe to repeat as it is."""
        return self.policy.call(
            what, lambda: self._once(what, method, path, body=body, params=params)
        )

    def _step(self, what: str, step: Callable[[], Sent]) -> Sent:
        """A find-then-write step, retried whole: a lost answer is found, never redone."""
        return self.policy.call(what, step)

    def expected_total(self, lines: tuple[docs.Line, ...], currency: str) -> Decimal:
        return freshbooks_total(freshbooks_lines(lines, currency))

    def _lines(self, lines: tuple[docs.Line, ...], currency: str) -> list[Json]:
        return [line.as_json(currency) for line in freshbooks_lines(lines, currency)]

    # ---------------------------------------------------------------- clients

    def contact(self, contact: docs.Contact, known_id: str | None, key: ExportKey) -> Sent:
        # The customer's name alone prints on documents; the account number and our identity
        # go in the client's private note. FreshBooks does not require unique organization
        # names, so two customers of one name are two clients told apart by that note.
        def body(held: Json | None) -> Json:
            return {
                "client": {
                    "organization": contact.name,
                    "email": contact.email or None,
                    "currency_code": contact.currency,
                    **_address(contact.address),
                    "vat_number": contact.tax_number or None,
                    "note": _note(contact, held),
                }
            }

        def step() -> Sent:
            if known_id is not None:
                held = self._once("get client", "GET", f"users/clients/{known_id}")["client"]
            else:
                held = self._find_client(contact)
            if held is not None:
                client_id = str(held["id"])
                self._once("update client", "PUT", f"users/clients/{client_id}", body=body(held))
                return Sent(client_id)
            made = self._once("create client", "POST", "users/clients", body=body(None))
            return Sent(str(made["client"]["id"]))

        return self._step("update client" if known_id else "create client", step)

    def _find_client(self, contact: docs.Contact) -> Json | None:
        """By the accountant's client id (our external id), then our note, then - for clients
        an earlier version named "Name (ACCOUNT)" - by that suffix on an unmarked client."""
        if contact.external_id.isdigit():
            try:
                path = f"users/clients/{contact.external_id}"
                found: Json = self._once("get client", "GET", path)["client"]
                return found
            except RemoteRejected:
                pass  # not a FreshBooks client id after all
        marker = client_marker(contact)
        search = {"search[note_like]": marker}
        for client in self._list("find client", "users/clients", "clients", search):
            if str(client.get("note") or "").split(" ", 1)[0] == marker:
                return client
        suffix = f"({contact.account_number})"
        search = {"search[organization_like]": suffix}
        for client in self._list("find client", "users/clients", "clients", search):
            unmarked = "tollbook:" not in str(client.get("note") or "")
            if unmarked and str(client.get("organization", "")).endswith(suffix):
                return client
        return None

    # -------------------------------------------------------------- documents

    def _numbered(self, what: str, path: str, field: str, number: str) -> Json | None:
        """The document of this number already in FreshBooks (a lost answer's), or None:
        its search matches loosely, so the number is compared exactly."""
        listed = path.rsplit("/", 1)[1]
        found = self._once(f"find {what}", "GET", path, params={f"search[{field}]": number})
        return next((d for d in found.get(listed, []) if d.get(field) == number), None)

    def invoice(self, invoice: docs.SalesInvoice, contact_id: str, key: ExportKey) -> Sent:
        lines = self._lines(invoice.lines, invoice.currency)

        def step() -> Sent:
            existing = self._numbered(
                "invoice", "invoices/invoices", "invoice_number", invoice.number
            )
            if existing is None:
                body = {
                    "invoice": {
                        "customerid": int(contact_id),
                        "create_date": invoice.invoice_date.isoformat(),
                        "due_offset_days": (invoice.due_date - invoice.invoice_date).days,
                        "currency_code": invoice.currency,
                        "invoice_number": invoice.number,
                        # the treatment's legal wording travels on the printed invoice too
                        "notes": _with_wording(invoice.reference, invoice.tax_treatment),
                        "lines": lines,
                    }
                }
                existing = self._once("create invoice", "POST", "invoices/invoices", body=body)[
                    "invoice"
                ]
            if existing.get("v3_status") == "draft":
                # FreshBooks creates drafts, which its reports ignore: mark it sent (no email).
                existing = self._once(
                    "mark invoice sent",
                    "PUT",
                    f"invoices/invoices/{existing['id']}",
                    body={"invoice": {"action_mark_as_sent": True}},
                )["invoice"]
            return Sent(str(existing["id"]), _money(existing, "amount"))

        return self._step("create invoice", step)

    def credit_note(
        self, note: docs.CreditNote, contact_id: str, invoice_id: str, key: ExportKey
    ) -> Sent:
        """The credit note, then its credit applied to the invoice it credits: FreshBooks
        applies a client's credit as a payment of type "Credit" (it keeps no link from a credit
        note to an invoice), so the invoice's outstanding drops as it does in the ledger."""
        lines = self._lines(note.lines, note.currency)
        marker = f"tollbook:{key.stable}"

        def step() -> Sent:
            existing = self._numbered(
                "credit note", "credit_notes/credit_notes", "credit_number", note.number
            )
            if existing is None:
                body = {
                    "credit_note": {
                        "clientid": int(contact_id),
                        "create_date": note.issued_on.isoformat(),
                        "currency_code": note.currency,
                        "credit_number": note.number,
                        "notes": _with_wording(
                            f"Credit against {note.invoice_number}: {note.reason}",
                            note.tax_treatment,
                        ),
                        "lines": lines,
                    }
                }
                existing = self._once(
                    "create credit note", "POST", "credit_notes/credit_notes", body=body
                )["credit_note"]
            total = _money(existing, "amount")
            if self._marked_payment(invoice_id, marker) is None:
                self._require_outstanding(invoice_id, total, note.currency, note.invoice_number)
                self._once(
                    "apply credit",
                    "POST",
                    "payments/payments",
                    body={
                        "payment": {
                            "invoiceid": int(invoice_id),
                            "amount": _amount(total, note.currency),
                            "date": note.issued_on.isoformat(),
                            "type": CREDIT,
                            "note": f"Credit note {note.number} {marker}",
                        }
                    },
                )
            return Sent(str(existing["id"]), total)

        return self._step("create credit note", step)

    def _list(self, what: str, path: str, key: str, search: dict[str, str]) -> list[Json]:
        """Every page of a FreshBooks list (it pages its answers)."""
        items: list[Json] = []
        page = 1
        while True:
            params = {**search, "page": str(page), "per_page": "100"}
            found = self._once(what, "GET", path, params=params)
            items.extend(found.get(key, []))
            if page >= int(found.get("pages") or 1):
                return items
            page += 1

    def _payments_on(self, invoice_id: str) -> list[Json]:
        search = {"search[invoiceid]": invoice_id}
        return self._list("find payments", "payments/payments", "payments", search)

    def _require_outstanding(
        self, invoice_id: str, amount: Decimal, currency: str, number: str
    ) -> None:
        """FreshBooks books what exceeds an invoice's outstanding as the client's credit (or
        applies less credit): a difference from the ledger is a dead letter, never silent."""
        remote = self._once("get invoice", "GET", f"invoices/invoices/{invoice_id}")["invoice"]
        outstanding = _money(remote, "outstanding")
        if amount > outstanding:
            raise RemoteRejected(
                f"FreshBooks has {outstanding} {currency} outstanding on {number}, less than the"
                f" {amount} the ledger applies to it: reconcile the invoice first"
            )

    def _marked_payment(self, invoice_id: str, marker: str) -> Json | None:
        return next(
            (p for p in self._payments_on(invoice_id) if marker in str(p.get("note") or "")),
            None,
        )

    def payment(
        self, payment: docs.PaymentAllocation, contact_id: str, invoice_id: str, key: ExportKey
    ) -> Sent:
        marker = f"tollbook:{key.stable}"
        mark = payment_marker(payment.payment_id)

        def step() -> Sent:
            existing = self._marked_payment(invoice_id, marker)
            if existing is not None:
                return Sent(str(existing["id"]))
            self._require_outstanding(
                invoice_id, payment.amount, payment.currency, payment.invoice_number
            )
            body = {
                "payment": {
                    "invoiceid": int(invoice_id),
                    "amount": _amount(payment.amount, payment.currency),
                    "date": payment.paid_on.isoformat(),
                    "type": PAYMENT_TYPES.get(payment.method.strip().lower(), "Other"),
                    "note": f"{payment.reference} {marker} {mark}".strip(),
                }
            }
            made = self._once("create payment", "POST", "payments/payments", body=body)
            return Sent(str(made["payment"]["id"]))

        return self._step("create payment", step)

    # ------------------------------------------------------------ corrections

    def unallocate(
        self, unallocation: docs.Unallocation, contact_id: str, invoice_id: str, key: ExportKey
    ) -> Sent:
        """Bring what this ledger payment pays on the invoice down to ``remaining``: the latest
        FreshBooks payments of it are reduced (a PUT of ``amount``) or deleted (``vis_state``
        1). The money leaves FreshBooks as it leaves the invoice: a ledger payment reaches
        FreshBooks only as its allocations to invoices."""
        mark = payment_marker(unallocation.payment_id)
        target = unallocation.remaining

        def step() -> Sent:
            held = [
                p
                for p in self._payments_on(invoice_id)
                if mark in str(p.get("note") or "") and p.get("type") != CREDIT
            ]
            excess = sum((_money(p, "amount") for p in held), Decimal(0)) - target
            if excess < 0:
                raise RemoteRejected(
                    f"FreshBooks holds {excess + target} {unallocation.currency} of this payment on"
                    f" {unallocation.invoice_number}, less than the {target} the ledger keeps"
                    " there: reconcile the invoice first"
                )
            for remote in sorted(held, key=lambda p: int(p["id"]), reverse=True):
                if excess == 0:
                    break
                amount = _money(remote, "amount")
                path = f"payments/payments/{remote['id']}"
                if amount <= excess:
                    self._once("delete payment", "PUT", path, body={"payment": {"vis_state": 1}})
                    excess -= amount
                else:
                    reduced = _amount(amount - excess, unallocation.currency)
                    self._once("reduce payment", "PUT", path, body={"payment": {"amount": reduced}})
                    excess = Decimal(0)
            return Sent(invoice_id)

        return self._step("unallocate payment", step)

    def refund(self, refund: docs.Refund, contact_id: str, key: ExportKey) -> Sent:
        """Nothing to replay: the ledger refunds only money a payment holds unallocated, and
        FreshBooks is sent a payment only as its allocations, so it never held that money.
        FreshBooks' API has no refund of a client's credit either (docs/exports.md)."""
        log.info(
            "refund not replayed: FreshBooks never held unallocated money",
            payment_id=str(refund.payment_id),
            amount=str(refund.amount),
            currency=refund.currency,
        )
        return Sent("", nothing_sent=nothing_to_refund("FreshBooks", refund))

    def void(self, void: docs.Void, invoice_id: str, key: ExportKey) -> Sent:
        # FreshBooks has no "void" status: the invoice is deleted (vis_state 1), which takes it
        # out of its reports. The ledger voids only invoices with nothing paid or credited.
        def step() -> Sent:
            remote = self._once("get invoice", "GET", f"invoices/invoices/{invoice_id}")["invoice"]
            if remote.get("vis_state") == DELETED:
                return Sent(invoice_id)
            if _money(remote, "paid") != 0:
                raise RemoteRejected(
                    f"FreshBooks invoice {void.invoice_number} still has {_money(remote, 'paid')}"
                    " paid or credited: remove those payments in FreshBooks, then retry"
                )
            self._once(
                "void invoice",
                "PUT",
                f"invoices/invoices/{invoice_id}",
                body={"invoice": {"vis_state": DELETED}},
            )
            return Sent(invoice_id)

        return self._step("void invoice", step)

    def due_date(self, change: docs.DueDateChange, invoice_id: str, key: ExportKey) -> Sent:
        """FreshBooks keeps an invoice's due date as ``due_offset_days`` after its
        ``create_date`` (``due_date`` is read-only, worked out from the two): the offset is
        set again. Setting a value, so safe to repeat; a deleted (voided) invoice is left."""

        def step() -> Sent:
            remote = self._once("get invoice", "GET", f"invoices/invoices/{invoice_id}")["invoice"]
            if remote.get("vis_state") == DELETED:
                return Sent(
                    invoice_id,
                    nothing_sent=(
                        f"due date: nothing sent - FreshBooks invoice {change.invoice_number}"
                        " is deleted (voided)"
                    ),
                )
            created = _day(remote.get("create_date"))
            if created is None:
                raise RemoteRejected(
                    f"FreshBooks invoice {change.invoice_number} has no readable create_date"
                    f" ({str(remote.get('create_date'))[:40]!r}): its due date cannot be set"
                    " as an offset from it; set it in FreshBooks, then resolve this letter"
                )
            offset = (change.after - created).days
            if remote.get("due_offset_days") != offset:
                self._once(
                    "change due date",
                    "PUT",
                    f"invoices/invoices/{invoice_id}",
                    body={"invoice": {"due_offset_days": offset}},
                )
            return Sent(invoice_id)

        return self._step("change due date", step)

    # -------------------------------------------------------------- read back

    def read_back(self, kind: Literal["invoice", "credit_note"], remote_id: str) -> RemoteDocument:
        if kind == "invoice":
            remote = self._call("get invoice", "GET", f"invoices/invoices/{remote_id}")["invoice"]
            deleted = remote.get("vis_state") == DELETED
            return RemoteDocument(
                remote_id=remote_id,
                number=str(remote.get("invoice_number") or ""),
                currency=str(remote.get("currency_code") or ""),
                total=_money(remote, "amount"),
                # A deleted invoice is out of FreshBooks' books: nothing is owed on it.
                amount_due=Decimal(0) if deleted else _money(remote, "outstanding"),
                status="deleted" if deleted else str(remote.get("v3_status") or ""),
                due_date=_day(remote.get("due_date")),
            )
        note = self._call("get credit note", "GET", f"credit_notes/credit_notes/{remote_id}")[
            "credit_note"
        ]
        number = str(note.get("credit_number") or "")
        search = {"search[clientid]": str(note.get("clientid"))}
        payments = self.policy.call(
            "find payments",
            lambda: self._list("find payments", "payments/payments", "payments", search),
        )
        applied = sum(
            (
                _money(p, "amount")
                for p in payments
                if p.get("type") == CREDIT
                and str(p.get("note") or "").startswith(f"Credit note {number} ")
            ),
            Decimal(0),
        )
        total = _money(note, "amount")
        return RemoteDocument(
            remote_id=remote_id,
            number=number,
            currency=str(note.get("currency_code") or ""),
            total=total,
            amount_due=total - applied,  # credit of this note not yet applied to an invoice
            status="deleted"
            if note.get("vis_state") == DELETED
            else "applied"
            if applied == total
            else str(note.get("status") or "created"),
        )


def _day(value: Any) -> date | None:
    """A date FreshBooks sent ("YYYY-MM-DD"), or None when there is none it could mean."""
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


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


def _with_wording(notes: str, treatment: TaxTreatment) -> str:
    """FreshBooks prints an invoice's ``notes``: the treatment's legal wording goes there,
    as FreshBooks has no tax type of its own for a supply without VAT."""
    return "\n".join(text for text in (notes, treatment.legal_wording) if text)
