"""The shared exporter loop: one accounting connection follows the ledger's event log.

For each event after the connection's position it derives an export item, sends it through the
system's client and records the outcome together with the new position, in one transaction.
- Exactly once: the idempotency key is derived from the ledger event, so a re-send after a
  timeout or a crash (sent, not yet recorded) finds the first remote document, never a second.
- A transient failure that outlasts the retry policy stops the run with the position unmoved:
  nothing is lost and order is kept; the next run resumes there.
- A permanent refusal becomes a dead letter and the run goes on; later items of the same
  customer are parked behind it (their order matters), other customers are unaffected.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from uuid import NAMESPACE_URL, UUID, uuid5

import structlog

from adapters.accounting import documents as docs
from adapters.accounting.client import AccountingClient, ExportKey, Sent
from adapters.accounting.config import Connection
from adapters.accounting.errors import RemoteRejected, RemoteUnavailable
from adapters.accounting.events import contact_of, item_for
from adapters.accounting.store import (
    DeadLetter,
    ExportStore,
    ReconciliationLine,
    Settlement,
    Success,
)
from adapters.ledger.application import Ledger
from domain.aggregate import Event
from domain.errors import InvalidState, NotFound
from domain.export_resolution import Action

log = structlog.get_logger("tollbook.export")


@dataclass(frozen=True)
class Planned:
    """One line of a run's report: what happened (or, in a dry run, would happen) to an item."""

    position: int
    kind: str
    label: str
    outcome: str  # exported | dead | parked | would export | already exported | noted
    detail: str = ""


@dataclass
class RunReport:
    connection: str
    started_after: int
    position: int
    items: list[Planned] = field(default_factory=list)
    stopped: str | None = None  # why the run stopped early (remote unavailable), if it did

    def count(self, outcome: str) -> int:
        return sum(1 for item in self.items if item.outcome == outcome)


def export_key(connection: str, event_key: str, generation: int = 0) -> str:
    """A stable key (36 chars, within Xero's 128) for one event's export to one connection."""
    return str(uuid5(NAMESPACE_URL, f"tollbook:export:{connection}:{event_key}:{generation}"))


