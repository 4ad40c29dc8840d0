"""Sending an issued invoice by e-mail, recording the outcome, and retrying failed sends.

One send request has a deterministic id (uuid5 of the invoice and the request's key) and the
Message-ID derived from it. ``Invoice.Sent`` is recorded only after the SMTP server accepted the
message; a failure is ``Invoice.SendFailed`` with the attempt number and when to retry
(:data:`BACKOFF`). :func:`retry_due` tries each due request again with the same id and
Message-ID, and never once its ``Sent`` is recorded (docs/email.md, "Retries").
"""

from __future__ import annotations

import email.policy
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import TYPE_CHECKING, Literal
from uuid import UUID

import structlog
from eventsourcing.utils import get_topic

from adapters.mail import templates
from adapters.mail.config import SmtpConfig
from adapters.mail.smtp import SendError, deliver
from domain import limits
from domain.credit_note import CreditNote
from domain.customer import Customer
from domain.delivery import (
    Delivery,
    DocumentSendFailed,
    SendFailure,
    message_id_for,
    send_id_for,
)
from domain.email_address import parse_addresses
from domain.errors import BillingError, InvalidInput, NoRecipient
from domain.invoice import Invoice

if TYPE_CHECKING:
    from adapters.ledger.application import Ledger
    from adapters.pdf.document import Document

log = structlog.get_logger("tollbook.mail")

Kind = Literal["invoice", "credit_note"]
#: what a prepared message carries: a document, or a statement of account (mail/statements.py)
PreparedKind = Literal["invoice", "credit_note", "statement"]

#: wait before attempt 2, 3, ...; after the last, the request is given up (retry_at None)
BACKOFF = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=12),
)


@dataclass(frozen=True)
class Prepared:
    """A message ready to hand to the server, and what its events will say."""

    document_id: UUID  # an invoice's or a credit note's id (``kind``); a statement's customer
    delivery: Delivery
    subject: str
    message: EmailMessage
    attachment_size: int
    kind: PreparedKind = "invoice"


@dataclass(frozen=True)
class Outcome:
    prepared: Prepared
    status: str  # sent | failed | already-sent
    refused: tuple[str, ...] = ()
    error: str = ""
    retry_at: datetime | None = None


def prepare_invoice(
    ledger: Ledger,
    ref: str | UUID,
    config: SmtpConfig,
    env: Mapping[str, str],
    *,
    to: str | tuple[str, ...] | None = None,
    key: str | None = None,
    send_id: UUID | None = None,
    kind: Kind = "invoice",
) -> Prepared:
    """The message for one send request of an issued invoice or a credit note (``kind``);
    nothing is written."""
    document_id, values = template_values(ledger, kind, ref)
    aggregate = (
        ledger.invoice(document_id) if kind == "invoice" else ledger.credit_note(document_id)
    )
    aggregate.check_sendable()
    recipients = recipients_for(ledger, aggregate.customer_id, aggregate.customer_account, to)
    if send_id is None:
        key = key if key is not None else f"request-{len(aggregate.send_states) + 1}"
        limits.check_text(key, limits.IDEMPOTENCY_KEY, field="key")
        if not key.strip():
            raise InvalidInput("the send key is empty", field="key")
        send_id = send_id_for(document_id, key)
    subject, body = templates.render(templates.environment(env), kind, values)
    return compose_document(ledger, config, kind, document_id, send_id, recipients, subject, body)


def compose_document(
    ledger: Ledger,
    config: SmtpConfig,
    kind: Kind,
    document_id: UUID,
    send_id: UUID,
    recipients: tuple[str, ...],
    subject: str,
    body: str,
) -> Prepared:
    """The message of one send request: the words given, the document's PDF attached, the
    Message-ID derived from ``send_id`` (invoices, credit notes and reminders alike)."""
    from adapters.einvoice.signing import sign_if_configured
    from adapters.pdf.batch import file_name
    from adapters.pdf.config import PdfConfig
    from adapters.pdf.render import render

    document = _source(ledger, kind, document_id)
    # signed as every PDF we hand out is, when a key is configured (docs/pdf.md, "Signing")
    pdf = sign_if_configured(render(document, PdfConfig.from_env()).pdf, ledger.clock())
    attachment = (file_name(document.reference), pdf)
    delivery, message = compose(ledger, config, send_id, recipients, (subject, body), attachment)
    return Prepared(document_id, delivery, subject, message, len(pdf), kind)


