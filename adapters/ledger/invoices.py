"""Use cases for invoices, their lines, issue, void and credit notes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal
from typing import TypeVar
from uuid import UUID, uuid4

from eventsourcing.persistence import IntegrityError

from adapters.ledger.prepaid import PrepaidUseCases
from domain import limits
from domain.aggregate import Stamp
from domain.changes import DatesChanges, LineChanges
from domain.credit_note import CreditLine, CreditNote, check_creditable, credit_invoice
from domain.customer import CarriedCharges, Customer
from domain.delivery import Delivery, SendFailure
from domain.errors import (
    AlreadyExists,
    ConcurrencyConflict,
    CurrencyMismatch,
    InvalidInput,
    NotFound,
)
from domain.invoice import BillingSnapshot, Invoice
from domain.invoice_line import Discount, InvoiceLine, totals_of
from domain.line_tax import default_terms, description_for
from domain.numbering import (
    DocumentKind,
    DocumentNumber,
    NumberSequence,
    number_id,
    scope_for,
    sequence_id,
)
from domain.payment import Payment
from domain.prepaid import apply_credit
from domain.settings import SellerSettings
from domain.tax_treatment import TaxTreatment
from domain.usage import Period

T = TypeVar("T")


def _line_tax(
    treatment: TaxTreatment,
    default_rate: Decimal,
    default_description: str,
    rate: Decimal | None,
    description: str | None,
) -> dict[str, Decimal | str]:
    """A new line's rate and description: those given, else the defaults; a rate given
    without a description takes that rate's default description (domain/line_tax.py)."""
    chosen = default_rate if rate is None else rate
    if description and description.strip():
        return {"tax_rate": chosen, "tax_description": description}
    text = description_for(
        chosen, base_rate=default_rate, base_description=default_description, treatment=treatment
    )
    return {"tax_rate": chosen, "tax_description": text}


def _credited_description(invoice: Invoice, rate: Decimal) -> str:
    """A credit line's tax description when none is given: that of the invoice's lines at
    the same rate, else the default of the rate (domain/line_tax.py)."""
    lines = list(invoice.lines.values())
    for line in lines:
        if line.tax_rate == rate and line.tax_description.strip():
            return line.tax_description
    first = lines[0]
    treatment = invoice.billing.tax_treatment if invoice.billing else TaxTreatment.STANDARD
    return description_for(
        rate, base_rate=first.tax_rate, base_description=first.tax_description, treatment=treatment
    )


