"""The dunning run: every open invoice whose customer's reminder schedule has a stage due is
e-mailed a reminder with its PDF attached, and the outcome recorded on the invoice
(``Invoice.ReminderSent`` / ``Invoice.ReminderFailed``). docs/dunning.md.

Which stage is due is the domain's rule (``Invoice.reminder_due``, domain/dunning.py). Each
stage of each invoice is one send request (uuid5 of the invoice and ``reminder:OFFSET``), so
its Message-ID is the same on every attempt, and a stage recorded as sent is never sent again:
running the same day twice, or after a crash, sends nothing new. As with any send
(adapters/mail/sending.py), the one window is a crash after the server took the message and
before the event was written: the next run sends it again, with the same Message-ID.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING
from uuid import UUID

import structlog
from jinja2.sandbox import SandboxedEnvironment

from adapters.config_error import ConfigError
from adapters.mail import templates
from adapters.mail.config import SmtpConfig
from adapters.mail.sending import compose_document, recipients_for, template_values
from adapters.mail.smtp import SendError, deliver
from domain import limits
from domain.customer import Customer
from domain.delivery import SendFailure, send_id_for
from domain.dunning import reminder_key, stage_words
from domain.errors import BillingError, InvalidDate
from domain.invoice import Invoice

if TYPE_CHECKING:
    from adapters.ledger.application import Ledger

log = structlog.get_logger("tollbook.dunning")


@dataclass(frozen=True)
class Reminder:
    """One reminder a run sends (or would send, or could not)."""

    invoice_id: UUID
    number: str
    account: str
    offset: int
    due_date: date
    outstanding: Decimal
    currency: str
    recipients: tuple[str, ...]
    subject: str = ""
    status: str = "due"  # due | dry-run | sent | failed | already-sent | settled | no-address
    message_id: str = ""
    error: str = ""
    attempt: int = 1

    @property
    def stage(self) -> str:
        return stage_words(self.offset)

    def doc(self) -> dict[str, object]:
        """As ``tollbook invoice remind --json`` and ``POST /dunning/run`` show it."""
        return {
            "invoice": self.number,
            "invoice_id": str(self.invoice_id),
            "customer": self.account,
            "offset": self.offset,
            "stage": self.stage,
            "due_date": self.due_date.isoformat(),
            "outstanding": str(self.outstanding),
            "currency": self.currency,
            "to": list(self.recipients),
            "subject": self.subject,
            "status": self.status,
            "message_id": self.message_id,
            "attempt": self.attempt,
            "error": self.error,
        }


def run(
    ledger: Ledger,
    env: Mapping[str, str],
    actor: str,
    *,
    as_of: date | None = None,
    dry_run: bool = False,
) -> list[Reminder]:
    """Send every reminder due on ``as_of`` (default: the ledger's today), or with
    ``dry_run`` only say which (nothing is rendered to PDF, sent or written). ConfigError
    when a reminder is due and the SMTP settings are missing or wrong."""
    day = as_of or ledger.today()
    limits.check_date(day, what="dunning date", field="as_of")
    if day > ledger.today() and not dry_run:
        raise InvalidDate(
            f"reminders are sent for today or a day missed, not for {day} (after today,"
            f" {ledger.today()}): use --dry-run to see what will go out",
            field="as_of",
        )
    # read when the first reminder goes out: a day with nothing due needs no SMTP settings
    config: SmtpConfig | None = None
    jinja = templates.environment(env)
    done = []
    for invoice, offsets in _open_invoices(ledger, day):
        offset = invoice.reminder_due(offsets, day)
        if offset is None:
            continue
        try:
            reminder = _reminder(ledger, invoice, offset, jinja, day)
            if reminder.status == "no-address":
                log.warning("reminder not sent: no billing address",
                            aggregate_id=str(invoice.id), offset=offset)  # fmt: skip
            elif dry_run:
                reminder = _with(reminder, status="dry-run")
            else:
                config = config or SmtpConfig.from_env(env)
                reminder = _send(ledger, config, reminder, actor, jinja, day)
        except BillingError as error:
            # voided or settled since it was listed: the others are still reminded
            log.info("reminder dropped", aggregate_id=str(invoice.id), offset=offset,
                     error=str(error))  # fmt: skip
            continue
        done.append(reminder)
    return done


def _open_invoices(ledger: Ledger, day: date) -> Iterator[tuple[Invoice, tuple[int, ...]]]:
    """Each invoice that still owes money, of a customer with a reminder schedule on ``day``."""
    from adapters.queries import every_customer

    for customer in every_customer(ledger):
        offsets = customer.profile_on(day).reminder_offsets
        if offsets:
            for invoice in _owing(ledger, customer, day):
                yield invoice, offsets


def _owing(ledger: Ledger, customer: Customer, day: date) -> list[Invoice]:
    """The customer's issued invoices with something outstanding: from the invoice register
    on an SQL store (then each loaded, so the decision is the aggregate's own), folded from
    the log on ``memory://``."""
    from adapters.queries import InvoiceQuery, queries_for

    try:
        queries = queries_for(ledger)
    except ConfigError:
        from adapters.ledger.folds import LogFolds

        found = LogFolds(ledger).invoices(customer.id)
        return [i for i in found if i.state == "issued" and i.outstanding > 0]
    ids: list[str] = []
    cursor = None
    wanted = InvoiceQuery(customer_id=str(customer.id), open_only=True)
    while True:
        page = queries.invoices(wanted, day, limit=500, cursor=cursor)
        ids.extend(str(row["invoice_id"]) for row in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    return [ledger.invoice(UUID(i)) for i in ids]


def _reminder(
    ledger: Ledger, invoice: Invoice, offset: int, jinja: SandboxedEnvironment,
    day: date,
) -> Reminder:  # fmt: skip
    try:
        recipients = recipients_for(ledger, invoice.customer_id, invoice.customer_account, None)
        status = "due"
    except BillingError:
        recipients, status = (), "no-address"
    reminder = Reminder(
        invoice_id=invoice.id,
        number=invoice.label,
        account=invoice.customer_account,
        offset=offset,
        due_date=invoice.due_date,
        outstanding=invoice.outstanding,
        currency=invoice.currency,
        recipients=recipients,
        status=status,
        attempt=invoice.reminder_attempts_of(offset) + 1,
    )
    subject, _ = _words(ledger, reminder, jinja, day)
    return _with(reminder, subject=subject)


def _words(
    ledger: Ledger, reminder: Reminder, jinja: SandboxedEnvironment, day: date
) -> tuple[str, str]:
    _, values = template_values(ledger, "invoice", reminder.invoice_id)
    extra = {
        "outstanding": str(reminder.outstanding),
        "offset": reminder.offset,
        "stage": reminder.stage,
        "days_overdue": (day - reminder.due_date).days,
        "today": day.isoformat(),
    }
    return templates.render(jinja, "reminder", {**values, **extra})


def _send(
    ledger: Ledger,
    config: SmtpConfig,
    reminder: Reminder,
    actor: str,
    jinja: SandboxedEnvironment,
    day: date,
) -> Reminder:
    invoice_id, offset = reminder.invoice_id, reminder.offset
    bound = log.bind(aggregate_id=str(invoice_id), invoice=reminder.number, offset=offset)
    send_id = send_id_for(invoice_id, reminder_key(offset))
    subject, body = _words(ledger, reminder, jinja, day)
    prepared = compose_document(
        ledger, config, "invoice", invoice_id, send_id, reminder.recipients, subject, body
    )
    message_id = prepared.delivery.message_id
    # fresh from the store: another run may have sent the stage, or a payment, credit note or
    # void settled the invoice, since it was listed
    fresh = ledger.invoice(invoice_id)
    if fresh.reminder_states.get(offset) == "sent":
        bound.info("reminder skipped: already sent")
        return _with(reminder, status="already-sent", message_id=message_id)
    if fresh.state != "issued" or fresh.outstanding <= 0:
        bound.info("reminder skipped: nothing owed any more")
        return _with(reminder, status="settled", message_id=message_id)
    try:
        refused = deliver(config, prepared.message, reminder.recipients)
    except SendError as error:
        failure = SendFailure(
            delivery=prepared.delivery, attempt=reminder.attempt, error=str(error), retry_at=None
        )
        ledger.record_invoice_reminder_failed(invoice_id, actor, offset, failure)
        bound.warning("reminder failed", event_type="Invoice.ReminderFailed",
                      attempt=reminder.attempt, error=str(error))  # fmt: skip
        return _with(reminder, status="failed", message_id=message_id, error=str(error))
    accepted = tuple(r for r in reminder.recipients if r not in refused)
    delivery = prepared.delivery.model_copy(update={"recipients": accepted, "refused": refused})
    recorded = ledger.record_invoice_reminder_sent(
        invoice_id, actor, offset, delivery, reminder.outstanding
    )
    bound.info("reminder sent", event_type="Invoice.ReminderSent", recipients=accepted,
               refused=refused, recorded=recorded)  # fmt: skip
    return _with(reminder, status="sent", message_id=message_id, recipients=accepted)


def _with(reminder: Reminder, **changes: object) -> Reminder:
    from dataclasses import replace

    return replace(reminder, **changes)  # type: ignore[arg-type]