def compose(
    ledger: Ledger,
    config: SmtpConfig,
    send_id: UUID,
    recipients: tuple[str, ...],
    text: tuple[str, str],
    attachment: tuple[str, bytes],
) -> tuple[Delivery, EmailMessage]:
    """The message of one send request: ``text`` (subject, body) and a PDF ``attachment``
    (name, bytes); its Message-ID derived from ``send_id``, its date the ledger's clock."""
    (subject, body), (name, pdf) = text, attachment
    delivery = Delivery(
        send_id=send_id,
        recipients=recipients,
        message_id=message_id_for(send_id, config.message_domain),
        attachment_name=name,
        attachment_sha256=hashlib.sha256(pdf).hexdigest(),
    )
    message = EmailMessage(policy=_POLICY)
    message["From"] = config.sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = subject
    message["Date"] = format_datetime(ledger.clock())
    message["Message-ID"] = delivery.message_id
    message.set_content(body)
    message.add_attachment(pdf, maintype="application", subtype="pdf", filename=name)
    return delivery, message


def template_values(ledger: Ledger, kind: Kind, ref: str | UUID) -> tuple[UUID, dict[str, str]]:
    """The document's id and the values its templates see (docs/email.md, "Templates")."""
    if kind == "credit_note":
        note = ledger.credit_note(ref)
        return note.id, {
            "number": note.number,
            "issued_on": note.issued_on.isoformat(),
            "invoice_number": note.invoice_number,
            "total": str(note.totals.total),
            "currency": note.currency,
            "customer_name": note.billing.customer_name,
            "seller_name": note.billing.seller_name,
        }
    invoice = ledger.invoice(ref)
    invoice.check_sendable()
    billing = invoice.billing
    assert billing is not None  # an issued invoice carries its snapshot
    return invoice.id, {
        "number": str(invoice.number),
        "invoice_date": invoice.invoice_date.isoformat(),
        "due_date": invoice.due_date.isoformat(),
        "total": str(invoice.totals.total),
        "currency": invoice.currency,
        "customer_name": billing.customer_name,
        "seller_name": billing.seller_name,
        "payment_instructions": billing.payment_instructions,
    }


def _source(ledger: Ledger, kind: Kind, document_id: UUID) -> Document:
    from adapters.pdf.sources import credit_note_source, invoice_source

    if kind == "credit_note":
        return credit_note_source(ledger, document_id)
    return invoice_source(ledger, document_id)


def recipients_for(
    ledger: Ledger,
    customer_id: UUID,
    account: str,
    to: str | tuple[str, ...] | None,
    *,
    field: str = "to",
    option: str = "--to, or `to` over HTTP",
) -> tuple[str, ...]:
    """The addresses given, else the customer's billing addresses; ``field``/``option`` name
    where the request gives them, for the refusal when there are none."""
    if to:
        return parse_addresses(to, field)
    found = parse_addresses(ledger.customer(customer_id).profile_on(ledger.today()).email)
    if not found:
        raise NoRecipient(
            f"customer {account} has no billing e-mail address: set one (customer update"
            f" --email) or give the addresses to send to ({option})",
            field=field,
        )
    return found


#: headers on one line up to RFC 5322's 998 characters: folding a subject at 78 made parsers
#: read it back with a leading space
_POLICY = email.policy.default.clone(max_line_length=998)

_TYPE = {"invoice": "Invoice", "credit_note": "CreditNote"}


def _aggregate(ledger: Ledger, kind: Kind, document_id: UUID) -> Invoice | CreditNote:
    return ledger.credit_note(document_id) if kind == "credit_note" else ledger.invoice(document_id)


