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
from datetime import UTC, date, datetime
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
from domain.dunning import latest_today, reminder_key, stage_words
from domain.errors import BillingError, InvalidDate, InvalidInput
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
    #: the day the reminder was worked out on: the customer's own today, or the run's as_of
    day: date
    subject: str = ""
    #: due | dry-run | sent | failed | already-sent | settled | no-address | not-yet
    status: str = "due"
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
            "day": self.day.isoformat(),
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
    """Send every reminder due, or with ``dry_run`` only say which (nothing is rendered to
    PDF, sent or written). Each customer's reminders are worked out on its own today (in its
    profile's time zone), or on ``as_of`` for every customer (a day missed). ``as_of`` after
    the latest day that is today anywhere is refused unless ``dry_run``; a customer for whom
    ``as_of`` has not come yet gets nothing (``not-yet``). ConfigError when a reminder is due
    and the SMTP settings are missing or wrong."""
    from adapters.queries import every_customer

    now = ledger.clock()  # one moment for the whole run: each customer's today is read at it
    if as_of is not None:
        limits.check_date(as_of, what="dunning date", field="as_of")
        if as_of > latest_today(now) and not dry_run:
            raise InvalidDate(
                f"reminders are sent for a day that has come, not for {as_of}: it is not today"
                f" yet in any time zone (the latest today is {latest_today(now)}): use"
                " --dry-run to see what will go out",
                field="as_of",
            )
    sender = _Sender(ledger, env, actor, dry_run)
    done: list[Reminder] = []
    for customer in every_customer(ledger):
        today = _local_today(customer, now)
        day = as_of or today
        offsets = customer.profile_on(day).reminder_offsets
        if offsets:
            not_yet = day > today and not dry_run
            done.extend(sender.remind(customer, offsets, day, not_yet=not_yet))
    return done


def _local_today(customer: Customer, now: datetime) -> date:
    try:
        return customer.today_at(now)
    except InvalidInput as error:
        # a zone stored when the tz database knew it, since removed: a day late or early is
        # better than no reminders at all (what the run did before it used the customer's day)
        log.warning("reminders on the UTC day: the customer's time zone is unknown",
                    account=customer.registered.account_number, error=str(error))  # fmt: skip
        return now.astimezone(UTC).date()


class _Sender:
    """One run's sending: the templates, and the SMTP settings read when the first reminder
    goes out (a day with nothing due needs none)."""

    def __init__(self, ledger: Ledger, env: Mapping[str, str], actor: str, dry_run: bool) -> None:
        self.ledger, self.env, self.actor, self.dry_run = ledger, env, actor, dry_run
        self.jinja = templates.environment(env)
        self.config: SmtpConfig | None = None

    def remind(
        self, customer: Customer, offsets: tuple[int, ...], day: date, *, not_yet: bool
    ) -> Iterator[Reminder]:
        """The customer's reminders due on ``day``; with ``not_yet`` (the day has not begun
        in the customer's time zone) only listed, as ``not-yet``."""
        for invoice in _owing(self.ledger, customer, day):
            offset = invoice.reminder_due(offsets, day)
            if offset is None:
                continue
            try:
                yield self._one(invoice, offset, day, not_yet)
            except BillingError as error:
                # voided or settled since it was listed: the others are still reminded
                log.info("reminder dropped", aggregate_id=str(invoice.id), offset=offset,
                         error=str(error))  # fmt: skip

    def _one(self, invoice: Invoice, offset: int, day: date, not_yet: bool) -> Reminder:
        reminder = _reminder(self.ledger, invoice, offset, self.jinja, day)
        if not_yet:
            return _with(reminder, status="not-yet")
        if reminder.status == "no-address":
            log.warning("reminder not sent: no billing address",
                        aggregate_id=str(invoice.id), offset=offset)  # fmt: skip
            return reminder
        if self.dry_run:
            return _with(reminder, status="dry-run")
        self.config = self.config or SmtpConfig.from_env(self.env)
        return _send(self.ledger, self.config, reminder, self.actor, self.jinja, day)


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
        day=day,
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
