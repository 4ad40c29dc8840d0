"""Customers: who is billed, in which currency, with which tax, terms and line grouping."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Required, TypedDict
from uuid import NAMESPACE_URL, UUID, uuid5
from zoneinfo import ZoneInfo

from domain import limits
from domain.address import PostalAddress, check_address
from domain.aggregate import Aggregate, Created, Event, Stamp
from domain.changes import CustomerChanges
from domain.delivery import DocumentSendFailed, DocumentSent
from domain.dunning import ReminderOffsets, check_offsets
from domain.email_address import check_billing_emails
from domain.errors import (
    AlreadyExists,
    CurrencyMismatch,
    InvalidDate,
    InvalidInput,
    InvalidState,
    NotFound,
)
from domain.invoice_line import InvoiceLine
from domain.line_tax import follow_rate
from domain.pricing import TieredPrice, check_prices
from domain.schedule import InvoiceSchedule
from domain.statement import StatementDelivery, StatementFailure
from domain.tax_treatment import (
    TaxTreatment,
    Treatment,
    check_rate,
    customer_defaults,
    tax_treatment,
)
from domain.values import (
    CurrencyCode,
    Dec,
    Frozen,
    LineGrouping,
    Threshold,
    grouping,
    non_empty,
    time_zone,
)

#: Which event records a change of which field.
_CHANGE_KINDS = {
    "name": "BillingDetailsChanged",
    "billing_address": "BillingDetailsChanged",
    "address": "AddressChanged",
    "tax_number": "BillingDetailsChanged",
    "email": "BillingDetailsChanged",
    "tax_rate": "TaxChanged",
    "tax_description": "TaxChanged",
    "tax_treatment": "TaxChanged",
    "payment_terms_days": "PaymentTermsChanged",
    "invoice_line_grouping": "LineGroupingChanged",
    "external_accounting_id": "AccountingIdChanged",
    "time_zone": "TimeZoneChanged",
    "invoice_schedule": "ScheduleChanged",
    "minimum_spend": "CommitmentChanged",
    "minimum_invoice_amount": "CommitmentChanged",
    "usage_prices": "PricesChanged",
    "auto_apply_credit": "CreditSettingsChanged",
    "low_balance_threshold": "CreditSettingsChanged",
    "reminder_offsets": "RemindersChanged",
}


def customer_id_for(account_number: str) -> UUID:
    """Deterministic id: registering the same account number twice is impossible."""
    return uuid5(NAMESPACE_URL, f"tollbook:customer:{account_number.strip().lower()}")


class CustomerProfile(Frozen):
    """A customer's details as they stand on one day."""

    account_number: str
    name: str
    billing_address: str = ""  # free text, as customers were registered before ``address``
    address: PostalAddress | None = None  # structured; when set, it replaces the free text
    tax_number: str = ""
    email: str = ""
    currency: CurrencyCode
    tax_rate: Dec
    tax_description: str
    payment_terms_days: int
    invoice_line_grouping: LineGrouping | None = None
    external_accounting_id: str = ""
    time_zone: str = "UTC"
    # optional, so customers registered before schedules existed still load
    invoice_schedule: InvoiceSchedule | None = None
    #: a monthly minimum spend on usage: a billing run tops usage up to it
    minimum_spend: Dec = Decimal(0)
    #: below it a period's charges carry forward (None: the account's setting)
    minimum_invoice_amount: Dec | None = None
    #: tiered and volume prices per destination (domain/pricing.py)
    usage_prices: tuple[TieredPrice, ...] = ()
    # standard unless set, so customers registered before treatments existed still load
    tax_treatment: Treatment = TaxTreatment.STANDARD
    # prepaid and credit (docs/money.md#prepaid-and-credit): apply unallocated credit to each
    # invoice as it is issued; and the customer credit below which ``PrepaidBalanceLow`` fires
    auto_apply_credit: bool = False
    low_balance_threshold: Threshold | None = None
    #: dunning (domain/dunning.py): days from an invoice's due date on which a payment
    #: reminder is e-mailed, ascending; empty (the default): no reminders
    reminder_offsets: ReminderOffsets = ()

    @property
    def postal_address(self) -> PostalAddress:
        """The address to print and export: the structured one, else the free text's lines
        (domain/address.py says how the free text maps)."""
        if self.address is not None:
            return self.address
        return PostalAddress.from_free_text(self.billing_address)


