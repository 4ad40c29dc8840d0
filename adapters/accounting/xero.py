"""Xero through the official xero-python SDK (custom connection: client-credentials token).

- Host override: ``AccountingApi(api_client, base_url=...)``; the token URL is set on our own
  ``TokenApi`` instance. Tokens are fetched and renewed here (the SDK does not renew them).
- urllib3's hidden retries are switched off (``PoolManager(retries=False)``): the exporter's
  ``CallPolicy`` owns retries, back-off, ``Retry-After`` and the 60 calls/minute limit.
- Every create carries an ``Idempotency-Key`` derived from the ledger event; invoice and
  credit-note numbers are unique in Xero, so a re-send after the key expired is found by number.
- Corrections are replayed as Xero documents them: an un-allocation deletes (Status DELETED)
  the payments this ledger payment made to the invoice and pays what stays allocated again; a
  refund is the customer's money received as an overpayment and refunded from it. Every step
  looks for what an earlier, interrupted attempt left before it writes (see docs/exports.md).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal, TypeVar
from uuid import UUID

import urllib3
from xero_python.accounting import AccountingApi
from xero_python.accounting.models import (
    Account,
    Address,
    Allocation,
    Allocations,
    BankTransaction,
    BankTransactions,
    Contact,
    Contacts,
    CreditNote,
    CreditNotes,
    CurrencyCode,
    Invoice,
    Invoices,
    LineAmountTypes,
    LineItem,
    Overpayment,
    Payment,
    PaymentDelete,
)
from xero_python.api_client import ApiClient, Configuration
from xero_python.api_client.oauth2 import OAuth2Token, TokenApi
from xero_python.exceptions import ApiException
from xero_python.exceptions.http_status_exceptions import (
    BadRequestException,
    RateLimitException,
)

from adapters.accounting import documents as docs
from adapters.accounting.addresses import fit_lines, fits
from adapters.accounting.client import ExportKey, RemoteDocument, Sent
from adapters.accounting.config import Connection
from adapters.accounting.errors import RemoteRejected, RemoteUnavailable
from adapters.accounting.policy import CallPolicy
from adapters.accounting.rounding import xero_line, xero_total
from domain.address import PostalAddress
from domain.tax_treatment import TaxTreatment

T = TypeVar("T")

BASE_URL = "https://api.xero.com/api.xro/2.0"
TOKEN_URL = "https://identity.xero.com/connect/token"
CALLS_PER_MINUTE = 60
TOKEN_MARGIN_SECONDS = 60
#: Xero's limit on a contact's Name.
CONTACT_NAME_LENGTH = 255
#: The start of Xero's refusal of a contact name another active contact holds.
NAME_TAKEN = "is already assigned to another contact"


def _money(value: Any) -> Decimal | None:
    """Xero's JSON numbers arrive as floats: back to Decimal at 2 places, never kept as float."""
    if value is None:
        return None
    return Decimal(str(value)).quantize(Decimal("0.01"))


def _rejection(error: ApiException) -> str:
    """The validation messages of a 400, as Xero words them."""
    messages: list[str] = []
    body = getattr(error, "body", b"") or b""
    try:
        parsed = json.loads(body) if body else {}
    except ValueError:
        parsed = {}
    for element in parsed.get("Elements", []) or []:
        for item in element.get("ValidationErrors", []) or []:
            messages.append(str(item.get("Message")))
    if not messages and parsed.get("Message"):
        messages.append(str(parsed["Message"]))
    return "; ".join(messages) or f"{error.status} {error.reason}"


def _currency(code: str) -> CurrencyCode:
    """Xero's enum member for an ISO 4217 code, looked up by value: a few members are named
    otherwise (``TRY_LIRA`` is "TRY"), so a lookup by name crashed whole runs."""
    try:
        return CurrencyCode(code)
    except ValueError:
        raise RemoteRejected(f"Xero does not take the currency {code}") from None


