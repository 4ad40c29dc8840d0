"""Plain words per event, for the history timelines: one line each, except a draft opened
with its lines (a billing run's), which lists them one per line after the opening words."""

from __future__ import annotations

from typing import Any

from domain.aggregate import Event
from domain.customer import Customer
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
    match event:
        case Invoice.Drafted():
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
        case Invoice.LineAdded():
            return "line added: " + _line(event.line)
        case Invoice.LineEdited():
            before = event.before.model_dump(mode="json")
            after = event.after.model_dump(mode="json")
            changed = {k: after[k] for k in LINE_FIELDS if before[k] != after[k]}
            return f"line {event.before.description!r} edited: " + _changes(before, changed)
        case Invoice.LineRemoved():
            return "line removed: " + _line(event.line)
        case Invoice.DatesChanged():
            return "dates changed: " + _changes(event.before, event.after)
        case Invoice.Issued():
            return f"issued as {event.number}: total {event.total} {event.currency}"
        case Invoice.Credited():
            return f"credit note {event.credit_note_number}: {event.amount} {event.currency}"
        case Invoice.PaymentApplied():
            return f"payment {str(event.payment_id)[:8]} allocated {event.amount} {event.currency}"
        case Invoice.PaymentUnapplied():
            return f"payment {str(event.payment_id)[:8]} unallocated {event.amount}"
        case Invoice.Voided():
            return f"voided (total {event.total} {event.currency})"
        case Payment.Received():
            d = event.details
            return (
                f"received {d.amount} {d.currency} on {d.received_on} by {d.method}"
                f" ({event.status})"
            )
        case Payment.Completed():
            return "completed: the money arrived"
        case Payment.Cancelled():
            return f"cancelled (was {event.previous_status})"
        case Payment.Allocated():
            return f"allocated {event.amount} {event.currency} to {event.invoice_number}"
        case Payment.Unallocated():
            return f"unallocated {event.amount} {event.currency} from {event.invoice_number}"
        case Payment.Refunded():
            return f"refunded {event.amount} {event.currency}"
        case Customer.DetailsChanged():
            return f"from {event.effective_from}: " + _changes(event.before, event.after)
        case AccountSettings.Changed() | Package.TermsChanged():
            return _changes(event.before, event.after)
    return type(event).__name__
