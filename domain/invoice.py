"""Invoices: drafts that are edited freely, then issued with a gapless number and frozen.

After issue nothing changes the lines: corrections are credit notes, money arrives by payment
allocations, and a void (only with nothing allocated or credited) cancels the document.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from domain import dunning, invoice_status, limits
from domain.address import PostalAddress
from domain.aggregate import Aggregate, Created, Event, Stamp
from domain.changes import DatesChanges, LineChanges
from domain.delivery import Delivery, DocumentSendFailed, DocumentSent, Sendable, SendFailure
from domain.discount import MAX_DISCOUNTS, check_discount, discount_lines, rules_of
from domain.errors import (
    EmptyInvoice,
    HasAllocations,
    InvalidDate,
    InvalidInput,
    InvalidState,
    InvoiceNotEditable,
    NotFound,
    OutOfRange,
)
from domain.invoice_line import Discount, InvoiceLine, Totals, totals_of
from domain.invoice_status import Status
from domain.line_tax import description_for
from domain.money import TaxRounding
from domain.seller_details import SellerDetails
from domain.tax_treatment import TaxTreatment, Treatment, check_rate
from domain.values import CurrencyCode, Dec, Frozen

State = Literal["draft", "issued", "void"]


class BillingSnapshot(Frozen):
    """The customer's and seller's details exactly as they stood when the invoice was issued."""

    customer_name: str
    customer_account: str
    billing_address: str
    customer_tax_number: str
    seller_name: str
    seller_address: str
    seller_tax_number: str
    payment_instructions: str = ""
    # the structured address; invoices issued before it existed load with none
    address: PostalAddress | None = None
    # registration number, contact and bank details; invoices issued before: none
    seller_details: SellerDetails | None = None
    # the seller's country (ISO 3166-1 alpha-2, settings ``country``); empty on invoices
    # issued before it was recorded, or while it was not set
    seller_country: str = ""
    # the customer's tax treatment (its legal wording is printed); standard before it existed
    tax_treatment: Treatment = TaxTreatment.STANDARD

    @property
    def postal_address(self) -> PostalAddress:
        """What the document prints: the structured address, else the free text's lines."""
        if self.address is not None:
            return self.address
        return PostalAddress.from_free_text(self.billing_address)