class XeroClient:
    system = "xero"

    def __init__(
        self,
        connection: Connection,
        policy: CallPolicy,
        *,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.connection = connection
        self.policy = policy
        self.wall_clock = wall_clock
        self.mapping = connection.mapping
        self._token: dict[str, Any] = {}
        self._expires_at = 0.0
        self.api_client = ApiClient(
            Configuration(oauth2_token=OAuth2Token()),
            oauth2_token_getter=lambda: self._token,
            oauth2_token_saver=self._token.update,
        )
        # The exporter owns retries: no hidden re-sends inside urllib3.
        self.api_client.rest_client.pool_manager = urllib3.PoolManager(
            retries=False, timeout=urllib3.Timeout(total=connection.timeout_seconds)
        )
        self.api = AccountingApi(self.api_client, base_url=connection.base_url or BASE_URL)
        self.tenant = connection.tenant_id

    # ---------------------------------------------------------------- plumbing

    def _ensure_token(self) -> None:
        if self._token and self.wall_clock() < self._expires_at - TOKEN_MARGIN_SECONDS:
            return
        token_api = TokenApi(
            self.api_client,
            self.connection.client_id,
            self.connection.client_secret.get_secret_value(),
        )
        token_api.client_credentials_token_url = self.connection.token_url or TOKEN_URL
        try:
            token = token_api.get_client_credentials_token(app_store_billing=False)
        except ApiException as error:
            if error.status in (400, 401, 403):
                raise RemoteRejected(
                    f"Xero refused the client credentials ({error.status})"
                ) from None
            raise RemoteUnavailable(f"Xero identity: {error.status} {error.reason}") from None
        except urllib3.exceptions.HTTPError as error:
            raise RemoteUnavailable(f"Xero identity unreachable: {type(error).__name__}") from None
        except Exception as error:  # the SDK raises a bare Exception for a non-200 token reply
            raise RemoteUnavailable(f"Xero identity: {str(error)[:120]}") from None
        self._expires_at = self.wall_clock() + float(token.get("expires_in") or 1800)
        self._token.clear()
        self._token.update(
            access_token=token["access_token"],
            token_type=token.get("token_type", "Bearer"),
            expires_in=token.get("expires_in"),
            scope=token.get("scope", ""),
            expires_at=None,  # renewal is ours, above; the SDK must not try its refresh flow
        )

    def _call(self, what: str, operation: Callable[[], T]) -> T:
        def attempt() -> T:
            self._ensure_token()
            try:
                return operation()
            except RateLimitException as error:
                retry_after = (error.headers or {}).get("Retry-After")
                raise RemoteUnavailable(
                    f"{what}: rate limited", float(retry_after) if retry_after else None
                ) from None
            except BadRequestException as error:
                raise RemoteRejected(f"{what}: {_rejection(error)}") from None
            except ApiException as error:
                status = error.status or 0
                if status == 401:
                    self._token.clear()  # expired or revoked: fetch a new one on the retry
                    raise RemoteUnavailable(f"{what}: token expired") from None
                if status == 429 or status >= 500:
                    retry_after = (error.headers or {}).get("Retry-After")
                    raise RemoteUnavailable(
                        f"{what}: {status} {error.reason}",
                        float(retry_after) if retry_after else None,
                    ) from None
                raise RemoteRejected(f"{what}: {status} {error.reason}") from None
            except urllib3.exceptions.HTTPError as error:
                raise RemoteUnavailable(f"{what}: {type(error).__name__}") from None

        return self.policy.call(what, attempt)

    def _lines(
        self, lines: tuple[docs.Line, ...], currency: str, treatment: TaxTreatment
    ) -> list[LineItem]:
        """Lines Xero totals exactly as the ledger did (see adapters/accounting/rounding.py),
        each with the tax type of its rate and the customer's treatment."""
        return [
            LineItem(
                description=sent.description,
                quantity=sent.quantity,
                unit_amount=sent.unit_amount,
                tax_amount=sent.tax_amount,
                account_code=self.mapping.account_for(line.kind),
                tax_type=self.mapping.tax_type_for(line.tax_rate, treatment),
            )
            for line, sent in ((line, xero_line(line, currency)) for line in lines)
        ]

    def expected_total(self, lines: tuple[docs.Line, ...], currency: str) -> Decimal:
        return xero_total([xero_line(line, currency) for line in lines])

    # ---------------------------------------------------------------- contacts

    def contact(self, contact: docs.Contact, known_id: str | None, key: ExportKey) -> Sent:
        body = Contact(
            name=contact.name,
            account_number=contact.account_number,
            contact_number=contact.external_id or contact.account_number,
            email_address=contact.email or None,
            tax_number=contact.tax_number or None,
            default_currency=_currency(contact.currency),
            addresses=_addresses(contact.address),
        )
        if known_id is None:
            known_id = self._find_contact(contact)
            if known_id is not None:
                return Sent(known_id)
            created = self._uniquely_named(
                contact,
                body,
                lambda idempotency: self._call(
                    "create contact",
                    lambda: self.api.create_contacts(
                        self.tenant,
                        Contacts(contacts=[body]),
                        summarize_errors=True,
                        idempotency_key=idempotency,
                    ),
                ),
                key,
            )
            return Sent(str(created.contacts[0].contact_id))
        body.contact_id = known_id
        remote_id = known_id
        self._uniquely_named(
            contact,
            body,
            lambda idempotency: self._call(
                "update contact",
                lambda: self.api.update_contact(
                    self.tenant, remote_id, Contacts(contacts=[body]), idempotency_key=idempotency
                ),
            ),
            key,
        )
        return Sent(known_id)

    def _uniquely_named(
        self, contact: docs.Contact, body: Contact, send: Callable[[str], T], key: ExportKey
    ) -> T:
        """Xero keeps contact names unique among active contacts: when another contact holds
        the customer's name, the contact is named "Name (ACCOUNT)" instead (and only then)."""
        try:
            return send(key.value)
        except RemoteRejected as error:
            if NAME_TAKEN not in str(error):
                raise
        body.name = disambiguated(contact.name, contact.account_number)
        return send(f"{key.value}:named")

    def _find_contact(self, contact: docs.Contact) -> str | None:
        """By the customer's external accounting id (Xero ContactID or ContactNumber), then by
        account number. Never by name: two customers may share a name."""
        clauses = []
        if contact.external_id:
            ext = contact.external_id.replace('"', "")
            clauses.append(f'ContactNumber=="{ext}"')
            if _looks_like_uuid(ext):
                clauses.insert(0, f'ContactID==guid("{ext}")')
        clauses.append(f'AccountNumber=="{contact.account_number.replace(chr(34), "")}"')
        for clause in clauses:
            found = self._call("find contact", self._contacts_where(clause))
            if found.contacts:
                return str(found.contacts[0].contact_id)
        return None

    def _contacts_where(self, clause: str) -> Callable[[], Any]:
        return lambda: self.api.get_contacts(self.tenant, where=clause)

    # ---------------------------------------------------------------- invoices

    def invoice(self, invoice: docs.SalesInvoice, contact_id: str, key: ExportKey) -> Sent:
        if key.retrying:
            found = self._find_invoice(invoice.number)
            if found is not None:
                return found
        body = Invoice(
            type="ACCREC",
            contact=Contact(contact_id=contact_id),
            invoice_number=invoice.number,
            reference=invoice.reference or None,
            date=invoice.invoice_date,
            due_date=invoice.due_date,
            currency_code=_currency(invoice.currency),
            line_amount_types=LineAmountTypes.EXCLUSIVE,
            status="AUTHORISED",
            line_items=self._lines(invoice.lines, invoice.currency, invoice.tax_treatment),
        )
        try:
            created = self._call(
                "create invoice",
                lambda: self.api.create_invoices(
                    self.tenant,
                    Invoices(invoices=[body]),
                    summarize_errors=True,
                    unitdp=4,
                    idempotency_key=key.value,
                ),
            )
        except RemoteRejected as error:
            # Sent before under a key Xero no longer remembers: the number finds it.
            if "must be unique" in str(error):
                found = self._find_invoice(invoice.number)
                if found is not None:
                    return found
            raise
        made = created.invoices[0]
        return Sent(str(made.invoice_id), _money(made.total))

    def _find_invoice(self, number: str) -> Sent | None:
        found = self._call(
            "find invoice",
            lambda: self.api.get_invoices(self.tenant, invoice_numbers=[number], unitdp=4),
        )
        for item in found.invoices or []:
            if item.invoice_number == number and str(item.status) != "DELETED":
                return Sent(str(item.invoice_id), _money(item.total))
        return None

    def credit_note(
        self, note: docs.CreditNote, contact_id: str, invoice_id: str, key: ExportKey
    ) -> Sent:
        created_id: str | None = None
        total: Decimal | None = None
        if key.retrying:
            found = self._call(
                "find credit note",
                lambda: self.api.get_credit_notes(
                    self.tenant, where=f'CreditNoteNumber=="{note.number}"'
                ),
            )
            if found.credit_notes:
                created_id = str(found.credit_notes[0].credit_note_id)
                total = _money(found.credit_notes[0].total)
        if created_id is None:
            body = CreditNote(
                type="ACCRECCREDIT",
                contact=Contact(contact_id=contact_id),
                credit_note_number=note.number,
                reference=f"{note.invoice_number}: {note.reason}"[:255],
                date=note.issued_on,
                currency_code=_currency(note.currency),
                line_amount_types=LineAmountTypes.EXCLUSIVE,
                status="AUTHORISED",
                line_items=self._lines(note.lines, note.currency, note.tax_treatment),
            )
            created = self._call(
                "create credit note",
                lambda: self.api.create_credit_notes(
                    self.tenant,
                    CreditNotes(credit_notes=[body]),
                    summarize_errors=True,
                    unitdp=4,
                    idempotency_key=key.value,
                ),
            )
            made = created.credit_notes[0]
            created_id, total = str(made.credit_note_id), _money(made.total)
            remaining = _money(made.remaining_credit)
        else:
            remaining = None
        if remaining is None or remaining > 0:
            note_id = created_id
            allocation = Allocation(
                invoice=Invoice(invoice_id=invoice_id),
                amount=total if total is not None else note.total,
                date=note.issued_on,
            )
            self._call(
                "allocate credit note",
                lambda: self.api.create_credit_note_allocation(
                    self.tenant,
                    note_id,
                    Allocations(allocations=[allocation]),
                    idempotency_key=f"{key.value}:allocation",
                ),
            )
        return Sent(created_id, total)

    # ---------------------------------------------------------------- payments

    def payment(
        self, payment: docs.PaymentAllocation, contact_id: str, invoice_id: str, key: ExportKey
    ) -> Sent:
        reference = _reference(payment.reference, payment.payment_id, key)
        if key.retrying:
            found = self._call(
                "find payment",
                lambda: self.api.get_payments(self.tenant, where=f'Reference=="{reference}"'),
            )
            for existing in found.payments or []:
                if str(_word(existing.status)) != "DELETED":
                    return Sent(str(existing.payment_id))
        body = Payment(
            invoice=Invoice(invoice_id=invoice_id),
            account=Account(code=self._bank(payment.currency)),
            date=payment.paid_on,
            amount=payment.amount,
            reference=reference,
        )
        made = self._call(
            "create payment",
            lambda: self.api.create_payment(self.tenant, body, idempotency_key=key.value),
        )
        return Sent(str(made.payments[0].payment_id))

    def void(self, void: docs.Void, invoice_id: str, key: ExportKey) -> Sent:
        if key.retrying:
            current = self._call(
                "get invoice", lambda: self.api.get_invoice(self.tenant, invoice_id)
            )
            if current.invoices and str(current.invoices[0].status) == "VOIDED":
                return Sent(invoice_id)
        body = Invoice(invoice_id=invoice_id, status="VOIDED")
        self._call(
            "void invoice",
            lambda: self.api.update_invoice(
                self.tenant, invoice_id, Invoices(invoices=[body]), idempotency_key=key.value
            ),
        )
        return Sent(invoice_id)

    def due_date(self, change: docs.DueDateChange, invoice_id: str, key: ExportKey) -> Sent:
        """POST the invoice's new DueDate. Xero edits an AUTHORISED invoice's due date, but
        not a document with a payment or credit note allocated to it (nor a PAID or VOIDED
        one): then nothing is sent and the run notes why (``export reconcile`` shows the
        due dates differ until someone moves it in Xero)."""
        current = self._call("get invoice", lambda: self.api.get_invoice(self.tenant, invoice_id))
        if not current.invoices:
            raise RemoteRejected(f"Xero has no invoice {invoice_id} ({change.invoice_number})")
        remote = current.invoices[0]
        if _date(remote.due_date) == change.after:
            return Sent(invoice_id)  # sent before (a retry), or moved in Xero by hand
        status = str(_word(remote.status))
        paid = (_money(remote.amount_paid) or 0) + (_money(remote.amount_credited) or 0)
        if status not in ("AUTHORISED", "SUBMITTED", "DRAFT") or paid:
            why = (
                "it has a payment or credit note allocated"
                if status in ("AUTHORISED", "PAID") and paid
                else f"it is {status}"
            )
            return Sent(
                invoice_id,
                nothing_sent=(
                    f"due date: nothing sent - Xero does not edit invoice {change.invoice_number}"
                    f" ({why}); its due date there stays {_day(remote.due_date)}, the ledger's is"
                    f" {change.after.isoformat()}"
                ),
            )
        body = Invoice(invoice_id=invoice_id, due_date=change.after)
        self._call(
            "change due date",
            lambda: self.api.update_invoice(
                self.tenant, invoice_id, Invoices(invoices=[body]), idempotency_key=key.value
            ),
        )
        return Sent(invoice_id)

    def _bank(self, currency: str) -> str:
        return self.mapping.bank_account_for(currency)

    # ---------------------------------------------------------------- corrections

    def unallocate(
        self, unallocation: docs.Unallocation, contact_id: str, invoice_id: str, key: ExportKey
    ) -> Sent:
        """Xero payments are never edited, only deleted ("Delete (reverse) a payment"): the
        payments this ledger payment made to the invoice are deleted and what stays allocated
        is paid again in one payment. Already at ``remaining`` (an earlier attempt finished but
        its answer was lost), nothing is sent."""
        del contact_id
        tag = _payment_tag(unallocation.payment_id)
        clause = f'Invoice.InvoiceID==guid("{invoice_id}")'
        found = self._call(
            "find payments", lambda: self.api.get_payments(self.tenant, where=clause)
        )
        live = [
            p
            for p in found.payments or []
            if str(_word(p.status)) == "AUTHORISED" and tag in (p.reference or "")
        ]
        held = sum((_money(p.amount) or Decimal(0) for p in live), Decimal(0))
        if held == unallocation.remaining:
            return Sent(str(live[0].payment_id) if live else invoice_id)
        for stale in live:
            self._call("delete payment", self._deleting(str(stale.payment_id), key))
        if unallocation.remaining <= 0:
            return Sent(invoice_id)
        body = Payment(
            invoice=Invoice(invoice_id=invoice_id),
            account=Account(code=self._bank(unallocation.currency)),
            date=unallocation.paid_on,
            amount=unallocation.remaining,
            reference=_reference(unallocation.reference, unallocation.payment_id, key),
        )
        made = self._call(
            "create payment",
            lambda: self.api.create_payment(
                self.tenant, body, idempotency_key=f"{key.value}:remaining"
            ),
        )
        return Sent(str(made.payments[0].payment_id))

    def _deleting(self, payment_id: str, key: ExportKey) -> Callable[[], Any]:
        return lambda: self.api.delete_payment(
            self.tenant,
            payment_id,
            PaymentDelete(status="DELETED"),
            idempotency_key=f"{key.value}:delete:{payment_id}",
        )

    def refund(self, refund: docs.Refund, contact_id: str, key: ExportKey) -> Sent:
        """Money back out of the customer's unallocated credit. That credit is not in Xero (only
        money on invoices is), so, as Xero documents customer money on no invoice, it is
        received as an overpayment (a RECEIVE-OVERPAYMENT bank transaction on the day the
        payment was received) and refunded from it by a payment against the overpayment."""
        reference = _reference(refund.reference, refund.payment_id, key)
        overpayment_id = self._overpayment(refund, contact_id, reference, key)
        found = self._call(
            "find refund",
            lambda: self.api.get_payments(self.tenant, where=f'Reference=="{_quoted(reference)}"'),
        )
        for existing in found.payments or []:
            if str(_word(existing.status)) == "AUTHORISED" and existing.overpayment is not None:
                return Sent(str(existing.payment_id))
        body = Payment(
            overpayment=Overpayment(overpayment_id=overpayment_id),
            account=Account(code=self._bank(refund.currency)),
            date=refund.refunded_on,
            amount=refund.amount,
            reference=reference,
        )
        made = self._call(
            "refund overpayment",
            lambda: self.api.create_payment(
                self.tenant, body, idempotency_key=f"{key.value}:refund"
            ),
        )
        return Sent(str(made.payments[0].payment_id))

    def _overpayment(
        self, refund: docs.Refund, contact_id: str, reference: str, key: ExportKey
    ) -> str:
        """The overpayment a refund is paid from: found by its reference, else received now."""
        clause = f'Reference=="{_quoted(reference)}"'
        found = self._call(
            "find overpayment",
            lambda: self.api.get_bank_transactions(self.tenant, where=clause),
        )
        for existing in found.bank_transactions or []:
            if str(_word(existing.status)) == "AUTHORISED" and existing.overpayment_id:
                return str(existing.overpayment_id)
        body = BankTransaction(
            type="RECEIVE-OVERPAYMENT",
            contact=Contact(contact_id=contact_id),
            bank_account=Account(code=self._bank(refund.currency)),
            date=refund.received_on or refund.refunded_on,
            reference=reference,
            currency_code=_currency(refund.currency),
            line_amount_types=LineAmountTypes.NOTAX,
            line_items=[
                LineItem(description=f"Credit refunded: {reference}", line_amount=refund.amount)
            ],
        )
        made = self._call(
            "receive overpayment",
            lambda: self.api.create_bank_transactions(
                self.tenant,
                BankTransactions(bank_transactions=[body]),
                summarize_errors=True,
                idempotency_key=f"{key.value}:overpayment",
            ),
        )
        return str(made.bank_transactions[0].overpayment_id)

    # ---------------------------------------------------------------- read back

    def read_back(self, kind: Literal["invoice", "credit_note"], remote_id: str) -> RemoteDocument:
        """An invoice's Total, AmountDue and Status; a credit note's Total, RemainingCredit (what
        is still to allocate: its "amount due") and Status."""
        if kind == "invoice":
            invoices = self._call(
                "read invoice", lambda: self.api.get_invoice(self.tenant, remote_id)
            )
            invoice = invoices.invoices[0]
            return RemoteDocument(
                remote_id,
                str(invoice.invoice_number or ""),
                str(_word(invoice.currency_code)),
                _money(invoice.total) or Decimal(0),
                _money(invoice.amount_due) or Decimal(0),
                str(_word(invoice.status)),
                _date(invoice.due_date),
            )
        notes = self._call(
            "read credit note", lambda: self.api.get_credit_note(self.tenant, remote_id)
        )
        note = notes.credit_notes[0]
        return RemoteDocument(
            remote_id,
            str(note.credit_note_number or ""),
            str(_word(note.currency_code)),
            _money(note.total) or Decimal(0),
            _money(note.remaining_credit) or Decimal(0),
            str(_word(note.status)),
        )


def disambiguated(name: str, account_number: str) -> str:
    """The contact name used when another Xero contact holds the plain one: "Name (ACCOUNT)",
    the name cut so the whole fits Xero's 255 characters."""
    suffix = f" ({account_number})"
    return name[: CONTACT_NAME_LENGTH - len(suffix)].rstrip() + suffix


def _payment_tag(payment_id: UUID) -> str:
    """What every remote payment of one ledger payment carries in its Reference."""
    return f"[tb:{payment_id.hex[:12]}/"


def _reference(text: str, payment_id: UUID, key: ExportKey) -> str:
    """The payment's public reference, the ledger payment and the export (stable per event)."""
    # No double quotes: the reference is looked up in a where clause.
    return f"{text} {_payment_tag(payment_id)}{key.stable[:8]}]".replace('"', "").strip()


def _quoted(text: str) -> str:
    return text.replace('"', "")


def _word(value: Any) -> Any:
    """An SDK enum's value (CurrencyCode.GBP -> "GBP"); plain strings as they are."""
    return getattr(value, "value", value)


def _addresses(address: PostalAddress) -> list[Address] | None:
    """The customer's address as Xero's POBOX (postal) address, the one its invoices print;
    limits as Xero's Address type documents them (lines 500, city and region 255, postal
    code 50, country 50 letters: the ISO code). Parts the address lacks are sent empty, so
    an update clears them."""
    if address.is_empty:
        return None
    lines = fit_lines(address.lines, 4, 500, "Xero")
    lines += [""] * (4 - len(lines))
    return [
        Address(
            address_type="POBOX",
            **{f"address_line{number}": text for number, text in enumerate(lines, start=1)},
            city=fits(address.city, 255, "Xero", "city"),
            region=fits(address.region, 255, "Xero", "region"),
            postal_code=fits(address.postal_code, 50, "Xero", "postal code"),
            country=address.country,
        )
    ]


def _date(value: Any) -> date | None:
    """A date the SDK read (a ``date``, or a ``datetime`` at midnight)."""
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else None


def _day(value: Any) -> str:
    found = _date(value)
    return found.isoformat() if found else "unset"


def _looks_like_uuid(text: str) -> bool:
    from uuid import UUID

    try:
        UUID(text)
    except ValueError:
        return False
    return True
