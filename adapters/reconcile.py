"""Reconciliation: every balance recomputed from the events, compared with the read models and
with each invoice's and payment's own state.

Everything is compared at one consistent point, so a ledger that keeps taking writes (and a
follower that keeps moving the read models) while this runs reports no false difference:
the read models' rows and tracking positions are read in ONE snapshot; the events are then
replayed once, in log order, up to the highest of those positions; each read model is checked
when the replay reaches its own position, against the balance fold and against the invoice and
payment aggregates exactly as they stood there. Events written after the snapshot are never
read, and every event up to a tracked position is final (the stores commit in log order).
A position may fall inside one atomic save (a payment's Allocated and the invoice's
PaymentApplied): checks that compare the two sides of a save (invoices against the fold) are
made where a save ends; the others compare like with like, which agrees at any position.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from adapters.ledger.application import Ledger
from adapters.store.read_models import SqlViewStore
from adapters.stored_values import out_of_range
from domain.aggregate import Aggregate, Event
from domain.invoice import Invoice
from domain.invoice_line import totals_of
from domain.payment import Payment
from projections.aged_receivables import MOVEMENTS, age
from projections.balances import Balances
from projections.customer_balances import BALANCES
from projections.invoice_register import REGISTER
from projections.payment_history import HISTORY
from projections.runner import describe_error
from projections.view import Row, Table

FAR_FUTURE = date(9999, 12, 31)


@dataclass(frozen=True)
class Difference:
    """One value the events say one thing about and a read model (or aggregate) another; or
    a stored event the ledger cannot use as it is (with its position and aggregate id)."""

    check: str
    subject: str
    field: str
    expected: str  # from the events
    found: str  # in the read model
    position: int | None = None
    aggregate_id: str | None = None


UNREADABLE = "unreadable event"
OUT_OF_RANGE = "event out of range"
UNUSABLE = "event cannot be applied"
STOPPED = "read model stopped"


def _event_finding(
    check: str, position: int, notification: Any, field: str, expected: str, found: str
) -> Difference:
    kind = notification.topic.rpartition(":")[2]
    subject = (
        f"{kind} v{notification.originator_version} of {notification.originator_id}"
        f" at position {position}"
    )
    return Difference(
        check, subject, field, expected, found, position, str(notification.originator_id)
    )


def stored_events(ledger: Ledger, findings: list[Difference]) -> Iterator[tuple[int, Event]]:
    """Every event in log order, as (position, event); one that cannot be decoded, or holds a
    value the ledger cannot use (adapters/stored_values.py), is listed in ``findings`` (an
    unreadable one is left out of the replay)."""
    after: int | None = None
    page_size = 1000
    while True:
        page = ledger.recorder.select_notifications(
            after, page_size, inclusive_of_start=after is None
        )
        for notification in page:
            try:
                event = ledger.mapper.to_domain_event(notification)
                if not isinstance(event, Event):
                    raise TypeError(f"not a tollbook event: {type(event).__name__}")
            except Exception as error:
                findings.append(
                    _event_finding(
                        UNREADABLE,
                        notification.id,
                        notification,
                        "event",
                        "an event the ledger can decode",
                        describe_error(error),
                    )
                )
                continue
            for path, reason in out_of_range(event):
                findings.append(
                    _event_finding(
                        OUT_OF_RANGE,
                        notification.id,
                        notification,
                        path,
                        "a value the ledger can use",
                        reason,
                    )
                )
            yield notification.id, event
        if len(page) < page_size:
            return
        after = page[-1].id


@dataclass
class Replay:
    """The events replayed in log order up to a position: the balance fold, and every invoice
    and payment aggregate as it stood there."""

    events: Iterator[tuple[int, Event]]
    position: int = 0
    fold: Balances = field(default_factory=Balances)
    invoices: dict[UUID, Invoice] = field(default_factory=dict)
    payments: dict[UUID, Payment] = field(default_factory=dict)
    _next: tuple[int, Event] | None = None
    _last: Event | None = None
    _peeked_at: int | None = None
    unusable: list[Difference] = field(default_factory=list)
    uncomputable: set[tuple[UUID, str]] = field(default_factory=set)

    def _peek(self) -> tuple[int, Event] | None:
        if self._next is None:
            self._next = next(self.events, None)
            if self._next is not None:
                self._peeked_at = self._next[0]
        return self._next

    def drain(self) -> None:
        """Read the rest of the log without applying it (its findings are still listed)."""
        self._next = None
        for _ in self.events:
            pass

    def to(self, position: int) -> None:
        """Apply every event up to ``position``, and none after it."""
        while (peeked := self._peek()) is not None and peeked[0] <= position:
            self._next = None
            self._apply(peeked[1])
        self.position = position

    def finish_command(self) -> None:
        """Apply the rest of the command the last event belongs to. A read model's position
        can fall inside one atomic save (a batch ends after the payment's Allocated, before
        the invoice's PaymentApplied); comparing the two sides there would be a false alarm.
        A command's events share one stamp (the Ledger takes one per command) and commit in
        one transaction, so the first event with another stamp starts the next transaction."""
        if self._last is None:
            return
        stamp = (self._last.timestamp, self._last.actor, self._last.reason)
        while (peeked := self._peek()) is not None:
            at, event = peeked
            if (event.timestamp, event.actor, event.reason) != stamp:
                break
            self._next = None
            self._apply(event)
            self.position = at

    def _apply(self, event: Event) -> None:
        self._last = event
        try:
            self._mutate(event)
        except Exception as error:  # stored before the limits: listed, never fatal
            self.unusable.append(
                Difference(
                    UNUSABLE,
                    f"{type(event).__qualname__} v{event.originator_version}",
                    "event",
                    "an event the ledger can apply",
                    describe_error(error),
                    self._peeked_at,
                    str(event.originator_id),
                )
            )

    def _mutate(self, event: Event) -> None:
        self.fold.apply(event)
        if isinstance(event, Invoice.Drafted):
            self.invoices[event.originator_id] = event.mutate(None)
        elif isinstance(event, Payment.Received):
            self.payments[event.originator_id] = event.mutate(None)
        else:
            found: Aggregate | None = self.invoices.get(event.originator_id) or self.payments.get(
                event.originator_id
            )
            if found is not None:
                event.mutate(found)


CHECKED: dict[str, Table] = {
    "balances": BALANCES,
    "invoice_register": REGISTER,
    "payment_history": HISTORY,
    "aged_receivables": MOVEMENTS,
}


def reconcile(ledger: Ledger, store: SqlViewStore) -> list[Difference]:
    """Every difference between the events and the read models (empty: all agree); and every
    stored event the ledger cannot use as it is, and every read model stopped at one."""
    tracking, rows = store.snapshot(list(CHECKED), list(CHECKED.values()))
    findings: list[Difference] = []
    checks: dict[str, Callable[[Replay, list[Row]], list[Difference]]] = {
        "balances": _balances,
        "invoice_register": _register,
        "payment_history": _payments,
        "aged_receivables": _aged,
    }
    replay = Replay(stored_events(ledger, findings))
    differences: list[Difference] = []
    for position in sorted({t.position for t in tracking.values()}):
        replay.to(position)
        for name, check in checks.items():
            if tracking[name].position == position:
                differences += check(replay, rows[CHECKED[name].name])
    # the invoices' own state against the fold: two sides of atomic saves, so compared where
    # a save ends
    replay.finish_command()
    differences += _invoices_against_fold(replay)
    replay.drain()  # events after the read models' positions: only their findings
    return findings + replay.unusable + _stopped(store) + differences


def _stopped(store: SqlViewStore) -> list[Difference]:
    tracking = store.tracking(list(CHECKED))
    return [
        Difference(
            STOPPED,
            name,
            "position",
            f"every event (stopped at position {fault.position})",
            f"cannot apply event {fault.event_id} ({fault.event_type}): {fault.error}",
            fault.event_id,
            fault.aggregate_id,
        )
        for name, fault in sorted(store.faults(list(CHECKED)).items())
        if fault.position == tracking[name].position
    ]


def _text(value: Any) -> str:
    return "(none)" if value is None else str(value)


def _compare(
    check: str, subject: str, expected: dict[str, Any], found: dict[str, Any] | None
) -> list[Difference]:
    if found is None:
        return [Difference(check, subject, "row", "present", "(missing)")]
    return [
        Difference(check, subject, name, _text(value), _text(found.get(name)))
        for name, value in expected.items()
        if value != found.get(name)
    ]


def _balances(replay: Replay, stored: list[Row]) -> list[Difference]:
    rows = {(r["customer_id"], r["currency"]): r for r in stored}
    differences = []
    for row in replay.fold.all():
        subject = f"{row.customer_account} {row.currency}"
        expected = {
            "customer_account": row.customer_account,
            "invoiced": row.invoiced,
            "credited": row.credited,
            "received": row.received,
            "allocated": row.allocated,
            "refunded": row.refunded,
            "unallocated": row.unallocated,
            "outstanding": row.outstanding,
            "net_due": row.net_due,
        }
        found = rows.pop((str(row.customer_id), row.currency), None)
        differences += _compare("balances", subject, expected, found)
    for extra in rows.values():
        subject = f"{extra['customer_account']} {extra['currency']}"
        differences.append(Difference("balances", subject, "row", "(none)", "present"))
    return differences


def _register(replay: Replay, stored: list[Row]) -> list[Difference]:
    """Each register row against its invoice as it stood at the register's position."""
    rows = {r["invoice_id"]: r for r in stored}
    differences = []
    for invoice in replay.invoices.values():
        row = rows.pop(str(invoice.id), None)
        subject = invoice.label
        if row is None:
            differences.append(
                Difference("invoice register", subject, "row", "present", "(missing)")
            )
            continue
        try:
            # a draft's row sums its lines' own taxes as they come and go (per line); from
            # issue it holds the Issued event's totals, in the invoice's mode (docs/money.md)
            totals = (
                totals_of(invoice.lines.values(), invoice.currency)
                if invoice.state == "draft"
                else invoice.totals
            )
        except ArithmeticError:  # listed as an event out of range; its amounts cannot be compared
            continue
        expected = {
            "version": invoice.version,
            "number": invoice.number,
            "state": invoice.state,
            "customer_id": str(invoice.customer_id),
            "currency": invoice.currency,
            "invoice_date": invoice.invoice_date,
            "due_date": invoice.due_date,
            "net": totals.net,
            "tax": totals.tax,
            "total": totals.total,
            "credited": invoice.credited,
            "paid": invoice.allocated,
            "outstanding": invoice.outstanding,
        }
        differences += _compare("invoice register", subject, expected, row)
    for extra in rows.values():
        subject = extra["number"] or extra["invoice_id"]
        differences.append(Difference("invoice register", subject, "row", "(none)", "present"))
    return differences


def _payments(replay: Replay, stored: list[Row]) -> list[Difference]:
    """Each payment's history rows, summed, against the payment as it stood at that position."""
    history: dict[str, list[Row]] = {}
    for row in sorted(stored, key=lambda r: r["position"]):
        history.setdefault(row["payment_id"], []).append(row)
    differences = []
    for payment in replay.payments.values():
        rows = history.pop(str(payment.id), [])
        subject = f"payment {str(payment.id)[:8]}"
        if not rows:
            differences.append(Difference("payment history", subject, "rows", "present", "(none)"))
            continue
        sums = {kind: Decimal(0) for kind in ("allocated", "unallocated", "refunded")}
        for row in rows:
            if row["kind"] in sums:
                sums[row["kind"]] += row["amount"]
        expected = {
            "events": payment.version,  # one history row per payment event
            "amount": payment.amount,
            "allocated": payment.allocated,
            "refunded": payment.refunded,
            "status": payment.status,
        }
        found = {
            "events": len(rows),
            "amount": rows[0]["amount"],
            "allocated": sums["allocated"] - sums["unallocated"],
            "refunded": sums["refunded"],
            "status": rows[-1]["status"],
        }
        differences += _compare("payment history", subject, expected, found)
    for payment_id in history:
        differences.append(
            Difference("payment history", f"payment {payment_id[:8]}", "rows", "(none)", "present")
        )
    return differences


def _aged(replay: Replay, stored: list[Row]) -> list[Difference]:
    """Everything aged (as of the end of time) is what the invoices, as they stood at the aged
    read model's position, say is outstanding (both follow the invoices' own events, so they
    agree at any position, even inside a save that also touches a payment)."""
    aged = {(r.customer_id, r.currency): r.total for r in age(stored, FAR_FUTURE)}
    owed = _owed(replay)
    differences = []
    for (customer_id, currency), (account, amount) in sorted(owed.items(), key=_by_account):
        found = aged.pop((str(customer_id), currency), Decimal(0))
        if found != amount:
            subject = f"{account} {currency}"
            differences.append(
                Difference("aged receivables", subject, "total", str(amount), str(found))
            )
    skipped = {(str(customer), currency) for customer, currency in replay.uncomputable}
    for (customer, currency), total in aged.items():
        if total != 0 and (customer, currency) not in skipped:
            differences.append(
                Difference("aged receivables", f"{customer} {currency}", "total", "0", str(total))
            )
    return differences


def _owed(replay: Replay) -> dict[tuple[UUID, str], tuple[str, Decimal]]:
    """Outstanding on the invoices themselves, per customer and currency (leaving out the
    customers with an invoice whose amounts cannot be computed: listed as out of range)."""
    owed: dict[tuple[UUID, str], tuple[str, Decimal]] = {}
    uncomputable: set[tuple[UUID, str]] = set()
    for invoice in replay.invoices.values():
        key = (invoice.customer_id, invoice.currency)
        account, amount = owed.get(key, (invoice.customer_account, Decimal(0)))
        try:
            owed[key] = (account, amount + invoice.outstanding)
        except ArithmeticError:
            uncomputable.add(key)
    for key in uncomputable:
        owed.pop(key, None)
    replay.uncomputable = uncomputable
    return owed


def _by_account(item: tuple[tuple[UUID, str], tuple[str, Decimal]]) -> tuple[str, str]:
    return (item[1][0], item[0][1])


def _invoices_against_fold(replay: Replay) -> list[Difference]:
    """The invoices' own outstanding amounts, summed per customer, against the balance fold,
    both as they stood at the same position (the end of a save)."""
    owed = _owed(replay)
    differences = []
    for row in replay.fold.all():
        if (row.customer_id, row.currency) in replay.uncomputable:
            continue  # an invoice of theirs cannot be computed (listed as out of range)
        _, found = owed.get((row.customer_id, row.currency), ("", Decimal(0)))
        if found != row.outstanding:
            differences.append(
                Difference(
                    "invoices vs events",
                    f"{row.customer_account} {row.currency}",
                    "outstanding",
                    str(row.outstanding),
                    str(found),
                )
            )
    return differences