class Invoice(Sendable, Aggregate):
    """A customer invoice; the aggregate that guards what is owed on it."""

    customer_id: UUID
    customer_account: str
    currency: str
    invoice_date: date
    due_date: date
    period_start: date | None
    period_end: date | None
    memo: str
    lines: dict[UUID, InvoiceLine]
    state: State
    number: str | None
    issued_on: date | None
    billing: BillingSnapshot | None
    credited: Decimal
    credit_notes: dict[UUID, Decimal]
    allocations: dict[UUID, Decimal]
    void_reason: str | None
    tax_rounding: TaxRounding

    class Drafted(Created):
        """A draft invoice was opened for a customer, in the customer's currency.

        ``lines`` are the lines it was opened with (a billing run's invoice comes into being
        with all of them in this one event); a draft opened by hand has none and gets its lines
        from ``LineAdded``. Drafts stored before the field existed load with no lines.
        ``tax_rounding`` is the seller's tax rounding mode when the draft was opened (drafts
        stored before it existed: ``per_line``); issuing records the mode again."""

        customer_id: UUID
        customer_account: str
        currency: CurrencyCode
        invoice_date: date
        due_date: date
        period_start: date | None = None
        period_end: date | None = None
        memo: str = ""
        lines: tuple[InvoiceLine, ...] = ()
        tax_rounding: TaxRounding = "per_line"

        def apply(self, aggregate: Any) -> None:
            for name in (
                "customer_id",
                "customer_account",
                "currency",
                "invoice_date",
                "due_date",
                "period_start",
                "period_end",
                "memo",
                "tax_rounding",
            ):
                setattr(aggregate, name, getattr(self, name))
            aggregate.lines = {line.line_id: line for line in self.lines}
            aggregate.state = "draft"
            aggregate.number = None
            aggregate.issued_on = None
            aggregate.billing = None
            aggregate.credited = Decimal(0)
            aggregate.credit_notes = {}
            aggregate.allocations = {}
            aggregate.void_reason = None

    class LineAdded(Event):
        """A line was added to the draft."""

        line: InvoiceLine

        def apply(self, aggregate: Any) -> None:
            aggregate.lines[self.line.line_id] = self.line

    class LineEdited(Event):
        """A draft line changed from ``before`` to ``after``."""

        before: InvoiceLine
        after: InvoiceLine

        def apply(self, aggregate: Any) -> None:
            aggregate.lines[self.after.line_id] = self.after

    class LineRemoved(Event):
        """A draft line was removed (the removed line is kept in the event)."""

        line: InvoiceLine

        def apply(self, aggregate: Any) -> None:
            del aggregate.lines[self.line.line_id]

    class DatesChanged(Event):
        """The draft's invoice date, due date or billing period changed."""

        before: dict[str, date | None]
        after: dict[str, date | None]

        def apply(self, aggregate: Any) -> None:
            for name, value in self.after.items():
                setattr(aggregate, name, value)

    class DueDateChanged(Event):
        """An issued invoice was given a new due date (``before`` -> ``after``), for the
        ``reason`` the event carries: the lines and totals stay as issued."""

        before: date
        after: date

        def apply(self, aggregate: Any) -> None:
            aggregate.due_date = self.after

    class Issued(Event):
        """The invoice was issued: numbered from the gapless sequence, lines and totals frozen.
        ``tax_rounding`` is the seller's mode at issue, the one its totals were worked out in
        for good (invoices issued before it existed: ``per_line``)."""

        number: str
        issued_on: date
        billing: BillingSnapshot
        currency: CurrencyCode
        net: Dec
        tax: Dec
        total: Dec
        tax_rounding: TaxRounding = "per_line"

        def apply(self, aggregate: Any) -> None:
            aggregate.tax_rounding = self.tax_rounding
            aggregate.state = "issued"
            aggregate.number = self.number
            aggregate.issued_on = self.issued_on
            aggregate.billing = self.billing

    class Credited(Event):
        """A credit note reduced what is owed on this invoice."""

        credit_note_id: UUID
        credit_note_number: str
        currency: CurrencyCode
        amount: Dec

        def apply(self, aggregate: Any) -> None:
            aggregate.credit_notes[self.credit_note_id] = self.amount
            aggregate.credited += self.amount

    class PaymentApplied(Event):
        """Part of a payment was allocated to this invoice."""

        payment_id: UUID
        currency: CurrencyCode
        amount: Dec

        def apply(self, aggregate: Any) -> None:
            current = aggregate.allocations.get(self.payment_id, Decimal(0))
            aggregate.allocations[self.payment_id] = current + self.amount

    class PaymentUnapplied(Event):
        """An allocation from a payment was taken back (the money returns to the payment)."""

        payment_id: UUID
        currency: CurrencyCode
        amount: Dec

        def apply(self, aggregate: Any) -> None:
            remaining = aggregate.allocations[self.payment_id] - self.amount
            if remaining:
                aggregate.allocations[self.payment_id] = remaining
            else:
                del aggregate.allocations[self.payment_id]

    class Voided(Event):
        """The issued invoice was voided; its number stays used, it no longer counts as owed."""

        currency: CurrencyCode
        total: Dec

        def apply(self, aggregate: Any) -> None:
            aggregate.state = "void"
            aggregate.void_reason = self.reason

    class Sent(DocumentSent):
        """The issued invoice was e-mailed and the SMTP server accepted the message.

        ``send_id`` names the send request (uuid5 of the invoice and the request's key), so a
        retry of one request is recognised; ``message_id`` is the Message-ID header (derived
        from ``send_id``); ``attachment_sha256`` is the digest of the PDF attached;
        ``refused`` the recipients the server refused while accepting the others."""

    class SendFailed(DocumentSendFailed):
        """An attempt to e-mail the invoice failed (server down, recipient refused); the
        request is retried from ``retry_at`` by ``tollbook invoice retry-sends``
        (docs/email.md)."""

    class ReminderSent(DocumentSent):
        """A payment reminder for the invoice was e-mailed (dunning, docs/dunning.md) and the
        SMTP server accepted it. ``offset`` is the stage of the customer's reminder schedule
        (days from ``due_date``: -7 a week before, 14 two weeks overdue); ``outstanding`` what
        the reminder asked for. ``send_id`` is uuid5 of the invoice and ``reminder:OFFSET``, so
        a stage is one request however often the dunning run is repeated; the other fields are
        those of ``Invoice.Sent``. Recorded even when the invoice was paid meanwhile: the
        message went out."""

        offset: int
        due_date: date
        outstanding: Dec
        currency: CurrencyCode

        def apply(self, aggregate: Any) -> None:
            aggregate.reminders = {**getattr(aggregate, "reminders", {}), self.offset: "sent"}

    class ReminderFailed(Event):
        """An attempt to e-mail the reminder of stage ``offset`` failed (server down, every
        recipient refused): ``attempt`` (1, 2, ...), ``error`` the server's answer. The next
        dunning run tries the stage again with the same ``send_id`` and ``message_id``, up to
        5 attempts, unless a later stage has come by then."""

        offset: int
        send_id: UUID
        recipients: tuple[str, ...]
        message_id: str
        attempt: int
        error: str

        def apply(self, aggregate: Any) -> None:
            aggregate.reminders = {**getattr(aggregate, "reminders", {}), self.offset: "failed"}
            aggregate.reminder_attempts = {
                **getattr(aggregate, "reminder_attempts", {}),
                self.offset: self.attempt,
            }

    # ----------------------------------------------------------------- commands

    @classmethod
    def draft(
        cls,
        invoice_id: UUID,
        *,
        customer_id: UUID,
        customer_account: str,
        currency: str,
        invoice_date: date,
        due_date: date,
        period_start: date | None,
        period_end: date | None,
        memo: str,
        stamp: Stamp,
        lines: Sequence[InvoiceLine] = (),
        tax_rounding: TaxRounding = "per_line",
        treatment: TaxTreatment = TaxTreatment.STANDARD,
    ) -> Invoice:
        """A new draft; ``lines`` (checked as ``add_line`` checks them, against the
        customer's tax ``treatment``) are part of the one ``Drafted`` event, so the invoice
        never exists without them."""
        _check_dates(invoice_date, due_date, period_start, period_end)
        limits.check_text(memo, limits.MEMO, field="memo")
        limits.check_count(len(lines), limits.MAX_LINES, what="lines on one invoice")
        passed: set[object] = set()  # what lines share (tax text, unit, rate, dates): once
        for line in lines:
            check_line(line, currency, treatment, passed)
            _not_a_discount(line)
        if len({line.line_id for line in lines}) != len(lines):
            raise InvalidInput("each line of an invoice needs its own line id")
        check_totals(totals_of(lines, currency, tax_rounding), "invoice")
        return cls._start(
            cls.Drafted,
            invoice_id,
            stamp,
            customer_id=customer_id,
            customer_account=customer_account,
            currency=currency,
            invoice_date=invoice_date,
            due_date=due_date,
            period_start=period_start,
            period_end=period_end,
            memo=memo,
            lines=tuple(lines),
            tax_rounding=tax_rounding,
        )

    def _editable(self) -> None:
        if self.state == "issued":
            raise InvoiceNotEditable(
                f"invoice {self.label} is issued: its lines and dates cannot change, only its"
                " due date (with a reason); correct an issued invoice with a credit note"
            )
        if self.state != "draft":
            raise InvoiceNotEditable(f"invoice {self.label} is {self.state}: nothing on it changes")

    def add_line(
        self,
        line: InvoiceLine,
        stamp: Stamp,
        treatment: TaxTreatment = TaxTreatment.STANDARD,
    ) -> None:
        """Add ``line``; its rate must be one the customer's tax ``treatment`` allows."""
        self._editable()
        check_line(line, self.currency, treatment)
        _not_a_discount(line)
        if line.line_id in self.lines:
            raise InvalidInput(f"line {line.line_id} already exists")
        discounts = self._discounts_over([*self.charges, line], self.discount_rules)
        self._trigger(self.LineAdded, stamp, line=line)
        self._follow(discounts, stamp)

    def edit_line(
        self,
        line_id: UUID,
        changes: LineChanges,
        stamp: Stamp,
        treatment: TaxTreatment = TaxTreatment.STANDARD,
    ) -> None:
        """Change a draft line. A new rate without a new tax description (none, an empty
        one, or the line's current one, as a form sends back) takes the default description
        of that rate (domain/line_tax.py): "VAT 20%" at 0 % reads "VAT 0%"."""
        self._editable()
        before = self.line(line_id)
        if before.kind == "discount":
            raise InvalidInput(
                "a discount line follows its rule: remove the discount and add it again",
                field="line",
            )
        given = changes.given()
        text = (given.get("tax_description") or "").strip()
        if given.get("tax_rate") is not None and text in ("", before.tax_description):
            given["tax_description"] = description_for(
                given["tax_rate"],
                base_rate=before.tax_rate,
                base_description=before.tax_description,
                treatment=treatment,
            )
        after = InvoiceLine.model_validate({**before.model_dump(), **given})
        check_line(after, self.currency, treatment)
        _not_a_discount(after)
        if after != before:
            charges = [after if line.line_id == line_id else line for line in self.charges]
            discounts = self._discounts_over(charges, self.discount_rules)
            self._trigger(self.LineEdited, stamp, before=before, after=after)
            self._follow(discounts, stamp)

    def remove_line(self, line_id: UUID, stamp: Stamp) -> None:
        """Remove a line; removing a discount line removes its whole discount, and removing
        a charge removes the discounts of that line."""
        self._editable()
        removed = self.line(line_id)
        if removed.discount is not None:
            gone = removed.discount.discount_id
            rules = [rule for rule in self.discount_rules if rule.discount_id != gone]
            self._follow(self._discounts_over(self.charges, rules), stamp)
            return
        charges = [line for line in self.charges if line.line_id != line_id]
        rules = [rule for rule in self.discount_rules if rule.applies_to != line_id]
        discounts = self._discounts_over(charges, rules)
        self._trigger(self.LineRemoved, stamp, line=removed)
        self._follow(discounts, stamp)

    def add_discount(self, rule: Discount, stamp: Stamp) -> None:
        """Grant a discount (a percentage or an amount, of a line or of the invoice's net):
        its lines are added, worked out from the rule (domain/discount.py)."""
        self._editable()
        check_discount(rule, self.currency)
        rules = self.discount_rules
        if any(old.discount_id == rule.discount_id for old in rules):
            raise InvalidInput(f"discount {rule.discount_id} already exists")
        limits.check_count(len(rules) + 1, MAX_DISCOUNTS, what="discounts on one invoice")
        if rule.applies_to is not None and rule.applies_to not in {
            line.line_id for line in self.charges
        }:
            raise NotFound(f"invoice {self.label} has no charge line {rule.applies_to}")
        self._follow(self._discounts_over(self.charges, [*rules, rule]), stamp)

    def _discounts_over(
        self, charges: Sequence[InvoiceLine], rules: Sequence[Discount]
    ) -> list[InvoiceLine]:
        """The discount lines ``rules`` give over ``charges``, the invoice they make checked:
        within the limits, and its total never below zero."""
        discounts = discount_lines(charges, rules, self.currency)
        limits.check_count(
            len(charges) + len(discounts), limits.MAX_LINES, what="lines on one invoice"
        )
        totals = self._totals_with([*charges, *discounts])
        check_totals(totals, "invoice")
        if totals.total < 0:
            raise OutOfRange(
                f"the invoice's total would be {totals.total} {self.currency}: an invoice's"
                " total is never below zero",
                field="amount",
            )
        return discounts

    def _follow(self, wanted: Sequence[InvoiceLine], stamp: Stamp) -> None:
        """Bring the discount lines to ``wanted``: each change an ordinary line event."""
        current = {key: line for key, line in self.lines.items() if line.kind == "discount"}
        keep = {line.line_id for line in wanted}
        for key, line in current.items():
            if key not in keep:
                self._trigger(self.LineRemoved, stamp, line=line)
        for line in wanted:
            old = current.get(line.line_id)
            if old is None:
                self._trigger(self.LineAdded, stamp, line=line)
            elif old != line:
                self._trigger(self.LineEdited, stamp, before=old, after=line)

    def change_dates(self, dates: DatesChanges, stamp: Stamp) -> None:
        self._editable()
        changes: dict[str, date | None] = dates.given()
        current = {name: getattr(self, name) for name in changes}
        merged = {
            name: changes.get(name, getattr(self, name))
            for name in ("invoice_date", "due_date", "period_start", "period_end")
        }
        invoice_date, due_date = merged["invoice_date"], merged["due_date"]
        assert invoice_date is not None and due_date is not None
        _check_dates(invoice_date, due_date, merged["period_start"], merged["period_end"])
        changed = {name: value for name, value in changes.items() if current[name] != value}
        if changed:
            self._trigger(
                self.DatesChanged,
                stamp,
                before={name: current[name] for name in changed},
                after=changed,
            )

    def change_due_date(self, due_date: date, stamp: Stamp) -> None:
        """Give an issued invoice still owing money a new due date; the reason is mandatory.

        A draft changes its dates freely (``change_dates``); a void or settled invoice asks
        for nothing, so it has no due date to move."""
        if self.state == "draft":
            raise InvalidState(
                f"invoice {self.label} is a draft: change its dates as a draft's", field="due_date"
            )
        if self.state == "void":
            raise InvalidState(
                f"invoice {self.label} is void: it has no due date to change", field="due_date"
            )
        if self.outstanding <= 0:
            raise InvalidState(
                f"invoice {self.label} is {self.status()}: nothing is owed, so no due date"
                " to change",
                field="due_date",
            )
        reason = (stamp.reason or "").strip()
        if not reason:
            raise InvalidInput("a new due date needs a reason", field="reason")
        limits.check_text(stamp.reason or "", limits.REASON, field="reason")
        limits.check_date(due_date, what="due date", field="due_date")
        if due_date < self.invoice_date:
            raise InvalidInput(
                f"due date {due_date} is before invoice date {self.invoice_date}",
                field="due_date",
            )
        if due_date == self.due_date:
            raise InvalidInput(
                f"invoice {self.label} is already due on {due_date}", field="due_date"
            )
        self._trigger(self.DueDateChanged, stamp, before=self.due_date, after=due_date)

    def issue(
        self,
        number: str,
        issued_on: date,
        billing: BillingSnapshot,
        stamp: Stamp,
        tax_rounding: TaxRounding | None = None,
    ) -> None:
        """Issue the draft with ``billing`` (the details printed), its totals worked out in
        ``tax_rounding`` (the seller's mode now; the draft's own when not given). Every line
        must carry a rate the customer's treatment in ``billing`` allows: a customer who
        became reverse charge after the draft was opened cannot be invoiced 20 %."""
        if self.state != "draft":
            raise InvalidState(f"invoice {self.label} is already {self.state}")
        if not self.lines:
            raise EmptyInvoice(f"invoice {self.label} has no lines: nothing to issue")
        for position, line in enumerate(self.lines.values(), start=1):
            try:
                check_rate(billing.tax_treatment, line.tax_rate)
            except InvalidInput as error:
                raise type(error)(
                    f"line {position} ({limits.shown(line.description)}): {error}", field="tax_rate"
                ) from None
        rounding = tax_rounding or self.tax_rounding
        totals = totals_of(self.lines.values(), self.currency, rounding)
        self._trigger(
            self.Issued,
            stamp,
            number=number,
            issued_on=issued_on,
            billing=billing,
            currency=self.currency,
            net=totals.net,
            tax=totals.tax,
            total=totals.total,
            tax_rounding=rounding,
        )

    def record_credit(
        self, credit_note_id: UUID, number: str, amount: Decimal, stamp: Stamp
    ) -> None:
        self._trigger(
            self.Credited,
            stamp,
            credit_note_id=credit_note_id,
            credit_note_number=number,
            currency=self.currency,
            amount=amount,
        )

    def apply_payment(self, payment_id: UUID, amount: Decimal, stamp: Stamp) -> None:
        self._trigger(
            self.PaymentApplied, stamp, payment_id=payment_id, currency=self.currency, amount=amount
        )

    def unapply_payment(self, payment_id: UUID, amount: Decimal, stamp: Stamp) -> None:
        self._trigger(
            self.PaymentUnapplied,
            stamp,
            payment_id=payment_id,
            currency=self.currency,
            amount=amount,
        )

    def void(self, stamp: Stamp) -> None:
        if self.state == "draft":
            raise InvalidState(f"invoice {self.label} is a draft: only issued invoices are voided")
        if self.state == "void":
            raise InvalidState(f"invoice {self.label} is already void")
        if self.allocated:
            raise HasAllocations(
                f"invoice {self.label} has {self.allocated} {self.currency} allocated:"
                " unallocate the payments before voiding"
            )
        if self.credited:
            raise HasAllocations(
                f"invoice {self.label} has credit notes applied: it cannot be voided"
            )
        if not (stamp.reason or "").strip():
            raise InvalidInput("voiding an invoice needs a reason", field="reason")
        self._trigger(self.Voided, stamp, currency=self.currency, total=self.totals.total)

    def check_sendable(self) -> None:
        if self.state != "issued":
            raise InvalidState(
                f"invoice {self.label} is {'a draft' if self.state == 'draft' else 'void'}:"
                " only issued invoices are sent"
            )

    def record_reminder_sent(
        self, offset: int, delivery: Delivery, outstanding: Decimal, stamp: Stamp
    ) -> bool:
        """Record an accepted reminder; False (nothing recorded) when the stage's reminder is
        recorded already."""
        dunning.check_offsets([offset], field="offset")
        if self.reminder_states.get(offset) == "sent":
            return False
        self._trigger(
            self.ReminderSent,
            stamp,
            offset=offset,
            due_date=self.due_date,
            outstanding=outstanding,
            currency=self.currency,
            **delivery.model_dump(),
        )
        return True

    def record_reminder_failed(self, offset: int, failure: SendFailure, stamp: Stamp) -> None:
        dunning.check_offsets([offset], field="offset")
        if self.reminder_states.get(offset) == "sent":
            raise InvalidState(f"the {offset} day reminder of {self.label} was already sent")
        delivery = failure.delivery
        self._trigger(
            self.ReminderFailed,
            stamp,
            offset=offset,
            send_id=delivery.send_id,
            recipients=delivery.recipients,
            message_id=delivery.message_id,
            attempt=failure.attempt,
            error=failure.error[: limits.REASON.max_length],
        )

    # ----------------------------------------------------------------- queries

    @property
    def reminder_states(self) -> dict[int, str]:
        """Each reminder stage attempted, by offset: ``sent`` or ``failed``."""
        states: dict[int, str] = getattr(self, "reminders", {})
        return states

    def reminder_attempts_of(self, offset: int) -> int:
        """Failed attempts of a stage so far (0 when never tried or sent at once)."""
        attempts: dict[int, int] = getattr(self, "reminder_attempts", {})
        return attempts.get(offset, 0)

    def reminder_due(self, offsets: Sequence[int], today: date) -> int | None:
        """The stage of ``offsets`` to remind of on ``today``; None when nothing is owed (paid,
        credited in full, void or a draft) or no stage is due (domain/dunning.py)."""
        if self.state != "issued" or self.outstanding <= 0:
            return None
        return dunning.due_stage(
            offsets,
            due_date=self.due_date,
            invoice_date=self.invoice_date,
            today=today,
            states=self.reminder_states,
            attempts=getattr(self, "reminder_attempts", {}),
        )

    def line(self, line_id: UUID) -> InvoiceLine:
        try:
            return self.lines[line_id]
        except KeyError:
            raise NotFound(f"invoice {self.label} has no line {line_id}") from None

    @property
    def charges(self) -> list[InvoiceLine]:
        """The lines that are not discounts."""
        return [line for line in self.lines.values() if line.kind != "discount"]

    @property
    def discount_rules(self) -> list[Discount]:
        return rules_of(self.lines.values())

    @property
    def label(self) -> str:
        return self.number or str(self.id)

    @property
    def totals(self) -> Totals:
        """Net, tax and total in the invoice's tax rounding mode (the one recorded at issue;
        a draft's, until then)."""
        return totals_of(self.lines.values(), self.currency, self.tax_rounding)

    def _totals_with(self, lines: Sequence[InvoiceLine]) -> Totals:
        return totals_of(lines, self.currency, self.tax_rounding)

    @property
    def voidable(self) -> bool:
        """Whether ``void`` would accept it (given a reason): issued, nothing allocated or
        credited."""
        return self.state == "issued" and not self.allocated and not self.credited

    @property
    def due_date_movable(self) -> bool:
        """Whether ``change_due_date`` would accept it: issued and still owing money."""
        return self.state == "issued" and self.outstanding > 0

    @property
    def allocated(self) -> Decimal:
        return sum(self.allocations.values(), Decimal(0))

    @property
    def outstanding(self) -> Decimal:
        """What is still owed: total - credit notes - allocated payments (0 for drafts/voids)."""
        return invoice_status.outstanding(
            self.state, self.totals.total, self.credited, self.allocated
        )

    def status(self, today: date | None = None) -> Status:
        return invoice_status.status(
            self.state, self.outstanding, self.allocated, self.credited, self.due_date, today
        )