class InvoiceUseCases(PrepaidUseCases):
    """Drafts, lines, gapless issue, void and credit notes."""

    # ---------------------------------------------------------------- invoices

    def create_invoice(
        self,
        customer_ref: str | UUID,
        actor: str,
        *,
        invoice_date: date | None = None,
        due_date: date | None = None,
        period_start: date | None = None,
        period_end: date | None = None,
        memo: str = "",
        invoice_id: UUID | None = None,
        lines: Sequence[InvoiceLine] = (),
    ) -> UUID:
        """Open a draft. Passing a deterministic ``invoice_id`` makes creation idempotent.

        ``lines`` are part of the draft's one ``Drafted`` event, so the invoice exists with all
        of them or not at all (what a billing run needs to resume cleanly after a crash)."""
        invoice = self.draft_invoice(
            customer_ref,
            actor,
            invoice_date=invoice_date,
            due_date=due_date,
            period_start=period_start,
            period_end=period_end,
            memo=memo,
            invoice_id=invoice_id,
            lines=lines,
        )
        self._create(
            "invoice drafted", invoice, AlreadyExists(f"invoice {invoice.id} already exists")
        )
        return invoice.id

    def draft_invoice(
        self,
        customer_ref: str | UUID | Customer,
        actor: str,
        *,
        invoice_date: date | None = None,
        due_date: date | None = None,
        period_start: date | None = None,
        period_end: date | None = None,
        memo: str = "",
        invoice_id: UUID | None = None,
        lines: Sequence[InvoiceLine] = (),
        settings: SellerSettings | None = None,
    ) -> Invoice:
        """A new draft with its lines (all in its ``Drafted`` event), not saved yet:
        ``create_invoices`` saves several.

        A batch job that has just loaded the customer may pass it instead of a reference,
        and the seller's ``settings`` it read once (each saves a read per invoice: the
        billing run drafts a thousand)."""
        customer = (
            customer_ref if isinstance(customer_ref, Customer) else self.customer(customer_ref)
        )
        day = invoice_date or self.today()
        profile = customer.profile_on(day)
        return Invoice.draft(
            invoice_id or uuid4(),
            customer_id=customer.id,
            customer_account=profile.account_number,
            currency=customer.currency,
            invoice_date=day,
            due_date=due_date or limits.days_after(day, profile.payment_terms_days),
            period_start=period_start,
            period_end=period_end,
            memo=memo,
            stamp=self.stamp(actor),
            lines=lines,
            tax_rounding=(settings or self.settings()).tax_rounding,
            treatment=profile.tax_treatment,
        )

    def create_invoices(
        self,
        invoices: Sequence[Invoice],
        *,
        customers: Sequence[Customer] = (),
        takes: tuple[UUID, ...] = (),
        actor: str = "billing-run",
    ) -> None:
        """Save new drafts (from ``draft_invoice``) in one transaction: all of them, or none
        when any of them already exists (AlreadyExists). With ``takes`` (one invoice, its
        customer), the invoice bills those charges carried forward: the customer records it
        in the same transaction, so they are billed once."""
        if takes:
            [invoice], [customer] = invoices, customers
            customer.bill_carried(invoice.id, takes, self.stamp(actor))
        try:
            self._save("invoice drafted", *invoices, *customers)
        except IntegrityError:
            raise AlreadyExists(
                "an invoice of this batch already exists, or its customer changed: none was saved"
            ) from None

    def carry_forward(
        self,
        customer: Customer,
        invoice_id: UUID,
        period: Period,
        lines: Sequence[InvoiceLine],
        actor: str,
    ) -> None:
        """Carry a billing period's charges (below the minimum invoice amount) forward: the
        customer (as the caller read it) records them; the invoice ``invoice_id`` is never
        made. A customer changed since it was read is refused (ConcurrencyConflict)."""
        carried = CarriedCharges(
            invoice_id=invoice_id,
            period_start=period.start,
            period_end=period.end,
            currency=customer.currency,
            lines=tuple(lines),
            total=totals_of(lines, customer.currency).total,
        )
        customer.carry_forward(carried, self.stamp(actor))
        try:
            self._save("charges carried forward", customer)
        except IntegrityError:
            raise ConcurrencyConflict(
                f"customer {customer.registered.account_number} changed meanwhile"
            ) from None

    def invoice(self, ref: str | UUID) -> Invoice:
        """An invoice by number, id, or a unique prefix of its id."""
        return self._get(Invoice, self.invoice_id(ref), "invoice")

    def invoice_id(self, ref: str | UUID) -> UUID:
        if isinstance(ref, UUID):
            return ref
        try:
            return UUID(ref)
        except ValueError:
            pass
        numbered = self._numbered("invoice", ref)
        if numbered is not None:
            return numbered
        if self.references is not None:
            return self.references.find("invoice", ref)
        # numbers given before DocumentNumber existed, and id prefixes: a scan of the log
        for _, event in self._ids_of(Invoice.Issued):
            if isinstance(event, Invoice.Issued) and event.number == ref:
                return event.originator_id
        matches = [
            event.originator_id
            for _, event in self._ids_of(Invoice.Drafted)
            if len(ref) >= 6 and str(event.originator_id).startswith(ref.lower())
        ]
        if len(matches) == 1:
            return matches[0]
        raise NotFound(f"unknown invoice {ref!r}")

    def _edit_invoice(
        self,
        operation: str,
        ref: str | UUID,
        change: Callable[[Invoice], T],
        expected_version: int | None = None,
    ) -> T:
        def command() -> T:
            invoice = self._at_version(self.invoice(ref), expected_version, "invoice")
            result = change(invoice)
            self._save(operation, invoice)
            return result

        return self._retrying(operation, command)

    def add_line(
        self,
        invoice_ref: str | UUID,
        actor: str,
        *,
        description: str,
        quantity: Decimal,
        unit_price: Decimal,
        tax_rate: Decimal | None = None,
        tax_description: str | None = None,
        period_start: date | None = None,
        period_end: date | None = None,
        unit: str = "",
        expected_version: int | None = None,
    ) -> UUID:
        line_id = uuid4()

        def change(invoice: Invoice) -> UUID:
            profile = self.customer(invoice.customer_id).profile_on(invoice.invoice_date)
            treatment = profile.tax_treatment
            rate, text = default_terms(treatment, profile.tax_rate, profile.tax_description)
            invoice.add_line(
                InvoiceLine(
                    line_id=line_id,
                    description=description,
                    quantity=quantity,
                    unit_price=unit_price,
                    **_line_tax(treatment, rate, text, tax_rate, tax_description),
                    period_start=period_start or invoice.period_start,
                    period_end=period_end or invoice.period_end,
                    unit=unit,
                ),
                self.stamp(actor),
                treatment,
            )
            return line_id

        return self._edit_invoice("line added", invoice_ref, change, expected_version)

    def add_package_line(
        self,
        invoice_ref: str | UUID,
        package_ref: str | UUID,
        actor: str,
        *,
        quantity: Decimal | None = None,
        unit_price: Decimal | None = None,
        tax_rate: Decimal | None = None,
        tax_description: str | None = None,
        description: str | None = None,
        period_start: date | None = None,
        period_end: date | None = None,
        setup: bool = False,
        expected_version: int | None = None,
    ) -> UUID:
        """Add a line filled in from a package: quantity, price and tax autocomplete, each
        overridable. ``setup`` bills the package's one-off setup price instead."""
        line_id = uuid4()

        def change(invoice: Invoice) -> UUID:
            package = self.package(package_ref)
            terms = package.terms
            if terms.currency != invoice.currency:
                raise CurrencyMismatch(
                    f"package {terms.name!r} is priced in {terms.currency}, invoice"
                    f" {invoice.label} is in {invoice.currency}",
                    field="package",
                )
            profile = self.customer(invoice.customer_id).profile_on(invoice.invoice_date)
            treatment = profile.tax_treatment
            rate, tax_text = default_terms(
                treatment,
                profile.tax_rate,
                profile.tax_description,
                terms.tax_rate,
                terms.tax_description,
            )
            text = terms.name + (" (setup)" if setup else "")
            invoice.add_line(
                InvoiceLine(
                    line_id=line_id,
                    description=description or text,
                    quantity=quantity if quantity is not None else terms.default_quantity,
                    unit_price=unit_price
                    if unit_price is not None
                    else (terms.setup_price if setup else terms.unit_price),
                    **_line_tax(treatment, rate, tax_text, tax_rate, tax_description),
                    period_start=period_start or invoice.period_start,
                    period_end=period_end or invoice.period_end,
                    package_id=package.id,
                    kind="setup" if setup else "package",
                ),
                self.stamp(actor),
                treatment,
            )
            return line_id

        return self._edit_invoice("package line added", invoice_ref, change, expected_version)

    def add_discount(
        self,
        invoice_ref: str | UUID,
        actor: str,
        *,
        percent: Decimal | None = None,
        amount: Decimal | None = None,
        line_ref: UUID | str | None = None,
        description: str = "",
        expected_version: int | None = None,
    ) -> UUID:
        """Grant a discount on a draft: ``percent`` or ``amount``, of the line ``line_ref``
        (position, id or id prefix) or, without it, of the invoice's net. Returns the
        discount's id (its lines are ``uuid5`` of it: domain/discount.py)."""
        discount_id = uuid4()

        def change(invoice: Invoice) -> UUID:
            target = None if line_ref is None else self._line_id(invoice, line_ref)
            rule = Discount(
                discount_id=discount_id,
                percent=percent,
                amount=amount,
                applies_to=target,
                description=description,
            )
            invoice.add_discount(rule, self.stamp(actor))
            return discount_id

        return self._edit_invoice("discount added", invoice_ref, change, expected_version)

    def edit_line(
        self,
        invoice_ref: str | UUID,
        line_id: UUID | str,
        changes: LineChanges,
        actor: str,
        *,
        expected_version: int | None = None,
    ) -> None:
        self._edit_invoice(
            "line edited",
            invoice_ref,
            lambda invoice: invoice.edit_line(
                self._line_id(invoice, line_id),
                changes,
                self.stamp(actor),
                self._treatment_of(invoice),
            ),
            expected_version,
        )

    def _treatment_of(self, invoice: Invoice) -> TaxTreatment:
        """The customer's tax treatment on the invoice date: the one its lines must obey."""
        return self.customer(invoice.customer_id).profile_on(invoice.invoice_date).tax_treatment

    def remove_line(
        self,
        invoice_ref: str | UUID,
        line_id: UUID | str,
        actor: str,
        *,
        expected_version: int | None = None,
    ) -> None:
        self._edit_invoice(
            "line removed",
            invoice_ref,
            lambda invoice: invoice.remove_line(self._line_id(invoice, line_id), self.stamp(actor)),
            expected_version,
        )

    @staticmethod
    def _line_id(invoice: Invoice, ref: UUID | str) -> UUID:
        """A line by id, id prefix, or 1-based position on the invoice."""
        if isinstance(ref, UUID):
            return ref
        ids = list(invoice.lines)
        if ref.isdigit() and 1 <= int(ref) <= len(ids):
            return ids[int(ref) - 1]
        matches = [line_id for line_id in ids if str(line_id).startswith(ref.lower())]
        if len(matches) == 1:
            return matches[0]
        raise NotFound(f"invoice {invoice.label} has no line {ref!r}")

    def change_invoice_dates(
        self,
        invoice_ref: str | UUID,
        changes: DatesChanges,
        actor: str,
        *,
        expected_version: int | None = None,
    ) -> None:
        self._edit_invoice(
            "invoice dates changed",
            invoice_ref,
            lambda invoice: invoice.change_dates(changes, self.stamp(actor)),
            expected_version,
        )

    def change_due_date(
        self,
        invoice_ref: str | UUID,
        due_date: date,
        actor: str,
        reason: str,
        *,
        expected_version: int | None = None,
    ) -> None:
        """Give an issued invoice a new due date, with a reason (``Invoice.DueDateChanged``)."""
        self._edit_invoice(
            "invoice due date changed",
            invoice_ref,
            lambda invoice: invoice.change_due_date(due_date, self.stamp(actor, reason)),
            expected_version,
        )

    def _take_number(
        self,
        kind: DocumentKind,
        pattern: str,
        document_id: UUID,
        stamp: Stamp,
        document_date: date,
        label: str,
    ) -> tuple[NumberSequence, DocumentNumber, str]:
        """The next number in the sequence of ``document_date``'s year (numbers follow
        dates: domain/numbering.py), its sequence and its ``DocumentNumber``: all to be saved
        with the document."""
        scope = scope_for(pattern, document_date.year)
        try:
            sequence = self._get(NumberSequence, sequence_id(kind, scope), "sequence")
        except NotFound:
            sequence = NumberSequence.start(kind, scope, stamp)
        number = sequence.take(pattern, document_date, document_id, stamp, label=label)
        return sequence, DocumentNumber.give(kind, number, document_id, stamp), number

    def _numbered(self, kind: DocumentKind, number: str) -> UUID | None:
        """The document given ``number``, in one read; None if that number has no
        ``DocumentNumber`` (unknown, or issued before numbers were recorded so)."""
        try:
            found = self._get(DocumentNumber, number_id(kind, number), "number")
        except NotFound:
            return None
        return found.document_id

    def issue_invoice(
        self, invoice_ref: str | UUID, actor: str, *, expected_version: int | None = None
    ) -> str:
        """Issue a draft: the next gapless number and the invoice are saved together."""

        def command() -> str:
            invoice = self._at_version(self.invoice(invoice_ref), expected_version, "invoice")
            stamp = self.stamp(actor)
            settings = self.settings()
            customer = self.customer(invoice.customer_id)
            profile = customer.profile_on(stamp.at.date())
            billing = BillingSnapshot(
                customer_name=profile.name,
                customer_account=profile.account_number,
                billing_address=profile.billing_address,
                address=profile.address,
                customer_tax_number=profile.tax_number,
                seller_name=settings.company_name,
                seller_address=settings.address,
                seller_tax_number=settings.tax_number,
                payment_instructions=settings.payment_instructions,
                seller_details=settings.seller_details,
                seller_country=settings.country,
                tax_treatment=profile.tax_treatment,
            )
            sequence, given, number = self._take_number(
                "invoice",
                settings.invoice_number_format,
                invoice.id,
                stamp,
                invoice.invoice_date,
                f"invoice {invoice.label}",
            )
            invoice.issue(number, stamp.at.date(), billing, stamp, settings.tax_rounding)
            credit = (
                self._auto_applied(customer, invoice, actor) if profile.auto_apply_credit else []
            )
            self._save("invoice issued", invoice, sequence, given, *credit)
            return number

        return self._retrying("issue invoice", command)

    def record_invoice_sent(
        self,
        invoice_ref: str | UUID,
        actor: str,
        delivery: Delivery,
        *,
        expected_version: int | None = None,
    ) -> bool:
        """``Invoice.Sent`` once the SMTP server accepted the message; False if already so."""
        return self._edit_invoice(
            "invoice sent",
            invoice_ref,
            lambda invoice: invoice.record_sent(delivery, self.stamp(actor)),
            expected_version,
        )

    def record_invoice_send_failed(
        self,
        invoice_ref: str | UUID,
        actor: str,
        failure: SendFailure,
    ) -> None:
        """``Invoice.SendFailed``: the attempt, what went wrong and when to try again."""
        self._edit_invoice(
            "invoice send failed",
            invoice_ref,
            lambda invoice: invoice.record_send_failed(failure, self.stamp(actor)),
        )

    def record_invoice_reminder_sent(
        self,
        invoice_ref: str | UUID,
        actor: str,
        offset: int,
        delivery: Delivery,
        outstanding: Decimal,
    ) -> bool:
        """``Invoice.ReminderSent`` once the SMTP server accepted the reminder of stage
        ``offset``; False when that stage's reminder is recorded already."""
        return self._edit_invoice(
            "invoice reminder sent",
            invoice_ref,
            lambda invoice: invoice.record_reminder_sent(
                offset, delivery, outstanding, self.stamp(actor)
            ),
        )

    def record_invoice_reminder_failed(
        self, invoice_ref: str | UUID, actor: str, offset: int, failure: SendFailure
    ) -> None:
        """``Invoice.ReminderFailed``: the stage, the attempt and what went wrong."""
        self._edit_invoice(
            "invoice reminder failed",
            invoice_ref,
            lambda invoice: invoice.record_reminder_failed(offset, failure, self.stamp(actor)),
        )

    def record_credit_note_sent(self, note_ref: str | UUID, actor: str, delivery: Delivery) -> bool:
        """``CreditNote.Sent`` once the SMTP server accepted the message; False if already so."""
        return self._edit_note(
            "credit note sent", note_ref, lambda note: note.record_sent(delivery, self.stamp(actor))
        )

    def record_credit_note_send_failed(
        self, note_ref: str | UUID, actor: str, failure: SendFailure
    ) -> None:
        """``CreditNote.SendFailed``: the attempt, what went wrong and when to try again."""
        self._edit_note(
            "credit note send failed",
            note_ref,
            lambda note: note.record_send_failed(failure, self.stamp(actor)),
        )

    def _edit_note(self, operation: str, ref: str | UUID, change: Callable[[CreditNote], T]) -> T:
        def command() -> T:
            note = self.credit_note(ref)
            result = change(note)
            self._save(operation, note)
            return result

        return self._retrying(operation, command)

    def _auto_applied(
        self, customer: Customer, invoice: Invoice, actor: str
    ) -> list[Payment | Customer]:
        """The customer's credit applied to the invoice just issued (oldest payment first):
        the payments that gave some and, when that took the prepaid balance below its
        threshold, the customer with ``PrepaidBalanceLow``; all saved with the issue."""
        stamp = self.stamp(actor, "customer credit applied on issue (auto_apply_credit)")
        payments = self.customer_payments(customer.id)
        before = {payment.id: payment.unallocated for payment in payments}
        used = apply_credit(invoice, payments, stamp)
        spent = {payment.id: before[payment.id] for payment in used}
        return [*used, *self._low_balance_watch(customer, spent, used, stamp)]

    def void_invoice(
        self,
        invoice_ref: str | UUID,
        actor: str,
        reason: str,
        *,
        expected_version: int | None = None,
    ) -> None:
        self._edit_invoice(
            "invoice voided",
            invoice_ref,
            lambda invoice: invoice.void(self.stamp(actor, reason)),
            expected_version,
        )

    def issue_credit_note(
        self,
        invoice_ref: str | UUID,
        actor: str,
        reason: str,
        *,
        amount: Decimal | None = None,
        lines: Sequence[CreditLine] | None = None,
        full: bool = False,
        expected_version: int | None = None,
    ) -> str:
        """Credit an issued invoice: in full, by a net amount at the invoice's tax rate, or by
        explicit lines. Note, invoice and credit-note sequence are saved together."""
        if sum(option is not None and option is not False for option in (amount, lines, full)) != 1:
            raise InvalidInput("give exactly one of: a net amount, explicit lines, or full")
        if lines is not None:
            limits.check_count(len(lines), limits.MAX_LINES, what="lines on one credit note")
        note_id = uuid4()

        def command() -> str:
            invoice = self._at_version(self.invoice(invoice_ref), expected_version, "invoice")
            check_creditable(invoice)  # a draft's lines may be none to take descriptions from
            stamp = self.stamp(actor, reason)
            note_lines = self._credit_lines(invoice, amount, lines, full)
            sequence, given, number = self._take_number(
                "credit_note",
                self.settings().credit_note_number_format,
                note_id,
                stamp,
                stamp.at.date(),
                "the credit note",
            )
            payments = self._released_payments(invoice, note_lines)
            note = credit_invoice(
                note_id, invoice, note_lines, number, stamp.at.date(), stamp, payments
            )
            # one save: note, invoice, sequence, number and every payment credit was released to
            self._save("credit note issued", note, invoice, sequence, given, *payments.values())
            return number

        return self._retrying("issue credit note", command)

    def _released_payments(
        self, invoice: Invoice, note_lines: Sequence[InvoiceLine]
    ) -> dict[UUID, Payment]:
        """The invoice's allocated payments when the credit exceeds what is outstanding
        (part of their allocations is released to customer credit), else none."""
        credit = totals_of(note_lines, invoice.currency, invoice.tax_rounding).total
        if credit <= invoice.outstanding:
            return {}
        return {pid: self._get(Payment, pid, "payment") for pid in invoice.allocations}

    @staticmethod
    def _credit_lines(
        invoice: Invoice,
        amount: Decimal | None,
        lines: Sequence[CreditLine] | None,
        full: bool,
    ) -> list[InvoiceLine]:
        if full:
            return [line.model_copy(update={"line_id": uuid4()}) for line in invoice.lines.values()]
        if lines is not None:
            return [
                InvoiceLine.model_validate(
                    {
                        "line_id": uuid4(),
                        **line.model_dump(),
                        "tax_description": line.tax_description.strip()
                        or _credited_description(invoice, line.tax_rate),
                    }
                )
                for line in lines
            ]
        assert amount is not None
        limits.check_money(amount, invoice.currency, what="credit amount", field="amount")
        rates = {line.tax_rate for line in invoice.lines.values()}
        if len(rates) != 1:
            raise InvalidInput(
                f"invoice {invoice.label} has several tax rates: credit it with explicit lines",
                field="amount",
            )
        first = next(iter(invoice.lines.values()))
        return [
            InvoiceLine(
                line_id=uuid4(),
                description=f"Credit against {invoice.label}",
                quantity=Decimal(1),
                unit_price=amount,
                tax_rate=first.tax_rate,
                tax_description=first.tax_description,
            )
        ]

    def credit_note(self, ref: str | UUID) -> CreditNote:
        if isinstance(ref, str):
            numbered = self._numbered("credit_note", ref)
            if numbered is not None:
                return self._get(CreditNote, numbered, "credit note")
            try:
                return self._get(CreditNote, UUID(ref), "credit note")
            except ValueError:
                pass
            if self.references is not None:
                found = self.references.find("credit_note", ref)
                return self._get(CreditNote, found, "credit note")
            for _, event in self._ids_of(CreditNote.Issued):
                if isinstance(event, CreditNote.Issued) and event.number == ref:
                    return self._get(CreditNote, event.originator_id, "credit note")
            try:
                ref = UUID(ref)
            except ValueError:
                raise NotFound(f"unknown credit note {ref!r}") from None
        return self._get(CreditNote, ref, "credit note")