class Exporter:
    def __init__(
        self,
        ledger: Ledger,
        store: ExportStore,
        connection: Connection,
        client: AccountingClient,
        *,
        after_send: Callable[[docs.ExportItem], None] | None = None,
        on_event: Callable[[int], None] | None = None,
    ) -> None:
        self.ledger = ledger
        self.store = store
        self.connection = connection
        self.client = client
        # Test seam for "the process died after the remote answered, before we recorded it".
        self.after_send = after_send
        self.on_event = on_event
        self.log = log.bind(connection=connection.name, system=connection.system)
        # Read once per run, kept in step with every record: one round trip per export.
        self._done: set[str] = set()
        self._remote: dict[tuple[str, str], str] = {}

    def _load(self) -> None:
        self.store.ensure_tables()
        self._done = self.store.done_keys(self.name)
        self._remote = self.store.remote_ids(self.name)

    def _record(self, success: Success) -> None:
        self.store.record(success)
        self._done.add(success.event_key)
        if success.kind in ("contact", "invoice", "credit_note"):
            self._remote[(success.kind, success.local_id)] = success.remote_id

    @property
    def name(self) -> str:
        return self.connection.name

    # -------------------------------------------------------------------- run

    def run(self, since: int | None = None, *, dry_run: bool = False) -> RunReport:
        self._load()
        start = self.store.position(self.name) if since is None else since
        report = RunReport(self.name, start, start)
        blocked = self.store.blocked_customers(self.name)
        skipped_to: int | None = None
        for position, event in self.ledger.all_events(after=start):
            if self.on_event is not None:
                self.on_event(position)
            item = item_for(self.ledger, position, event)
            if item is None or item.event_key in self._done:
                if item is not None:
                    report.items.append(
                        Planned(position, item.kind, item.label, "already exported")
                    )
                skipped_to = position
                continue
            if dry_run:
                report.items.append(
                    Planned(position, item.kind, item.label, "would export", self._preview(item))
                )
                continue
            if skipped_to is not None:
                self.store.advance(self.name, self.connection.system, skipped_to)
                report.position, skipped_to = skipped_to, None
            customer = str(item.customer_id)
            if customer in blocked:
                self._park(item, position)
                report.items.append(Planned(position, item.kind, item.label, "parked"))
                report.position = position
                continue
            key = ExportKey(
                export_key(self.name, item.event_key), export_key(self.name, item.event_key)
            )
            try:
                success = self._send(item, key, position)
            except RemoteRejected as error:
                self._kill(item, position, str(error))
                blocked.add(customer)
                report.items.append(Planned(position, item.kind, item.label, "dead", str(error)))
                report.position = position
                continue
            except RemoteUnavailable as error:
                report.stopped = f"{self.connection.system} unavailable: {error}"
                self.log.warning("export stopped", position=report.position, error=str(error))
                return report
            if self.after_send is not None:
                self.after_send(item)
            self._record(success)
            report.items.append(_planned(position, item, success))
            report.position = position
        if skipped_to is not None and not dry_run:
            self.store.advance(self.name, self.connection.system, skipped_to)
            report.position = max(report.position, skipped_to)
        self.log.info(
            "export run finished",
            started_after=start,
            position=report.position,
            dry_run=dry_run,
            exported=report.count("exported"),
            dead=report.count("dead"),
            parked=report.count("parked"),
        )
        return report

    def _preview(self, item: docs.ExportItem) -> str:
        """In a dry run: the rounding difference the remote will show, computed offline."""
        document = item.document
        if not isinstance(document, (docs.SalesInvoice, docs.CreditNote)):
            return ""
        try:
            expected = self.client.expected_total(document.lines, document.currency)
        except RemoteRejected as error:
            return f"will be refused: {error}"
        if expected == document.total:
            return ""
        return f"{self.connection.system} will compute {expected} (ledger {document.total})"

    # ------------------------------------------------------------ dead letters

    def retry(self, letter_id: int) -> RunReport:
        """Re-send a dead letter, then the items of its customer parked behind it, in order."""
        letter, behind = self._settleable(letter_id)
        report = RunReport(self.name, letter.position, self.store.position(self.name))
        self._resume([letter, *behind], report)
        return report

    def settle(
        self, letter_id: int, action: Action, reason: str, actor: str, remote_id: str = ""
    ) -> RunReport:
        """A person's decision on a dead letter the remote keeps refusing: ``resolved`` (put
        right by hand remotely; ``remote_id`` lets later payments find it) or ``skipped`` (never
        exported). Recorded as a ledger event and in the export's own table; then what was
        parked behind it is sent, in order."""
        letter, behind = self._settleable(letter_id)
        if letter.status == "parked":
            raise InvalidState(
                f"#{letter_id} is parked, not refused: it is sent once the dead letter ahead"
                " of it is retried, resolved or skipped"
            )
        resolution = self.ledger.record_export_resolution(
            actor,
            reason,
            connection=self.name,
            system=self.connection.system,
            event_key=letter.event_key,
            attempt=letter.attempts,
            kind=letter.kind,
            label=letter.label,
            customer_id=UUID(letter.customer_id),
            action=action,
            remote_id=remote_id,
        )
        self.store.settle(
            letter,
            Settlement(
                self.name,
                letter.event_key,
                letter.id,
                letter.kind,
                letter.label,
                action,
                reason.strip(),
                actor,
                remote_id,
                str(resolution),
            ),
        )
        if remote_id and letter.kind in ("contact", "invoice", "credit_note"):
            aggregate_id = letter.event_key.rsplit(":", 1)[0]
            self._remote[(letter.kind, aggregate_id)] = remote_id
        self._done.add(letter.event_key)
        self.log.info(
            "dead letter settled", letter=letter.id, action=action, event_key=letter.event_key
        )
        report = RunReport(self.name, letter.position, self.store.position(self.name))
        report.items.append(Planned(letter.position, letter.kind, letter.label, action, reason))
        self._resume(behind, report)
        return report

    def _settleable(self, letter_id: int) -> tuple[DeadLetter, list[DeadLetter]]:
        """The open dead letter ``letter_id`` and what of its customer waits behind it."""
        self._load()
        letter = self.store.dead_letter_by_id(letter_id)
        if letter is None or letter.connection != self.name:
            raise NotFound(f"no dead letter #{letter_id} on connection {self.name}")
        if letter.status == "resolved":
            raise InvalidState(f"dead letter #{letter_id} was already resolved")
        if letter.status == "skipped":
            raise InvalidState(f"dead letter #{letter_id} was skipped")
        waiting = [
            other
            for other in self.store.dead_letters(self.name)
            if other.customer_id == letter.customer_id
        ]
        ahead = [other for other in waiting if other.position < letter.position]
        if ahead:
            raise InvalidState(
                f"#{letter_id} is held behind #{ahead[0].id} of the same customer:"
                " retry, resolve or skip that first"
            )
        return letter, [o for o in waiting if o.position > letter.position]

    def _resume(self, letters: list[DeadLetter], report: RunReport) -> None:
        """Send ``letters`` in order; the first that fails again stays at the head."""
        for current in letters:
            planned = self._resend(current)
            report.items.append(planned)
            if planned.outcome not in ("exported", "noted"):
                if planned.outcome == "unavailable":
                    report.stopped = planned.detail
                break

    def _resend(self, letter: DeadLetter) -> Planned:
        item = self._item_of(letter)
        key = ExportKey(
            export_key(self.name, letter.event_key, letter.attempts),
            export_key(self.name, letter.event_key),
            retrying=True,
        )
        try:
            success = self._send(item, key, None)
        except RemoteRejected as error:
            self.store.dead_letter(
                self.name,
                self.connection.system,
                position=None,
                event_key=letter.event_key,
                kind=letter.kind,
                customer_id=letter.customer_id,
                label=letter.label,
                status="dead",
                error=str(error),
            )
            return Planned(letter.position, letter.kind, letter.label, "dead", str(error))
        except RemoteUnavailable as error:
            return Planned(letter.position, letter.kind, letter.label, "unavailable", str(error))
        self._record(success)
        return _planned(letter.position, item, success)

    def _item_of(self, letter: DeadLetter) -> docs.ExportItem:
        aggregate_id, version = letter.event_key.rsplit(":", 1)
        events = self.ledger.events_of(UUID(aggregate_id))
        event: Event = events[int(version) - 1]
        item = item_for(self.ledger, letter.position, event)
        if item is None:  # pragma: no cover - only exportable events are ever dead-lettered
            raise NotFound(f"event {letter.event_key} no longer needs an export")
        return item

    def _park(self, item: docs.ExportItem, position: int) -> None:
        first = next(
            (
                d
                for d in self.store.dead_letters(self.name)
                if d.customer_id == str(item.customer_id)
            ),
            None,
        )
        behind = f"#{first.id} ({first.label})" if first else "an earlier item"
        self.store.dead_letter(
            self.name,
            self.connection.system,
            position=position,
            event_key=item.event_key,
            kind=item.kind,
            customer_id=str(item.customer_id),
            label=item.label,
            status="parked",
            error=f"held back behind dead letter {behind} of the same customer",
        )
        self.log.info("export parked", event_key=item.event_key, kind=item.kind)

    def _kill(self, item: docs.ExportItem, position: int, error: str) -> None:
        self.store.dead_letter(
            self.name,
            self.connection.system,
            position=position,
            event_key=item.event_key,
            kind=item.kind,
            customer_id=str(item.customer_id),
            label=item.label,
            status="dead",
            error=error,
        )
        self.log.warning(
            "export rejected",
            event_key=item.event_key,
            kind=item.kind,
            label=item.label,
            error=error,
        )

    # ------------------------------------------------------------------- send

    def _send(self, item: docs.ExportItem, key: ExportKey, position: int | None) -> Success:
        document = item.document
        bound = self.log.bind(
            event_key=item.event_key, aggregate_id=str(item.local_id), kind=item.kind
        )
        reconciliation: ReconciliationLine | None = None
        if isinstance(document, docs.Contact):
            known = self._remote.get(("contact", str(document.customer_id)))
            sent = self.client.contact(document, known, key)
        elif isinstance(document, docs.SalesInvoice):
            contact_id = self._contact_id(document.customer_id)
            sent = self.client.invoice(document, contact_id, key)
            reconciliation = self._compare(
                item, document.currency, document.total, document.lines, sent
            )
        elif isinstance(document, docs.CreditNote):
            contact_id = self._contact_id(document.customer_id)
            invoice_id = self._invoice_id(document.invoice_id, document.invoice_number)
            sent = self.client.credit_note(document, contact_id, invoice_id, key)
            reconciliation = self._compare(
                item, document.currency, document.total, document.lines, sent
            )
        elif isinstance(document, docs.PaymentAllocation):
            contact_id = self._contact_id(document.customer_id)
            invoice_id = self._invoice_id(document.invoice_id, document.invoice_number)
            sent = self.client.payment(document, contact_id, invoice_id, key)
        elif isinstance(document, docs.Void):
            invoice_id = self._invoice_id(document.invoice_id, document.invoice_number)
            sent = self.client.void(document, invoice_id, key)
        elif isinstance(document, docs.DueDateChange):
            invoice_id = self._invoice_id(document.invoice_id, document.invoice_number)
            sent = self.client.due_date(document, invoice_id, key)
        elif isinstance(document, docs.Unallocation):
            contact_id = self._contact_id(document.customer_id)
            invoice_id = self._invoice_id(document.invoice_id, document.invoice_number)
            sent = self.client.unallocate(document, contact_id, invoice_id, key)
        else:
            sent = self.client.refund(document, self._contact_id(document.customer_id), key)
        if sent.nothing_sent:
            reconciliation = ReconciliationLine(
                self.name, item.event_key, item.kind, item.label, "", "", "", "", sent.nothing_sent
            )
        bound.info("exported", label=item.label, remote_id=sent.remote_id)
        return Success(
            connection=self.name,
            system=self.connection.system,
            position=position,
            event_key=item.event_key,
            kind=item.kind,
            local_id=str(item.local_id),
            remote_id=sent.remote_id,
            label=item.label,
            reconciliation=reconciliation,
        )

    def _compare(
        self,
        item: docs.ExportItem,
        currency: str,
        ledger_total: Decimal,
        lines: tuple[docs.Line, ...],
        sent: Sent,
    ) -> ReconciliationLine | None:
        """A reconciliation line when the remote's total is not the ledger's total."""
        expected = self.client.expected_total(lines, currency)
        remote = sent.remote_total if sent.remote_total is not None else expected
        if remote == ledger_total:
            return None
        note = f"{self.connection.system} computes {remote}, the ledger {ledger_total}"
        if remote != expected:
            note += f" (expected {expected} from the rounding rule)"
        self.log.warning(
            "total differs", label=item.label, ledger=str(ledger_total), remote=str(remote)
        )
        return ReconciliationLine(
            self.name,
            item.event_key,
            item.kind,
            item.label,
            currency,
            format(ledger_total, "f"),
            format(remote, "f"),
            format(remote - ledger_total, "f"),
            note,
        )

    def _contact_id(self, customer_id: UUID) -> str:
        """The remote contact; a customer registered before this connection's start is sent now."""
        known = self._remote.get(("contact", str(customer_id)))
        if known is not None:
            return known
        customer = self.ledger.customer(customer_id)
        contact = contact_of(customer.id, customer.latest)
        anchor = export_key(self.name, f"{customer_id}:contact")
        key = ExportKey(anchor, anchor)
        sent = self.client.contact(contact, None, key)
        self._record(
            Success(
                connection=self.name,
                system=self.connection.system,
                position=None,
                event_key=f"{customer_id}:contact",
                kind="contact",
                local_id=str(customer_id),
                remote_id=sent.remote_id,
                label=contact.account_number,
            )
        )
        return sent.remote_id

    def _invoice_id(self, invoice_id: UUID, number: str) -> str:
        known = self._remote.get(("invoice", str(invoice_id)))
        if known is None:
            raise RemoteRejected(
                f"invoice {number} was never exported to {self.name}"
                " (issued before this connection's start?): export it first"
            )
        return known


def _planned(position: int, item: docs.ExportItem, success: Success) -> Planned:
    """``noted``, with its words, when nothing was sent: a correction the system needs nothing
    for (``Sent.nothing_sent``)."""
    line = success.reconciliation
    if line is not None and not line.difference:
        return Planned(position, item.kind, item.label, "noted", line.note if line else "")
    return Planned(position, item.kind, item.label, "exported")