def _check_dates(
    invoice_date: date, due_date: date, period_start: date | None, period_end: date | None
) -> None:
    limits.check_date(invoice_date, what="invoice date", field="invoice_date")
    limits.check_date(due_date, what="due date", field="due_date")
    limits.check_optional_date(period_start, what="period start", field="period_start")
    limits.check_optional_date(period_end, what="period end", field="period_end")
    if due_date < invoice_date:
        raise InvalidDate(
            f"due date {due_date} is before invoice date {invoice_date}", field="due_date"
        )
    if period_start and period_end and period_end < period_start:
        raise InvalidDate("billing period ends before it starts", field="period_end")


def _not_a_discount(line: InvoiceLine) -> None:
    if line.kind == "discount" or line.discount is not None:
        raise InvalidInput(
            "a discount is granted with its own command (invoice discount add), not as a line",
            field="kind",
        )


def check_line(
    line: InvoiceLine,
    currency: str,
    treatment: TaxTreatment = TaxTreatment.STANDARD,
    passed: set[object] | None = None,
) -> None:
    """A line of an invoice or credit note in ``currency`` within the limits, with a rate
    the customer's tax ``treatment`` allows. A discount line (kind ``discount``, with its
    rule) is the one line whose unit price is negative.

    ``passed``: the checks of one document's lines share it, so a value its lines share (a
    tax text, unit, rate or date: a billing run's 25 lines an invoice have one of each) is
    checked for the first line only, in the same order, so the same first fault is found."""
    if (line.kind == "discount") != (line.discount is not None):
        raise InvalidInput("a discount line needs its rule, and only a discount line has one")
    if line.discount is not None:
        check_discount(line.discount, currency)
        if line.unit_price > 0:
            raise InvalidInput("a discount line's unit price is never positive")
        line = line.model_copy(update={"unit_price": -line.unit_price})
    if not line.description.strip():
        raise InvalidInput("line description must not be empty", field="description")
    limits.check_text(line.description, limits.LINE_DESCRIPTION, field="description")
    if passed is None:
        passed = set()
    shared = ("terms", line.tax_description, line.unit)
    if shared not in passed:
        limits.check_text(line.tax_description, limits.TAX_DESCRIPTION, field="tax_description")
        limits.check_text(line.unit, limits.UNIT, field="unit")
        passed.add(shared)
    limits.check_quantity(line.quantity, what="line quantity")
    limits.check_unit_price(line.unit_price, currency)
    rate = ("rate", str(line.tax_rate))  # as written: 20 and 20.000000 differ in places
    if rate not in passed:
        limits.check_tax_rate(line.tax_rate)
        check_rate(treatment, line.tax_rate)
        passed.add(rate)
    dates = ("dates", line.period_start, line.period_end)
    if dates not in passed:
        limits.check_optional_date(
            line.period_start, what="line period start", field="period_start"
        )
        limits.check_optional_date(line.period_end, what="line period end", field="period_end")
        passed.add(dates)
    if line.period_start and line.period_end and line.period_end < line.period_start:
        raise InvalidDate("line period ends before it starts", field="period_end")


def check_totals(totals: Totals, document: str) -> None:
    """A document's total (net + tax of every line) within the money limit: so is each line."""
    limits.check_money(totals.total, totals.currency, what=f"the {document}'s total")
