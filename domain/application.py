"""The ledger's use cases: one application service over the event store.

Every use case is get -> command -> save. Saves that touch several aggregates (issue: invoice +
sequence; allocation: payment + invoices; credit note: note + invoice + sequence) are one
``save()`` call, which the library writes in one transaction. A version conflict (another
writer got there first) is retried from a fresh read, and reported if it keeps happening.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID, uuid4

import structlog
from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError, Mapper
from eventsourcing.utils import get_topic

from domain import allocation
from domain.aggregate import Aggregate, Event, Stamp
from domain.credit_note import CreditNote, credit_invoice
from domain.customer import Customer, CustomerProfile, customer_id_for
from domain.errors import (
    AlreadyExists,
    ConcurrencyConflict,
    CurrencyMismatch,
    DuplicateIdempotencyKey,
    InvalidInput,
    NotFound,
)
from domain.event_mapper import PydanticMapper
from domain.invoice import BillingSnapshot, Invoice
from domain.invoice_line import InvoiceLine
from domain.numbering import DocumentKind, NumberSequence, scope_for, sequence_id
from domain.package import Package, PackageTerms, package_id_for
from domain.payment import Payment, PaymentDetails, PaymentStatus, payment_id_for_key
from domain.settings import SETTINGS_ID, AccountSettings, SellerSettings

log = structlog.get_logger("tollbook.ledger")

T = TypeVar("T")
A = TypeVar("A", bound=Aggregate)

MAX_ATTEMPTS = 12


def utc_now() -> datetime:
    return datetime.now(UTC)


class Ledger(Application[UUID]):
    """tollbook's application service: customers, packages, invoices, credit notes, payments."""

    name = "tollbook"

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        super().__init__(env=env)
        self.clock = clock

    def construct_mapper(self) -> Mapper[UUID]:
        return PydanticMapper(
            transcoder=self.construct_transcoder(),
            compressor=self.factory.compressor(),
            cipher=self.factory.cipher(),
        )

    # ---------------------------------------------------------------- plumbing

    def stamp(self, actor: str, reason: str | None = None) -> Stamp:
        now = self.clock()
        if now.tzinfo is None:
            raise ValueError("the ledger clock must return timezone-aware datetimes")
        return Stamp(actor=actor or "unknown", at=now, reason=reason)

    def today(self) -> date:
        return self.clock().date()

    def _retrying(self, operation: str, command: Callable[[], T]) -> T:
        """Run get -> command -> save again from fresh state when another writer won a race."""
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                return command()
            except IntegrityError:
                log.info("version conflict, retrying", operation=operation, attempt=attempt)
                # Jittered exponential back-off, so the loser of a race does not lose forever.
                time.sleep(random.uniform(0, min(0.2, 0.002 * 2**attempt)))
        raise ConcurrencyConflict(
            f"{operation}: the same records kept changing under us; nothing was saved, try again"
        )

    def _save(self, operation: str, *aggregates: Aggregate) -> None:
        pending = [(agg.id, type(e).__name__) for agg in aggregates for e in agg._pending]
        self.save(*aggregates)
        for aggregate_id, event_name in pending:
            log.info(operation, aggregate_id=str(aggregate_id), domain_event=event_name)

    def _get(self, cls: type[A], aggregate_id: UUID, what: str) -> A:
        try:
            aggregate: object = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise NotFound(f"unknown {what} {aggregate_id}") from None
        if not isinstance(aggregate, cls):
            raise NotFound(f"{aggregate_id} is not a {what}")
        return aggregate

    def _create(self, operation: str, aggregate: Aggregate, duplicate: Exception) -> None:
        try:
            self._save(operation, aggregate)
        except IntegrityError:
            raise duplicate from None

    def _ids_of(self, created: type[Event]) -> Iterator[tuple[int, Event]]:
        """Every event of one type, in log order, as (position, event)."""
        topic = get_topic(created)
        start: int | None = None
        while True:
            page = self.recorder.select_notifications(
                start, 500, topics=[topic], inclusive_of_start=start is None
            )
            for notification in page:
                event = self.mapper.to_domain_event(notification)
                assert isinstance(event, Event)
                yield notification.id, event
            if len(page) < 500:
                return
            start = page[-1].id

    # ---------------------------------------------------------------- settings

    def settings(self) -> SellerSettings:
        try:
            return self._get(AccountSettings, SETTINGS_ID, "settings").values
        except NotFound:
            return SellerSettings()

    def change_settings(self, changes: dict[str, Any], actor: str) -> SellerSettings:
        def command() -> SellerSettings:
            stamp = self.stamp(actor)
            try:
                account = self._get(AccountSettings, SETTINGS_ID, "settings")
                account.change(changes, stamp)
            except NotFound:
                values = SellerSettings.model_validate(changes)
                account = AccountSettings.initialise(SellerSettings(), stamp)
                account.change(values.model_dump(), stamp)
            self._save("settings changed", account)
            return account.values

        return self._retrying("change settings", command)

    # --------------------------------------------------------------- customers

    def register_customer(self, actor: str, **fields: Any) -> UUID:
        settings = self.settings()
        fields.setdefault("currency", settings.default_currency)
        fields.setdefault("tax_rate", settings.default_tax_rate)
        fields.setdefault("tax_description", settings.default_tax_description)
        fields.setdefault("payment_terms_days", settings.default_payment_terms_days)
        profile = CustomerProfile.model_validate(fields)
        _check_profile(profile)
        customer = Customer.register(profile, self.stamp(actor))
        self._create(
            "customer registered",
            customer,
            AlreadyExists(f"customer account {profile.account_number!r} already exists"),
        )
        return customer.id

    def customer(self, ref: str | UUID) -> Customer:
        """A customer by account number or id."""
        if isinstance(ref, UUID):
            return self._get(Customer, ref, "customer")
        try:
            return self._get(Customer, customer_id_for(ref), "customer")
        except NotFound:
            pass
        try:
            return self._get(Customer, UUID(ref), "customer")
        except (ValueError, NotFound):
            raise NotFound(f"unknown customer {ref!r}") from None

    def change_customer(
        self,
        ref: str | UUID,
        changes: dict[str, Any],
        actor: str,
        effective_from: date | None = None,
        reason: str | None = None,
    ) -> None:
        def command() -> None:
            customer = self.customer(ref)
            when = effective_from or self.today()
            customer.change(changes, when, self.stamp(actor, reason))
            _check_profile(customer.profile_on(when))
            self._save("customer changed", customer)

        self._retrying("change customer", command)

    def customers(self) -> list[Customer]:
        return [
            self._get(Customer, event.originator_id, "customer")
            for _, event in self._ids_of(Customer.Registered)
        ]

    # ---------------------------------------------------------------- packages

    def define_package(self, actor: str, **fields: Any) -> UUID:
        fields.setdefault("currency", self.settings().default_currency)
        terms = PackageTerms.model_validate(fields)
        package = Package.define(terms, self.stamp(actor))
        self._create(
            "package defined", package, AlreadyExists(f"package {terms.name!r} already exists")
        )
        return package.id

    def package(self, ref: str | UUID) -> Package:
        if isinstance(ref, UUID):
            return self._get(Package, ref, "package")
        try:
            return self._get(Package, package_id_for(ref), "package")
        except NotFound:
            pass
        try:
            return self._get(Package, UUID(ref), "package")
        except (ValueError, NotFound):
            raise NotFound(f"unknown package {ref!r}") from None

    def change_package(self, ref: str | UUID, changes: dict[str, Any], actor: str) -> None:
        def command() -> None:
            package = self.package(ref)
            package.change(changes, self.stamp(actor))
            self._save("package changed", package)

        self._retrying("change package", command)

    def packages(self) -> list[Package]:
        return [
            self._get(Package, event.originator_id, "package")
            for _, event in self._ids_of(Package.Defined)
        ]

    def assign_package(
        self,
        customer_ref: str | UUID,
        package_ref: str | UUID,
        actor: str,
        *,
        start_date: date,
        quantity: Decimal | None = None,
        end_date: date | None = None,
    ) -> UUID:
        assignment_id = uuid4()

        def command() -> UUID:
            customer = self.customer(customer_ref)
            package = self.package(package_ref)
            if package.terms.currency != customer.currency:
                raise CurrencyMismatch(
                    f"package {package.terms.name!r} is priced in {package.terms.currency},"
                    f" customer {customer.registered.account_number} is billed in"
                    f" {customer.currency}"
                )
            customer.assign_package(
                assignment_id,
                package.id,
                quantity if quantity is not None else package.terms.default_quantity,
                start_date,
                end_date,
                self.stamp(actor),
            )
            self._save("package assigned", customer)
            return assignment_id

        return self._retrying("assign package", command)

    def end_assignment(
        self, customer_ref: str | UUID, assignment_id: UUID, end_date: date, actor: str
    ) -> None:
        def command() -> None:
            customer = self.customer(customer_ref)
            customer.end_assignment(assignment_id, end_date, self.stamp(actor))
            self._save("package assignment ended", customer)

        self._retrying("end assignment", command)

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

        ``lines`` are added in the same save as the draft, so the invoice exists with all of
        them or not at all (what a billing run needs to resume cleanly after a crash)."""
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
    ) -> Invoice:
        """A new draft with its lines, not saved yet: ``create_invoices`` saves several."""
        customer = self.customer(customer_ref)
        day = invoice_date or self.today()
        profile = customer.profile_on(day)
        stamp = self.stamp(actor)
        invoice = Invoice.draft(
            invoice_id or uuid4(),
            customer_id=customer.id,
            customer_account=profile.account_number,
            currency=customer.currency,
            invoice_date=day,
            due_date=due_date or day + timedelta(days=profile.payment_terms_days),
            period_start=period_start,
            period_end=period_end,
            memo=memo,
            stamp=stamp,
        )
        for line in lines:
            invoice.add_line(line, stamp)
        return invoice

    def create_invoices(self, invoices: Sequence[Invoice]) -> None:
        """Save new drafts (from ``draft_invoice``) in one transaction: all of them, or none
        when any of them already exists (AlreadyExists)."""
        try:
            self._save("invoice drafted", *invoices)
        except IntegrityError:
            raise AlreadyExists("an invoice of this batch already exists: none was saved") from None

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

    def invoices(self, customer_ref: str | UUID | None = None) -> list[Invoice]:
        customer_id = self.customer(customer_ref).id if customer_ref is not None else None
        result = []
        for _, event in self._ids_of(Invoice.Drafted):
            if isinstance(event, Invoice.Drafted) and customer_id in (None, event.customer_id):
                result.append(self._get(Invoice, event.originator_id, "invoice"))
        return result

    def _edit_invoice(self, operation: str, ref: str | UUID, change: Callable[[Invoice], T]) -> T:
        def command() -> T:
            invoice = self.invoice(ref)
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
    ) -> UUID:
        line_id = uuid4()

        def change(invoice: Invoice) -> UUID:
            profile = self.customer(invoice.customer_id).profile_on(invoice.invoice_date)
            invoice.add_line(
                InvoiceLine(
                    line_id=line_id,
                    description=description,
                    quantity=quantity,
                    unit_price=unit_price,
                    tax_rate=profile.tax_rate if tax_rate is None else tax_rate,
                    tax_description=tax_description or profile.tax_description,
                    period_start=period_start or invoice.period_start,
                    period_end=period_end or invoice.period_end,
                    unit=unit,
                ),
                self.stamp(actor),
            )
            return line_id

        return self._edit_invoice("line added", invoice_ref, change)

    def add_package_line(
        self,
        invoice_ref: str | UUID,
        package_ref: str | UUID,
        actor: str,
        *,
        quantity: Decimal | None = None,
        unit_price: Decimal | None = None,
        tax_rate: Decimal | None = None,
        description: str | None = None,
        period_start: date | None = None,
        period_end: date | None = None,
        setup: bool = False,
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
                    f" {invoice.label} is in {invoice.currency}"
                )
            profile = self.customer(invoice.customer_id).profile_on(invoice.invoice_date)
            default_rate = terms.tax_rate if terms.tax_rate is not None else profile.tax_rate
            default_tax_text = (
                terms.tax_description
                if terms.tax_rate is not None and terms.tax_description
                else profile.tax_description
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
                    tax_rate=default_rate if tax_rate is None else tax_rate,
                    tax_description=default_tax_text,
                    period_start=period_start or invoice.period_start,
                    period_end=period_end or invoice.period_end,
                    package_id=package.id,
                    kind="setup" if setup else "package",
                ),
                self.stamp(actor),
            )
            return line_id

        return self._edit_invoice("package line added", invoice_ref, change)

    def edit_line(
        self, invoice_ref: str | UUID, line_id: UUID, changes: dict[str, Any], actor: str
    ) -> None:
        self._edit_invoice(
            "line edited",
            invoice_ref,
            lambda invoice: invoice.edit_line(
                self._line_id(invoice, line_id), changes, self.stamp(actor)
            ),
        )

    def remove_line(self, invoice_ref: str | UUID, line_id: UUID | str, actor: str) -> None:
        self._edit_invoice(
            "line removed",
            invoice_ref,
            lambda invoice: invoice.remove_line(self._line_id(invoice, line_id), self.stamp(actor)),
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
        self, invoice_ref: str | UUID, changes: dict[str, date | None], actor: str
    ) -> None:
        self._edit_invoice(
            "invoice dates changed",
            invoice_ref,
            lambda invoice: invoice.change_dates(changes, self.stamp(actor)),
        )

    def _take_number(
        self, kind: DocumentKind, pattern: str, document_id: UUID, stamp: Stamp
    ) -> tuple[NumberSequence, str]:
        year = stamp.at.year
        scope = scope_for(pattern, year)
        try:
            sequence = self._get(NumberSequence, sequence_id(kind, scope), "sequence")
        except NotFound:
            sequence = NumberSequence.start(kind, scope, stamp)
        return sequence, sequence.take(pattern, year, document_id, stamp)

    def issue_invoice(self, invoice_ref: str | UUID, actor: str) -> str:
        """Issue a draft: the next gapless number and the invoice are saved together."""

        def command() -> str:
            invoice = self.invoice(invoice_ref)
            stamp = self.stamp(actor)
            settings = self.settings()
            profile = self.customer(invoice.customer_id).profile_on(stamp.at.date())
            billing = BillingSnapshot(
                customer_name=profile.name,
                customer_account=profile.account_number,
                billing_address=profile.billing_address,
                customer_tax_number=profile.tax_number,
                seller_name=settings.company_name,
                seller_address=settings.address,
                seller_tax_number=settings.tax_number,
                payment_instructions=settings.payment_instructions,
            )
            sequence, number = self._take_number(
                "invoice", settings.invoice_number_format, invoice.id, stamp
            )
            invoice.issue(number, stamp.at.date(), billing, stamp)
            self._save("invoice issued", invoice, sequence)
            return number

        return self._retrying("issue invoice", command)

    def void_invoice(self, invoice_ref: str | UUID, actor: str, reason: str) -> None:
        self._edit_invoice(
            "invoice voided",
            invoice_ref,
            lambda invoice: invoice.void(self.stamp(actor, reason)),
        )

    def issue_credit_note(
        self,
        invoice_ref: str | UUID,
        actor: str,
        reason: str,
        *,
        amount: Decimal | None = None,
        lines: Sequence[dict[str, Any]] | None = None,
        full: bool = False,
    ) -> str:
        """Credit an issued invoice: in full, by a net amount at the invoice's tax rate, or by
        explicit lines. Note, invoice and credit-note sequence are saved together."""
        if sum(option is not None and option is not False for option in (amount, lines, full)) != 1:
            raise InvalidInput("give exactly one of: a net amount, explicit lines, or full")
        note_id = uuid4()

        def command() -> str:
            invoice = self.invoice(invoice_ref)
            stamp = self.stamp(actor, reason)
            note_lines = self._credit_lines(invoice, amount, lines, full)
            sequence, number = self._take_number(
                "credit_note", self.settings().credit_note_number_format, note_id, stamp
            )
            note = credit_invoice(note_id, invoice, note_lines, number, stamp.at.date(), stamp)
            self._save("credit note issued", note, invoice, sequence)
            return number

        return self._retrying("issue credit note", command)

    @staticmethod
    def _credit_lines(
        invoice: Invoice,
        amount: Decimal | None,
        lines: Sequence[dict[str, Any]] | None,
        full: bool,
    ) -> list[InvoiceLine]:
        if full:
            return [line.model_copy(update={"line_id": uuid4()}) for line in invoice.lines.values()]
        if lines is not None:
            return [InvoiceLine.model_validate({"line_id": uuid4(), **line}) for line in lines]
        assert amount is not None
        rates = {line.tax_rate for line in invoice.lines.values()}
        if len(rates) != 1:
            raise InvalidInput(
                f"invoice {invoice.label} has several tax rates: credit it with explicit lines"
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
            for _, event in self._ids_of(CreditNote.Issued):
                if isinstance(event, CreditNote.Issued) and event.number == ref:
                    return self._get(CreditNote, event.originator_id, "credit note")
            try:
                ref = UUID(ref)
            except ValueError:
                raise NotFound(f"unknown credit note {ref!r}") from None
        return self._get(CreditNote, ref, "credit note")

    def credit_notes(self, invoice_ref: str | UUID | None = None) -> list[CreditNote]:
        invoice_id = self.invoice_id(invoice_ref) if invoice_ref is not None else None
        return [
            self._get(CreditNote, event.originator_id, "credit note")
            for _, event in self._ids_of(CreditNote.Issued)
            if isinstance(event, CreditNote.Issued) and invoice_id in (None, event.invoice_id)
        ]

    # ---------------------------------------------------------------- payments

    def record_payment(
        self,
        customer_ref: str | UUID,
        actor: str,
        *,
        amount: Decimal,
        currency: str | None = None,
        received_on: date | None = None,
        method: str = "bank transfer",
        reference: str = "",
        fee: Decimal = Decimal(0),
        status: PaymentStatus = "pending",
        idempotency_key: str | None = None,
    ) -> UUID:
        """Record a payment. The same idempotency key never records a second payment."""
        customer = self.customer(customer_ref)
        if currency is not None and currency.upper() != customer.currency:
            raise CurrencyMismatch(
                f"customer {customer.registered.account_number} is billed in"
                f" {customer.currency}, not {currency.upper()}"
            )
        details = PaymentDetails(
            customer_id=customer.id,
            customer_account=customer.registered.account_number,
            currency=customer.currency,
            amount=amount,
            received_on=received_on or self.today(),
            method=method,
            reference=reference,
            fee=fee,
            idempotency_key=idempotency_key,
        )
        payment_id = payment_id_for_key(idempotency_key) if idempotency_key else uuid4()
        payment = Payment.receive(payment_id, details, status, self.stamp(actor))
        self._create(
            "payment received",
            payment,
            DuplicateIdempotencyKey(
                f"idempotency key {idempotency_key!r} was already used by payment {payment_id}:"
                " nothing new was recorded",
                str(payment_id),
            ),
        )
        return payment.id

    def payment(self, ref: str | UUID) -> Payment:
        """A payment by id or a unique id prefix (6+ characters)."""
        return self._get(Payment, self._payment_id(ref), "payment")

    def _payment_id(self, ref: str | UUID) -> UUID:
        if isinstance(ref, UUID):
            return ref
        try:
            return UUID(ref)
        except ValueError:
            pass
        prefix = ref.lower()
        matches = [
            event.originator_id
            for _, event in self._ids_of(Payment.Received)
            if len(prefix) >= 6 and str(event.originator_id).startswith(prefix)
        ]
        if len(matches) != 1:
            raise NotFound(f"unknown payment {ref!r}")
        return matches[0]

    def payments(self, customer_ref: str | UUID | None = None) -> list[Payment]:
        customer_id = self.customer(customer_ref).id if customer_ref is not None else None
        return [
            self._get(Payment, event.originator_id, "payment")
            for _, event in self._ids_of(Payment.Received)
            if isinstance(event, Payment.Received)
            and customer_id in (None, event.details.customer_id)
        ]

    def _edit_payment(
        self, operation: str, ref: str | UUID, change: Callable[[Payment], None]
    ) -> None:
        def command() -> None:
            payment = self.payment(ref)
            change(payment)
            self._save(operation, payment)

        self._retrying(operation, command)

    def complete_payment(self, ref: str | UUID, actor: str) -> None:
        self._edit_payment("payment completed", ref, lambda p: p.complete(self.stamp(actor)))

    def cancel_payment(self, ref: str | UUID, actor: str, reason: str | None = None) -> None:
        self._edit_payment("payment cancelled", ref, lambda p: p.cancel(self.stamp(actor, reason)))

    def refund_payment(
        self,
        ref: str | UUID,
        amount: Decimal,
        actor: str,
        *,
        method: str = "bank transfer",
        reference: str = "",
        reason: str | None = None,
    ) -> None:
        self._edit_payment(
            "payment refunded",
            ref,
            lambda p: p.refund(amount, method, reference, self.stamp(actor, reason)),
        )

    def allocate(
        self,
        payment_ref: str | UUID,
        allocations: Sequence[tuple[str | UUID, Decimal]],
        actor: str,
        reason: str | None = None,
    ) -> None:
        """Allocate one payment over one or several invoices, all or nothing."""
        if not allocations:
            raise InvalidInput("nothing to allocate")

        def command() -> None:
            payment = self.payment(payment_ref)
            stamp = self.stamp(actor, reason)
            invoices: dict[UUID, Invoice] = {}
            for invoice_ref, amount in allocations:
                invoice_id = self.invoice_id(invoice_ref)
                invoice = invoices.get(invoice_id) or self.invoice(invoice_id)
                invoices[invoice_id] = invoice
                allocation.allocate(payment, invoice, amount, stamp)
            self._save("payment allocated", payment, *invoices.values())

        self._retrying("allocate payment", command)

    def unallocate(
        self,
        payment_ref: str | UUID,
        invoice_ref: str | UUID,
        amount: Decimal,
        actor: str,
        reason: str,
    ) -> None:
        def command() -> None:
            payment = self.payment(payment_ref)
            invoice = self.invoice(invoice_ref)
            allocation.unallocate(payment, invoice, amount, self.stamp(actor, reason))
            self._save("payment unallocated", payment, invoice)

        self._retrying("unallocate payment", command)

    # ------------------------------------------------------------------- audit

    def all_events(self, after: int = 0, page_size: int = 1000) -> Iterator[tuple[int, Event]]:
        """Every event in the log after position ``after``, as (position, event)."""
        start: int | None = after or None
        while True:
            page = self.recorder.select_notifications(
                start, page_size, inclusive_of_start=start is None
            )
            for notification in page:
                event = self.mapper.to_domain_event(notification)
                assert isinstance(event, Event)
                yield notification.id, event
            if len(page) < page_size:
                return
            start = page[-1].id

    def events_of(self, aggregate_id: UUID) -> list[Event]:
        """Every event of one aggregate, oldest first."""
        events = [e for e in self.events.get(aggregate_id) if isinstance(e, Event)]
        if not events:
            raise NotFound(f"no events for {aggregate_id}")
        return events

    def as_of(
        self,
        cls: type[A],
        aggregate_id: UUID,
        *,
        version: int | None = None,
        at: datetime | None = None,
    ) -> A:
        """The aggregate exactly as it stood at a version or a moment."""
        if at is not None and at.tzinfo is None:
            raise InvalidInput("an as-of time needs a time zone (e.g. 2026-11-01T12:00:00Z)")
        state: Any = None
        for event in self.events_of(aggregate_id):
            if version is not None and event.originator_version > version:
                break
            if at is not None and event.timestamp > at:
                break
            state = event.mutate(state)
        if state is None:
            raise NotFound(f"{aggregate_id} did not exist at that {'time' if at else 'version'}")
        if not isinstance(state, cls):
            raise NotFound(f"{aggregate_id} is not a {cls.__name__}")
        return state


def _check_profile(profile: CustomerProfile) -> None:
    from domain.values import grouping, non_empty, tax_rate, time_zone

    non_empty(profile.account_number, what="account number")
    non_empty(profile.name, what="customer name")
    tax_rate(profile.tax_rate)
    time_zone(profile.time_zone)
    if profile.invoice_line_grouping is not None:
        grouping(profile.invoice_line_grouping)
    if profile.payment_terms_days < 0:
        raise InvalidInput("payment terms must not be negative")
