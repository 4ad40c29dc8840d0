"""Plain words per event, for the history timelines: one line each, except a draft opened
with its lines (a billing run's), which lists them one per line after the opening words."""

from __future__ import annotations

from typing import Any

from domain.aggregate import Event
from domain.customer import Customer
from domain.dunning import stage_words
from domain.event_handlers import HandlesEvents, on
from domain.invoice import Invoice
from domain.invoice_line import InvoiceLine
from domain.package import Package
from domain.payment import Payment
from domain.settings import AccountSettings

LINE_FIELDS = ("description", "quantity", "unit_price", "tax_rate", "period_start", "period_end")


def _line(line: InvoiceLine) -> str:
    text = f"{line.description}: {line.quantity} × {line.unit_price} at {line.tax_rate}% tax"
    if line.period_start or line.period_end:
        text += f" ({line.period_start or '…'} to {line.period_end or '…'})"
    return text


def _changes(before: dict[str, Any], after: dict[str, Any]) -> str:
    return "; ".join(f"{key.replace('_', ' ')} {before.get(key)} → {after[key]}" for key in after)


def describe(event: Event) -> str:
    handle = _WORDS.handler_for(event)
    return type(event).__name__ if handle is None else str(handle(event))


class _Words(HandlesEvents):
    """The words for each event type, one method each."""

    @on(Invoice.Drafted)
    def _drafted(self, event: Invoice.Drafted) -> str:
        opened = (
            f"draft opened for {event.customer_account} in {event.currency},"
            f" dated {event.invoice_date}, due {event.due_date}"
        )
        if not event.lines:
            return opened
        # a billing run's draft comes with its lines: the history still shows each one
        count = f"{len(event.lines)} line{'' if len(event.lines) == 1 else 's'}"
        return "\n".join(
            [f"{opened}, with {count}:", *(f"  line: {_line(line)}" for line in event.lines)]
        )

    @on(Invoice.LineAdded)
    def _line_added(self, event: Invoice.LineAdded) -> str:
        return "line added: " + _line(event.line)

    @on(Invoice.LineEdited)
    def _line_edited(self, event: Invoice.LineEdited) -> str:
        before = event.before.model_dump(mode="json")
        after = event.after.model_dump(mode="json")
        changed = {k: after[k] for k in LINE_FIELDS if before[k] != after[k]}
        return f"line {event.before.description!r} edited: " + _changes(before, changed)

    @on(Invoice.LineRemoved)
    def _line_removed(self, event: Invoice.LineRemoved) -> str:
        return "line removed: " + _line(event.line)

    @on(Invoice.DatesChanged)
    def _dates_changed(self, event: Invoice.DatesChanged) -> str:
        return "dates changed: " + _changes(event.before, event.after)

    @on(Invoice.DueDateChanged)
    def _due_date_changed(self, event: Invoice.DueDateChanged) -> str:
        return f"due date changed: {event.before} -> {event.after}"

    @on(Invoice.Issued)
    def _issued(self, event: Invoice.Issued) -> str:
        return f"issued as {event.number}: total {event.total} {event.currency}"

    @on(Invoice.Credited)
    def _credited(self, event: Invoice.Credited) -> str:
        return f"credit note {event.credit_note_number}: {event.amount} {event.currency}"

    @on(Invoice.PaymentApplied)
    def _payment_applied(self, event: Invoice.PaymentApplied) -> str:
        return f"payment {str(event.payment_id)[:8]} allocated {event.amount} {event.currency}"

    @on(Invoice.PaymentUnapplied)
    def _payment_unapplied(self, event: Invoice.PaymentUnapplied) -> str:
        return f"payment {str(event.payment_id)[:8]} unallocated {event.amount}"

    @on(Invoice.Voided)
    def _voided(self, event: Invoice.Voided) -> str:
        return f"voided (total {event.total} {event.currency})"

    @on(Invoice.ReminderSent)
    def _reminder_sent(self, event: Invoice.ReminderSent) -> str:
        refused = f" (refused: {', '.join(event.refused)})" if event.refused else ""
        return (
            f"payment reminder sent, {stage_words(event.offset)} ({event.due_date}):"
            f" {event.outstanding} {event.currency} to {', '.join(event.recipients)}{refused}"
        )

    @on(Invoice.ReminderFailed)
    def _reminder_failed(self, event: Invoice.ReminderFailed) -> str:
        return (
            f"payment reminder {stage_words(event.offset)} not sent (attempt"
            f" {event.attempt}): {event.error}"
        )

    @on(Payment.Received)
    def _received(self, event: Payment.Received) -> str:
        d = event.details
        return f"received {d.amount} {d.currency} on {d.received_on} by {d.method} ({event.status})"

    @on(Payment.Completed)
    def _completed(self, event: Payment.Completed) -> str:
        return "completed: the money arrived"

    @on(Payment.Cancelled)
    def _cancelled(self, event: Payment.Cancelled) -> str:
        return f"cancelled (was {event.previous_status})"

    @on(Payment.Allocated)
    def _allocated(self, event: Payment.Allocated) -> str:
        return f"allocated {event.amount} {event.currency} to {event.invoice_number}"

    @on(Payment.Unallocated)
    def _unallocated(self, event: Payment.Unallocated) -> str:
        return f"unallocated {event.amount} {event.currency} from {event.invoice_number}"

    @on(Payment.Refunded)
    def _refunded(self, event: Payment.Refunded) -> str:
        return f"refunded {event.amount} {event.currency}"

    @on(Customer.PrepaidBalanceLow)
    def _balance_low(self, event: Customer.PrepaidBalanceLow) -> str:
        return (
            f"prepaid balance {event.balance} {event.currency} fell below"
            f" {event.threshold} {event.currency} (was {event.previous_balance})"
        )

    @on(Customer.StatementSent)
    def _statement_sent(self, event: Customer.StatementSent) -> str:
        return (
            f"statement {event.period_from} to {event.period_to} ({event.currency}) e-mailed"
            f" to {', '.join(event.recipients)}, {event.message_id}"
        )

    @on(Customer.StatementSendFailed)
    def _statement_failed(self, event: Customer.StatementSendFailed) -> str:
        return (
            f"statement {event.period_from} to {event.period_to} ({event.currency}) not sent:"
            f" {event.error}"
        )

    @on(Customer.DetailsChanged)
    def _details_changed(self, event: Customer.DetailsChanged) -> str:
        return f"from {event.effective_from}: " + _changes(event.before, event.after)

    @on(Customer.ChargesCarriedForward)
    def _carried(self, event: Customer.ChargesCarriedForward) -> str:
        carried = event.carried
        return (
            f"{carried.period_start} to {carried.period_end}: {carried.total}"
            f" {carried.currency} below the minimum invoice amount, carried forward"
            f" ({len(carried.lines)} line{'' if len(carried.lines) == 1 else 's'})"
        )

    @on(Customer.CarriedChargesBilled)
    def _carried_billed(self, event: Customer.CarriedChargesBilled) -> str:
        count = len(event.carried)
        return (
            f"charges carried forward from {count} period{'' if count == 1 else 's'}"
            f" billed on invoice {event.invoice_id}"
        )

    @on(AccountSettings.Changed)
    @on(Package.TermsChanged)
    def _terms_changed(self, event: AccountSettings.Changed | Package.TermsChanged) -> str:
        return _changes(event.before, event.after)


_WORDS = _Words()