def send(
    ledger: Ledger, prepared: Prepared, config: SmtpConfig, actor: str, attempt: int = 1
) -> Outcome:
    """Hand the message to the server unless this request was already sent; record the result."""
    if prepared.kind == "statement":
        raise ValueError("a statement is sent by adapters/mail/statements.py")
    bound = log.bind(aggregate_id=str(prepared.document_id), send_id=str(prepared.delivery.send_id))
    if (
        _aggregate(ledger, prepared.kind, prepared.document_id).send_state(
            prepared.delivery.send_id
        )
        == "sent"
    ):
        bound.info("send skipped: already sent")
        return Outcome(prepared, "already-sent")
    try:
        refused = deliver(config, prepared.message, prepared.delivery.recipients)
    except SendError as error:
        retry_at = ledger.clock() + BACKOFF[attempt - 1] if attempt <= len(BACKOFF) else None
        failure = SendFailure(
            delivery=prepared.delivery, attempt=attempt, error=str(error), retry_at=retry_at
        )
        if prepared.kind == "credit_note":
            ledger.record_credit_note_send_failed(prepared.document_id, actor, failure)
        else:
            ledger.record_invoice_send_failed(prepared.document_id, actor, failure)
        bound.warning("send failed", event_type=f"{_TYPE[prepared.kind]}.SendFailed",
                      attempt=attempt, error=str(error), retry_at=retry_at)  # fmt: skip
        return Outcome(prepared, "failed", error=str(error), retry_at=retry_at)
    accepted = tuple(r for r in prepared.delivery.recipients if r not in refused)
    delivery = prepared.delivery.model_copy(update={"recipients": accepted, "refused": refused})
    if prepared.kind == "credit_note":
        ledger.record_credit_note_sent(prepared.document_id, actor, delivery)
    else:
        ledger.record_invoice_sent(prepared.document_id, actor, delivery)
    bound.info(
        "invoice sent",
        event_type=f"{_TYPE[prepared.kind]}.Sent",
        recipients=accepted,
        refused=refused,
    )
    return Outcome(replace(prepared, delivery=delivery), "sent", refused=refused)


def request_send(
    ledger: Ledger,
    ref: str | UUID,
    actor: str,
    env: Mapping[str, str],
    *,
    to: str | tuple[str, ...] | None = None,
    key: str | None = None,
    dry_run: bool = False,
    kind: Kind = "invoice",
) -> Outcome:
    """One send request from a person (CLI, HTTP): prepared, then sent unless ``dry_run``."""
    config = SmtpConfig.from_env(env)
    prepared = prepare_invoice(ledger, ref, config, env, to=to, key=key, kind=kind)
    if dry_run:
        return Outcome(prepared, "dry-run")
    return send(ledger, prepared, config, actor)


def outcome_doc(outcome: Outcome) -> dict[str, object]:
    """The outcome as the CLI's --json and the HTTP API show it (docs/email.md)."""
    prepared, delivery = outcome.prepared, outcome.prepared.delivery
    return {
        "status": outcome.status,
        "kind": prepared.kind,
        "document_id": str(prepared.document_id),
        "send_id": str(delivery.send_id),
        "message_id": delivery.message_id,
        "sender": str(prepared.message["From"]),
        "to": list(delivery.recipients),
        "subject": prepared.subject,
        "attachment": delivery.attachment_name,
        "attachment_size": prepared.attachment_size,
        "attachment_sha256": delivery.attachment_sha256,
        "refused": list(outcome.refused),
        "error": outcome.error,
        "retry_at": outcome.retry_at.isoformat() if outcome.retry_at else None,
    }


def retry_due(
    ledger: Ledger,
    config: SmtpConfig,
    env: Mapping[str, str],
    actor: str,
    before_each: Callable[[], None] | None = None,
) -> list[Outcome]:
    """Attempt again every failed send request whose retry time has come; ``before_each`` runs
    before each attempt (the scheduler renews its lease there, or stops by raising)."""
    latest: dict[UUID, DocumentSendFailed] = {}
    topics = [
        get_topic(Invoice.SendFailed),
        get_topic(CreditNote.SendFailed),
        get_topic(Customer.StatementSendFailed),
    ]
    for _, event in ledger.all_events(topics=topics):
        if isinstance(event, DocumentSendFailed):
            latest[event.send_id] = event
    now = ledger.clock()
    outcomes = []
    for send_id, failed in latest.items():
        if failed.retry_at is None or failed.retry_at > now:
            continue
        if isinstance(failed, Customer.StatementSendFailed):
            if ledger.customer(failed.originator_id).statement_send_state(send_id) == "failed":
                if before_each is not None:
                    before_each()
                from adapters.mail.statements import retry_statement  # it builds on this module

                outcomes.append(retry_statement(ledger, failed, config, env, actor))
            continue
        kind: Kind = "credit_note" if isinstance(failed, CreditNote.SendFailed) else "invoice"
        document_id = failed.originator_id
        if _aggregate(ledger, kind, document_id).send_state(send_id) != "failed":
            continue
        if before_each is not None:
            before_each()
        try:
            prepared = prepare_invoice(
                ledger, document_id, config, env, to=failed.recipients, send_id=send_id, kind=kind
            )
        except BillingError as error:  # voided since: nothing more to send
            log.info("send retry dropped", aggregate_id=str(document_id), error=str(error))
            continue
        outcomes.append(send(ledger, prepared, config, actor, failed.attempt + 1))
    return outcomes