class NewCustomer(TypedDict, total=False):
    """A customer's details at registration, as keywords: those of ``CustomerProfile``
    (currency, tax, terms and line grouping default to the seller's settings)."""

    account_number: Required[str]
    name: Required[str]
    billing_address: str
    address: PostalAddress | None
    tax_number: str
    email: str
    currency: str
    tax_rate: Decimal
    tax_description: str
    payment_terms_days: int
    invoice_line_grouping: LineGrouping | None
    external_accounting_id: str
    time_zone: str
    invoice_schedule: InvoiceSchedule | None
    minimum_spend: Decimal
    minimum_invoice_amount: Decimal | None
    usage_prices: tuple[TieredPrice, ...]
    tax_treatment: TaxTreatment
    auto_apply_credit: bool
    low_balance_threshold: Threshold | None
    reminder_offsets: tuple[int, ...]


class Assignment(Frozen):
    """A package assigned to the customer for a date range."""

    assignment_id: UUID
    package_id: UUID
    quantity: Dec
    start_date: date
    end_date: date | None = None

    def active_on(self, day: date) -> bool:
        return self.start_date <= day and (self.end_date is None or day <= self.end_date)


class CarriedCharges(Frozen):
    """A billing period's charges, below the minimum invoice amount, carried forward to the
    customer's next billing-run invoice (``billed_by``, once it has taken them)."""

    invoice_id: UUID
    period_start: date
    period_end: date
    currency: CurrencyCode
    lines: tuple[InvoiceLine, ...]
    total: Dec
    billed_by: UUID | None = None


class Customer(Aggregate):
    """A billed party. Its currency never changes; other details change by dated events."""

    registered: CustomerProfile
    changes: list[tuple[date, dict[str, Any]]]
    assignments: dict[UUID, Assignment]
    carried: dict[UUID, CarriedCharges]  # by the id the period's invoice would have had

    class Registered(Created):
        """A customer was registered with these details."""

        profile: CustomerProfile

        def apply(self, aggregate: Any) -> None:
            aggregate.registered = self.profile
            aggregate.changes = []
            aggregate.assignments = {}
            aggregate.carried = {}

    class DetailsChanged(Event):
        """Base of every change of details: ``before``/``after`` hold the changed fields, in
        force from ``effective_from`` (which may be in the future: a scheduled change)."""

        effective_from: date
        before: dict[str, Any]
        after: dict[str, Any]

        def apply(self, aggregate: Any) -> None:
            aggregate.changes.append((self.effective_from, self.after))
            aggregate.changes.sort(key=lambda change: change[0])

    class BillingDetailsChanged(DetailsChanged):
        """Name, billing address, tax number or e-mail changed."""

    class AddressChanged(DetailsChanged):
        """The structured billing address was set, changed or removed: ``before``/``after``
        hold ``address``, each ``null`` or ``{lines, city, region, postal_code, country}``
        (``country`` an ISO 3166-1 alpha-2 code). While it is ``null`` the free-text
        ``billing_address`` is shown, as its lines."""

        before: dict[str, PostalAddress | None]
        after: dict[str, PostalAddress | None]

    class TaxChanged(DetailsChanged):
        """The tax rate, its description or the tax treatment (``standard``, ``zero_rated``,
        ``exempt``, ``reverse_charge``, ``outside_scope``) changed."""

    class PaymentTermsChanged(DetailsChanged):
        """The payment terms (due days) changed."""

    class LineGroupingChanged(DetailsChanged):
        """The invoice line grouping for usage changed."""

    class AccountingIdChanged(DetailsChanged):
        """The id of the customer in the accounting system changed."""

    class TimeZoneChanged(DetailsChanged):
        """The time zone of the customer's billing periods changed."""

    class ScheduleChanged(DetailsChanged):
        """The automatic invoice schedule was set, changed or removed (``null``)."""

    class CommitmentChanged(DetailsChanged):
        """The monthly minimum spend (``minimum_spend``, a top-up line when usage falls
        short) or the minimum invoice amount (``minimum_invoice_amount``, below it a period's
        charges carry forward; ``null``: the account's setting) changed."""

    class PricesChanged(DetailsChanged):
        """The tiered and volume prices per destination (``usage_prices``: a list of
        ``{destination, mode, tiers: [{first, last, rate}]}``) changed."""

    class CreditSettingsChanged(DetailsChanged):
        """Whether credit is applied to new invoices automatically (``auto_apply_credit``),
        or the low prepaid balance threshold (``low_balance_threshold``, in the customer's
        currency; ``null``: no alert), changed."""

    class RemindersChanged(DetailsChanged):
        """The reminder schedule (``reminder_offsets``: whole days from an invoice's due
        date, ascending, e.g. ``[-7, 0, 7, 14, 30]``; ``[]``: no reminders) changed
        (docs/dunning.md)."""

    class PrepaidBalanceLow(Event):
        """The customer's prepaid balance (its unallocated credit: completed payments less
        what is allocated and refunded) fell below its ``threshold``: recorded once, by the
        command that took it from at or above the threshold to below it (an allocation, a
        refund, a cancelled payment, credit applied to a new invoice)."""

        currency: CurrencyCode
        balance: Dec
        threshold: Dec
        previous_balance: Dec

        def apply(self, aggregate: Any) -> None:
            pass  # a notice for integrators: it changes nothing the customer holds

    class StatementSent(DocumentSent):
        """A statement of account (``period_from``..``period_to``, ``currency``) was e-mailed
        with its PDF and the SMTP server accepted it (docs/statements.md)."""

        period_from: date
        period_to: date
        currency: CurrencyCode

    class StatementSendFailed(DocumentSendFailed):
        """A statement of account's e-mail did not go out: ``error`` is the server's answer
        (sending the same period again tries again, with the same Message-ID)."""

        period_from: date
        period_to: date
        currency: CurrencyCode

    class PackageAssigned(Event):
        """A package was assigned to the customer."""

        assignment: Assignment

        def apply(self, aggregate: Any) -> None:
            aggregate.assignments[self.assignment.assignment_id] = self.assignment

    class PackageAssignmentEnded(Event):
        """A package assignment ends on ``end_date`` (inclusive)."""

        assignment_id: UUID
        end_date: date

        def apply(self, aggregate: Any) -> None:
            old = aggregate.assignments[self.assignment_id]
            aggregate.assignments[self.assignment_id] = old.model_copy(
                update={"end_date": self.end_date}
            )

    class ChargesCarriedForward(Event):
        """A billing run did not issue the period's invoice (``invoice_id``, never created):
        its ``total`` was below the minimum invoice amount. Its ``lines`` go on the
        customer's next billing-run invoice instead (``CarriedChargesBilled``)."""

        carried: CarriedCharges

        def apply(self, aggregate: Any) -> None:
            aggregate.carried[self.carried.invoice_id] = self.carried

    class CarriedChargesBilled(Event):
        """Invoice ``invoice_id`` took the charges carried forward from the periods whose
        invoices would have been ``carried`` (saved together with that invoice)."""

        invoice_id: UUID
        carried: tuple[UUID, ...]

        def apply(self, aggregate: Any) -> None:
            for carried_id in self.carried:
                old = aggregate.carried[carried_id]
                aggregate.carried[carried_id] = old.model_copy(
                    update={"billed_by": self.invoice_id}
                )

    @classmethod
    def register(cls, profile: CustomerProfile, stamp: Stamp) -> Customer:
        return cls._start(
            cls.Registered, customer_id_for(profile.account_number), stamp, profile=profile
        )

    def statement_send_state(self, send_id: UUID) -> str | None:
        """``sent``, ``failed`` or None (never attempted) for one statement send request."""
        sends: dict[UUID, str] = getattr(self, "sends", {})
        return sends.get(send_id)

    def record_statement_sent(self, sent: StatementDelivery, stamp: Stamp) -> bool:
        """Record an accepted statement e-mail; False (nothing recorded) when already so."""
        if self.statement_send_state(sent.delivery.send_id) == "sent":
            return False
        self._trigger(
            self.StatementSent, stamp, **sent.delivery.model_dump(), **sent.period.model_dump()
        )
        return True

    def record_statement_send_failed(self, failed: StatementFailure, stamp: Stamp) -> None:
        delivery = failed.delivery
        if self.statement_send_state(delivery.send_id) == "sent":
            raise InvalidState(f"statement send {delivery.send_id} already succeeded")
        self._trigger(
            self.StatementSendFailed,
            stamp,
            send_id=delivery.send_id,
            recipients=delivery.recipients,
            message_id=delivery.message_id,
            attempt=failed.attempt,
            error=failed.error[: limits.REASON.max_length],
            retry_at=failed.retry_at,
            **failed.period.model_dump(),
        )

    def profile_on(self, day: date) -> CustomerProfile:
        """The details in force on ``day`` (changes apply in effective-date order)."""
        merged = self.registered.model_dump(mode="json")
        for effective_from, after in self.changes:
            if effective_from <= day:
                merged.update(after)
        return CustomerProfile.model_validate(merged)

    def today_at(self, now: datetime) -> date:
        """The customer's own calendar day at the moment ``now``: in the time zone of its
        profile on ``now``'s UTC day (the zone is a dated detail like any other, and the UTC
        day is the one every customer shares). InvalidInput when the stored zone is unknown
        to this machine's tz database (written when it was known, since removed)."""
        zone = self.profile_on(now.astimezone(UTC).date()).time_zone
        return now.astimezone(ZoneInfo(time_zone(zone))).date()

    @property
    def latest(self) -> CustomerProfile:
        return self.profile_on(date.max)

    @property
    def currency(self) -> str:
        return self.registered.currency

    def change(self, changes: CustomerChanges, effective_from: date, stamp: Stamp) -> None:
        limits.check_date(effective_from, what="effective date", field="effective_from")
        current = self.profile_on(effective_from)
        given = changes.given()
        if "tax_treatment" in given:
            # a treatment without VAT takes 0 % unless the change says otherwise (then the
            # rate is checked against it below)
            given = {**customer_defaults(given["tax_treatment"]), **given}
        given = follow_rate(
            given,
            base_rate=current.tax_rate,
            base_description=current.tax_description,
            treatment=tax_treatment(given.get("tax_treatment", current.tax_treatment)),
        )
        updated = CustomerProfile.model_validate({**current.model_dump(mode="json"), **given})
        old = current.model_dump(mode="json")
        new = updated.model_dump(mode="json")
        changed = [key for key in new if new[key] != old[key]]
        if not changed:
            return
        # only what changes: a value stored before the limits existed does not block the rest
        check_profile(updated, changed)
        for kind in dict.fromkeys(_CHANGE_KINDS[key] for key in changed):
            fields = [key for key in changed if _CHANGE_KINDS[key] == kind]
            self._trigger(
                getattr(self, kind),
                stamp,
                effective_from=effective_from,
                before={key: old[key] for key in fields},
                after={key: new[key] for key in fields},
            )

    def watch_prepaid_balance(self, before: Decimal, after: Decimal, stamp: Stamp) -> bool:
        """Record ``PrepaidBalanceLow`` when a change took the customer's credit from
        ``before`` (at or above its threshold) to ``after`` (below it); True if it did."""
        setting = self.profile_on(stamp.at.date()).low_balance_threshold
        if setting is None or not (before >= setting.amount > after):
            return False
        threshold = setting.amount
        self._trigger(
            self.PrepaidBalanceLow,
            stamp,
            currency=self.currency,
            balance=after,
            threshold=threshold,
            previous_balance=before,
        )
        return True

    def assign_package(
        self,
        assignment_id: UUID,
        package_id: UUID,
        quantity: Decimal,
        start_date: date,
        end_date: date | None,
        stamp: Stamp,
    ) -> None:
        limits.check_quantity(quantity)
        limits.check_date(start_date, what="start date", field="start_date")
        limits.check_optional_date(end_date, what="end date", field="end_date")
        if end_date is not None and end_date < start_date:
            raise InvalidDate("an assignment cannot end before it starts", field="end_date")
        limits.check_count(
            len(self.assignments) + 1,
            limits.MAX_ASSIGNMENTS,
            what="package assignments per customer",
        )
        assignment = Assignment(
            assignment_id=assignment_id,
            package_id=package_id,
            quantity=quantity,
            start_date=start_date,
            end_date=end_date,
        )
        self._trigger(self.PackageAssigned, stamp, assignment=assignment)

    def carry_forward(self, carried: CarriedCharges, stamp: Stamp) -> None:
        """Record a period's charges as carried forward (once per period's invoice id)."""
        if carried.invoice_id in self.carried:
            raise AlreadyExists(f"the charges of invoice {carried.invoice_id} are already carried")
        if carried.billed_by is not None or not carried.lines:
            raise InvalidInput("carried charges are lines not billed yet")
        limits.check_count(len(carried.lines), limits.MAX_LINES, what="lines carried forward")
        self._trigger(self.ChargesCarriedForward, stamp, carried=carried)

    def bill_carried(self, invoice_id: UUID, carried: tuple[UUID, ...], stamp: Stamp) -> None:
        """Record that ``invoice_id`` bills the ``carried`` charges: each only once."""
        for carried_id in carried:
            found = self.carried.get(carried_id)
            if found is None:
                raise NotFound(f"no charges carried forward from invoice {carried_id}")
            if found.billed_by is not None:
                raise InvalidState(
                    f"the charges carried from {carried_id} are already billed by {found.billed_by}"
                )
        self._trigger(self.CarriedChargesBilled, stamp, invoice_id=invoice_id, carried=carried)

    @property
    def pending_carried(self) -> list[CarriedCharges]:
        """Charges carried forward that no invoice has taken yet, oldest first."""
        return sorted(
            (c for c in self.carried.values() if c.billed_by is None),
            key=lambda c: (c.period_start, str(c.invoice_id)),
        )

    def end_assignment(self, assignment_id: UUID, end_date: date, stamp: Stamp) -> None:
        assignment = self.assignments.get(assignment_id)
        if assignment is None:
            raise NotFound(f"no package assignment {assignment_id} on this customer")
        limits.check_date(end_date, what="end date", field="end_date")
        if end_date < assignment.start_date:
            raise InvalidDate("an assignment cannot end before it starts", field="end_date")
        if assignment.end_date is not None and assignment.end_date < end_date:
            raise InvalidState(f"assignment already ended on {assignment.end_date}")
        self._trigger(
            self.PackageAssignmentEnded, stamp, assignment_id=assignment_id, end_date=end_date
        )


_PROFILE_TEXT = {
    "billing_address": limits.BILLING_ADDRESS,
    "tax_number": limits.TAX_NUMBER,
    "tax_description": limits.TAX_DESCRIPTION,
    "external_accounting_id": limits.EXTERNAL_ID,
}


def check_profile(profile: CustomerProfile, fields: Iterable[str] | None = None) -> None:
    """Every field of a new profile (or only ``fields``, the changed ones) within the limits."""
    names = set(CustomerProfile.model_fields if fields is None else fields)
    if "account_number" in names:
        non_empty(profile.account_number, what="account number", field="account_number")
        limits.check_text(profile.account_number, limits.ACCOUNT_NUMBER, field="account_number")
    if "name" in names:
        non_empty(profile.name, what="customer name", field="name")
        limits.check_text(profile.name, limits.CUSTOMER_NAME, field="name")
    for name, rule in _PROFILE_TEXT.items():
        if name in names:
            limits.check_text(getattr(profile, name), rule, field=name)
    if "email" in names:
        check_billing_emails(profile.email)
    if "address" in names and profile.address is not None:
        check_address(profile.address)
    if "tax_rate" in names:
        limits.check_tax_rate(profile.tax_rate)
    if names & {"tax_rate", "tax_treatment"}:
        check_rate(profile.tax_treatment, profile.tax_rate)
    if "payment_terms_days" in names:
        limits.check_days(profile.payment_terms_days)
    if "time_zone" in names:
        time_zone(profile.time_zone)
    if "invoice_line_grouping" in names and profile.invoice_line_grouping is not None:
        grouping(profile.invoice_line_grouping)
    if "minimum_spend" in names:
        check_minimum(profile.minimum_spend, profile.currency, "minimum spend", "minimum_spend")
    if "minimum_invoice_amount" in names and profile.minimum_invoice_amount is not None:
        check_minimum(
            profile.minimum_invoice_amount,
            profile.currency,
            "minimum invoice amount",
            "minimum_invoice_amount",
        )
    if "usage_prices" in names:
        check_prices(profile.usage_prices, profile.currency)
    threshold = profile.low_balance_threshold
    if "low_balance_threshold" in names and threshold is not None:
        if threshold.currency != profile.currency:
            raise CurrencyMismatch(
                f"low balance threshold is in {threshold.currency}, customer"
                f" {profile.account_number} is billed in {profile.currency}",
                field="low_balance_threshold",
            )
        limits.check_threshold(threshold.amount, profile.currency)
    if "reminder_offsets" in names:
        check_offsets(profile.reminder_offsets)


def check_minimum(value: Decimal, currency: str, what: str, field: str) -> Decimal:
    """A minimum (spend, invoice amount): money in ``currency``, zero (none) or more."""
    if value < 0:
        raise InvalidInput(f"{what} must not be negative, got {limits.shown(value)}", field=field)
    return limits.check_money(value, currency, what=what, field=field)
