"""The billing run: one draft invoice per customer and period, idempotent by construction.

For each customer with usage or an active package in the period, the run plans the invoice
(package charges + usage lines summed in SQL) and creates it with a deterministic id and all
its lines in ONE save. A second run, or a run restarted after a crash, finds the invoices that
exist and creates only the missing ones. CDRs imported after a customer was invoiced ("late")
are reported, and billed as a supplementary invoice on request.

One customer's invoice that breaks the ledger's limits (a usage total or package charge
beyond the money limit, too many lines, ...) is ``refused``: the run bills every other
customer, reports the refused one with the domain's code and message, and logs it. Its
invoice does not exist, so a run after the cause is put right bills it, once (the invoice id
is still deterministic).
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import InitVar, dataclass, field, replace
from datetime import date
from decimal import Decimal
from functools import partial
from typing import Any, Literal, TypeVar
from uuid import UUID

import structlog

from adapters import metrics
from adapters.ledger.application import Ledger
from adapters.queries import every_customer
from adapters.queries.billed import BilledLine, billed_elsewhere
from adapters.store.database import Database
from adapters.store.lookup import load_aggregates
from adapters.usage.gc_threshold import fewer_collections
from adapters.usage.generations import MAX_GENERATIONS
from adapters.usage.schema import ensure_schema, last_batch
from domain.customer import Customer
from domain.errors import (
    AlreadyExists,
    BillingError,
    ConcurrencyConflict,
    InvalidInput,
    NotFound,
)
from domain.invoice import Invoice
from domain.invoice_line import InvoiceLine, Totals, totals_of
from domain.money import TaxRounding
from domain.package import PackageTerms
from domain.pricing import TieredPrice
from domain.same_charge import names_charge
from domain.settings import SellerSettings
from domain.usage import (
    MICROS,
    Period,
    UsageScope,
    UsageTotal,
    active_days,
    carried_lines,
    commitment,
    covered_batch,
    day_boundaries,
    invoice_id_for,
    package_lines,
    top_up_line,
    usage_lines,
    utc_window,
)
from domain.values import LineGrouping

log = structlog.get_logger("tollbook.billing")
T = TypeVar("T")

#: New invoices saved per transaction: fewer commits, and a crash still loses whole batches.
SAVE_BATCH = 50

Action = Literal[
    "created",
    "exists",
    "would create",
    "refused",
    "skipped",
    "carried forward",
    "would carry forward",
]
Kind = Literal["invoice", "supplementary"]


@dataclass(frozen=True, slots=True)
class _Figures:
    """What the report shows of a saved invoice's lines, kept once the lines are let go."""

    count: int
    net: Decimal
    tax: Decimal
    total: Decimal


def _figures_of(lines: list[InvoiceLine], currency: str, rounding: TaxRounding) -> _Figures:
    totals = totals_of(lines, currency, rounding)
    return _Figures(len(lines), totals.net, totals.tax, totals.total)


@dataclass
class InvoiceResult:
    """What the run did (or, in a dry run, would do) for one invoice of one customer.

    Once the run has saved (or refused) an invoice, its result keeps the figures the report
    shows (``line_count``, ``net``, ``tax``, ``total``) and lets the lines go: a run over
    thousands of customers would otherwise hold every invoice's lines to its end. ``lines``
    then reads them back from the ledger on request (the invoice, or the charges carried
    forward, as stored now). A dry run saves nothing: its results keep their lines."""

    account: str
    invoice_id: UUID
    kind: Kind
    action: Action
    currency: str
    planned_lines: InitVar[list[InvoiceLine]]
    number: str | None = None
    state: str = "draft"
    late_calls: int = 0
    late_amount: Decimal = Decimal(0)
    code: str | None = None  # refused: the domain's error code (out_of_range, ...)
    replaces: UUID | None = None  # the voided invoice of the period this one bills again
    # lines of other invoices that already bill part of what this one would: left off this
    # invoice (``skipped`` when nothing else is left), or billed anyway with ``allow_overlap``
    overlaps: list[BilledLine] = field(default_factory=list)
    overlap_billed: bool = False
    reason: str | None = None  # refused: the domain's message
    # the invoices (never created) whose charges, carried forward, this one takes
    takes: tuple[UUID, ...] = ()
    period: Period | None = None  # carried forward: the period (reported, and recorded)
    # the figures of ``planned_lines`` when the planner worked them out already
    planned_figures: InitVar[_Figures | None] = None
    # the seller's tax rounding the invoice is drafted and issued in: its totals' (and so the
    # report's, and the minimum charge's) mode, not always per line
    rounding: TaxRounding = "per_line"
    # the lines until the result is settled; then None, the figures kept and a way to read
    # the lines back
    _lines: list[InvoiceLine] | None = field(init=False, repr=False, compare=False)
    _figures: _Figures | None = field(init=False, repr=False, compare=False)
    _read_back: Callable[[], list[InvoiceLine]] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def __post_init__(
        self, planned_lines: list[InvoiceLine], planned_figures: _Figures | None
    ) -> None:
        self._lines, self._figures = planned_lines, planned_figures

    @property
    def lines(self) -> list[InvoiceLine]:
        """The invoice's lines: as planned, or (settled) read back from the ledger."""
        if self._lines is not None:
            return self._lines
        # read afresh at each call, never kept: keeping them is what settling avoids
        return [] if self._read_back is None else self._read_back()

    @property
    def line_count(self) -> int:
        return len(self.lines) if self._figures is None else self._figures.count

    def settle(self, read_back: Callable[[], list[InvoiceLine]]) -> None:
        """Saved (or refused): keep the report's figures, let the lines go; ``read_back``
        reads them from where they were saved."""
        if self._lines:  # none (refused, skipped): nothing to let go
            self._figures = self._totals()
            self._lines, self._read_back = None, read_back

    def refuse(self, error: InvalidInput) -> None:
        """The ledger refused this invoice: nothing of it is written (or shown as a total)."""
        self.action, self.code, self.reason = "refused", error.code, str(error)
        self._lines, self._figures, self._read_back = [], None, None
        log.error(
            "billing run refused an invoice",
            aggregate_id=str(self.invoice_id),
            account=self.account,
            kind=self.kind,
            code=self.code,
            reason=self.reason,
        )

    def refuse_issue(self, error: BillingError) -> None:
        """The draft was saved but the ledger refused to issue it: it stays a draft (its lines
        and totals shown), reported as refused with the reason, for a person to put right."""
        self.action, self.code, self.reason = "refused", error.code, str(error)
        log.error(
            "billing run could not issue an invoice",
            aggregate_id=str(self.invoice_id),
            account=self.account,
            code=self.code,
            reason=self.reason,
        )

    def _totals(self) -> _Figures:
        if self._figures is None:
            return _figures_of(self.lines, self.currency, self.rounding)
        return self._figures

    @property
    def net(self) -> Decimal:
        return self._totals().net

    @property
    def tax(self) -> Decimal:
        return self._totals().tax

    @property
    def total(self) -> Decimal:
        return self._totals().total

    def as_dict(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "invoice_id": str(self.invoice_id),
            "kind": self.kind,
            "action": self.action,
            "state": self.state,
            "number": self.number,
            "currency": self.currency,
            "lines": self.line_count,
            "net": str(self.net),
            "total": str(self.total),
            "late_calls": self.late_calls,
            "late_amount": str(self.late_amount),
            "code": self.code,
            "reason": self.reason,
            "takes_carried": [str(carried) for carried in self.takes],
            "replaces": None if self.replaces is None else str(self.replaces),
            "overlaps": [line.as_dict() for line in self.overlaps],
            "overlap_billed": self.overlap_billed,
        }


@dataclass
class BillingReport:
    period: Period
    through_batch: int
    dry_run: bool
    results: list[InvoiceResult] = field(default_factory=list)

    def count(self, action: Action) -> int:
        return sum(result.action == action for result in self.results)

    @property
    def refused(self) -> list[InvoiceResult]:
        return [result for result in self.results if result.action == "refused"]

    @property
    def overlapping(self) -> list[InvoiceResult]:
        """The invoices that met another invoice billing part of the same period."""
        return [result for result in self.results if result.overlaps]

    @property
    def late_calls(self) -> int:
        return sum(result.late_calls for result in self.results)


@dataclass(frozen=True)
class _Target:
    """A customer to bill, with what the run needs of it worked out once."""

    customer: Customer
    zone: str
    grouping: LineGrouping
    invoice_id: UUID  # of the period's (main) invoice
    prices: Mapping[str, TieredPrice]  # tiered prices by destination
    minimum_invoice: Decimal | None  # the customer's own, else None (the account's)
    minimum_spend: Decimal  # the customer's monthly commitment (packages add theirs)
    replaces: UUID | None = None  # the voided main invoice this one bills the period again for

    @property
    def account(self) -> str:
        return self.customer.registered.account_number


def _target(customer: Customer, period: Period, default: LineGrouping) -> _Target:
    profile = customer.profile_on(period.end)
    prices = {price.destination: price for price in profile.usage_prices}
    # tiers price a destination's minutes over the period: its usage is summed by destination
    grouping = "destination" if prices else profile.invoice_line_grouping or default
    return _Target(
        customer,
        profile.time_zone,
        grouping,
        invoice_id_for(customer.id, period),
        prices,
        profile.minimum_invoice_amount,
        profile.minimum_spend,
    )


def run_billing(
    ledger: Ledger,
    db: Database,
    period: Period,
    *,
    customers: Sequence[str] = (),
    dry_run: bool = False,
    issue: bool = False,
    bill_late: bool = False,
    actor: str = "billing-run",
    on_invoice: Callable[[InvoiceResult], None] | None = None,
    save_batch: int = SAVE_BATCH,
    allow_overlap: bool = False,
    ledger_db: Database | None = None,
) -> BillingReport:
    """Bill ``period`` for every customer (or those named) with usage or active packages.

    ``db`` holds the usage; ``ledger_db`` the ledger's events, when they live apart (usage on
    a node of its own, ``TOLLBOOK_USAGE_DATABASE_URL``; default: ``db``). The run only reads
    the usage: no transaction spans the two, and deterministic invoice ids make a run
    repeated after a crash create only what is missing.

    The scheduler calls this; ``on_invoice`` is told about each invoice as the run goes.
    New invoices are saved ``save_batch`` at a time, each batch in one transaction.

    A package (or setup) line of a package, or the usage, that another invoice of the
    customer (not void) already bills for part of the period is reported in the result's
    ``overlaps`` and left off the new invoice, unless ``allow_overlap``.
    """
    pooled = db.pooled()  # one connection for the run's reads, not one each
    events = pooled if ledger_db is None or ledger_db == db else ledger_db
    try:
        with (
            metrics.timed(metrics.BILLING_RUN_DURATION, dry_run=str(dry_run).lower()),
            fewer_collections(),
        ):
            report = _run(
                ledger,
                pooled,
                period,
                customers,
                dry_run,
                issue,
                bill_late,
                actor,
                on_invoice,
                save_batch,
                allow_overlap,
                events,
            )
    finally:
        if pooled is not db:
            pooled.close()
    for result in report.results:
        metrics.BILLING_RUN_INVOICES.labels(action=result.action).inc()
    return report


def _run(
    ledger: Ledger,
    db: Database,
    period: Period,
    customers: Sequence[str],
    dry_run: bool,
    issue: bool,
    bill_late: bool,
    actor: str,
    on_invoice: Callable[[InvoiceResult], None] | None,
    save_batch: int,
    allow_overlap: bool,
    ledger_db: Database,
) -> BillingReport:
    ensure_schema(db)
    if not dry_run:
        analyse_if_stale(db)
    settings = ledger.settings()  # once a run: every invoice is drafted under the same
    with db.connect() as conn:
        through = last_batch(conn)
    report = BillingReport(period, through, dry_run)
    grouping = settings.invoice_line_grouping
    targets = [_target(c, period, grouping) for c in _customers(ledger, customers)]
    planner = _Planner(ledger, db, period, through, allow_overlap, ledger_db, settings)
    targets = planner.look_up(targets)
    # The usage sums are one pass over the CDRs, run on a thread of its own as soon as the
    # run knows which customers have no invoice yet, while this one reads what else the
    # plans need (other invoices' lines of the period, late usage) and works out the new
    # invoices' package lines and tax terms. Saving runs on another thread, a batch at a
    # time, while the next batch is planned (see _Saver). Planning is Python on one core;
    # summing and saving are mostly the database's work.
    # Customers are summed and planned TARGETS_PER_QUERY at a time (one pass over the CDRs
    # each, as the sums always were): a chunk's sums are held until its customers are
    # planned, the next chunk summed meanwhile, so a run holds two chunks' sums at most.
    groups = list(_chunks(targets, TARGETS_PER_QUERY))
    pending: list[InvoiceResult] = []
    with (
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="usage-sums") as sums,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="billing-saves") as saves,
    ):
        saver = _Saver(
            ledger, period, actor, targets, issue, dry_run, report, on_invoice, saves, settings
        )

        def summing(group: list[_Target]) -> Future[dict[str, list[UsageTotal]]]:
            new = [t for t in group if planner.existing(t) is None]
            return sums.submit(planner.usage_totals, new)

        summed = [summing(groups[0])] if groups else []
        try:
            planner.find_overlaps(targets)
            late = planner.late_usage([t for t in targets if planner.existing(t) is not None])
            for number, group in enumerate(groups):
                for target in group:  # while the database sums
                    with contextlib.suppress(InvalidInput):  # planned (and refused) below
                        planner.prepare(target)
                totals = summed.pop().result()
                if number + 1 < len(groups):
                    summed.append(summing(groups[number + 1]))
                for target in group:  # each customer once (_customers)
                    try:
                        pending.extend(planner.plan(target, totals, late, bill_late))
                    except InvalidInput as error:
                        pending.append(planner.refused(target, error))
                    totals.pop(target.account, None)  # planned: its sums are not read again
                    if len(pending) >= save_batch:
                        saver.save(pending)
                        pending = []
            saver.save(pending)
        finally:  # also when planning failed: the batch being saved is completed and reported
            saver.finish()
    # the report lists customers in the order they were read
    order = {t.account: n for n, t in enumerate(targets)}
    report.results.sort(key=lambda result: order[result.account])
    return report


def analyse_if_stale(db: Database) -> bool:
    """PostgreSQL: gather the usage table's planner statistics when it has none or a tenth
    of its rows changed since they were gathered (an import just now; autovacuum gets there
    later, and never to a partitioned table's parent). Without them the planner guesses,
    and a billing run's sums may sort every CDR instead of hashing them. True if it did."""
    if db.dialect != "postgres":
        return False
    with db.connect() as conn:
        stale = conn.execute(
            "WITH tables (relid) AS (SELECT 'usage_cdrs'::regclass UNION"
            " SELECT relid FROM pg_partition_tree('usage_cdrs') WHERE isleaf)"
            " SELECT COALESCE(bool_or(c.relkind = 'r' AND pg_relation_size(c.oid) > 0"
            " AND NOT EXISTS (SELECT 1 FROM pg_stats p WHERE p.schemaname = n.nspname"
            " AND p.tablename = c.relname) OR COALESCE(s.n_mod_since_analyze"
            " > GREATEST(s.n_live_tup, 1000) / 10, false)), false)"
            " FROM tables t JOIN pg_class c ON c.oid = t.relid"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " LEFT JOIN pg_stat_user_tables s ON s.relid = t.relid"
        ).fetchone()[0]
        if stale:
            log.info("analysing usage_cdrs before the billing run")
            conn.execute("ANALYZE usage_cdrs")
    return bool(stale)


class _Saver:
    """Saves a run's planned invoices a batch at a time, each batch in one transaction, on
    the ``saves`` thread, so the next batch is planned while the database writes this one.
    The new invoices of a batch are drafted on the caller's thread before it goes to the
    saves thread: drafting is Python, which runs one thread at a time, while the saves
    thread mostly waits for the database; drafted there, the next batch's planning waited
    for it.

    A batch is finished (issued with ``issue``, added to the report, told to ``on_invoice``)
    before the next batch is saved, as when saving was sequential: a run stopped by an
    exception in ``on_invoice`` has saved no batch after the one it was telling about."""

    def __init__(
        self,
        ledger: Ledger,
        period: Period,
        actor: str,
        targets: Sequence[_Target],
        issue: bool,
        dry_run: bool,
        report: BillingReport,
        on_invoice: Callable[[InvoiceResult], None] | None,
        saves: ThreadPoolExecutor,
        settings: SellerSettings,
    ) -> None:
        self.ledger, self.period, self.actor = ledger, period, actor
        self.settings = settings
        self.customers = {t.account: t.customer for t in targets}
        self.issue, self.dry_run, self.report, self.on_invoice = issue, dry_run, report, on_invoice
        self.saves = saves
        self.batch: list[InvoiceResult] = []
        self.saving: Future[None] | None = None

    def save(self, batch: list[InvoiceResult]) -> None:
        """Start saving ``batch`` once the batch before it is finished."""
        self.finish()
        self.batch = batch
        planned = [r for r in batch if r.action in ("would create", "would carry forward")]
        if planned and self.dry_run:  # what the real run would refuse, found the same way
            new = [r for r in planned if r.action == "would create"]
            _drafts(self.ledger, new, self.period, self.actor, self.customers, self.settings)
        elif planned:
            drafted = _new_drafts(
                self.ledger, planned, self.period, self.actor, self.customers, self.settings
            )
            # the caller's context (log bindings, expected versions) goes with the save
            context = contextvars.copy_context()
            self.saving = self.saves.submit(context.run, self._create, planned, drafted)

    def _create(self, planned: list[InvoiceResult], drafted: list[Invoice]) -> None:
        _create(
            self.ledger, planned, self.period, self.actor, self.customers, self.settings, drafted
        )

    def finish(self) -> None:
        """Wait for the batch being saved (a failed save raises here), issue it, report it."""
        saving, batch = self.saving, self.batch
        self.saving, self.batch = None, []
        if saving is not None:
            saving.result()
        if self.issue and not self.dry_run:
            for result in batch:
                # a carried-forward period has no invoice to issue
                if result.state == "draft" and result.action in ("created", "exists"):
                    try:
                        result.number = self.ledger.issue_invoice(result.invoice_id, self.actor)
                    except BillingError as error:
                        # the draft is saved; only its issue was refused: the run goes on
                        result.refuse_issue(error)
                        continue
                    result.state = "issued"
                    # issued in the seller's rounding now: a draft of an earlier run may have
                    # been opened in another, and its totals are the issued invoice's
                    result.rounding = self.settings.tax_rounding
        self.report.results.extend(batch)
        for result in batch:
            if self.on_invoice:
                self.on_invoice(result)
        if not self.dry_run:  # a dry run's lines are its listing (nothing to read back)
            for result in batch:
                result.settle(_read_back(self.ledger, result))


def _read_back(ledger: Ledger, result: InvoiceResult) -> Callable[[], list[InvoiceLine]]:
    """Where a settled result's lines are read back from: the charges carried forward, or
    the invoice (created, already there, or saved and refused its issue)."""
    if result.action == "carried forward":
        return partial(_carried_lines, ledger, result.account, result.invoice_id)
    return partial(_invoice_lines, ledger, result.invoice_id)


def _invoice_lines(ledger: Ledger, invoice_id: UUID) -> list[InvoiceLine]:
    return list(ledger.invoice(invoice_id).lines.values())


def _carried_lines(ledger: Ledger, account: str, invoice_id: UUID) -> list[InvoiceLine]:
    return list(ledger.customer(account).carried[invoice_id].lines)


def _customers(ledger: Ledger, accounts: Sequence[str]) -> list[Customer]:
    if accounts:
        # once each however often (or by account or id) named: a customer twice among one
        # query's targets had each of its CDRs summed twice
        found = [ledger.customer(account) for account in accounts]
        return list({customer.id: customer for customer in found}.values())
    return every_customer(ledger)


class _Planner:
    """Works out each customer's invoice; reads only (events and the usage table, which
    may be in two databases)."""

    def __init__(
        self,
        ledger: Ledger,
        db: Database,
        period: Period,
        through: int,
        allow_overlap: bool,
        ledger_db: Database,
        settings: SellerSettings,
    ) -> None:
        self.ledger, self.db, self.period, self.through = ledger, db, period, through
        self.ledger_db = ledger_db  # where the events are: the usage may live apart
        self.allow_overlap = allow_overlap
        self._elsewhere: dict[UUID, list[BilledLine]] = {}
        self._packages: dict[UUID, PackageTerms] = {}
        self._existing: dict[UUID, Invoice | None] = {}
        # account -> (tax rate, tax text, package lines, commitment) of a new invoice
        self._prepared: dict[str, tuple[Decimal, str, list[InvoiceLine], Decimal]] = {}
        self.minimum_invoice = settings.minimum_invoice_amount
        self.rounding = settings.tax_rounding  # what the run's drafts are made in

    def existing(self, target: _Target) -> Invoice | None:
        return self._invoice(target.invoice_id)

    def look_up(self, targets: Sequence[_Target]) -> list[_Target]:
        """Read the targets' invoices for the period (and their first supplementary ones)
        200 per query, not one read per customer: a first run finds none of them, a second
        run all. A target whose main invoice is void bills the period again: it is returned
        aimed at the next generation's id (``invoice_id_for(..., replaces=)``), followed
        along the chain of voids until an invoice that is not void, or none."""
        self._load([t.invoice_id for t in targets])
        targets = list(targets)
        for _ in range(MAX_GENERATIONS):
            voided = [n for n, t in enumerate(targets) if self._is_void(t.invoice_id)]
            if not voided:
                break
            for n in voided:
                target = targets[n]
                targets[n] = replace(
                    target,
                    invoice_id=invoice_id_for(
                        target.customer.id, self.period, replaces=target.invoice_id
                    ),
                    replaces=target.invoice_id,
                )
            self._load([targets[n].invoice_id for n in voided])
        self._load(
            [
                invoice_id_for(
                    t.customer.id, self.period, covered_batch(main.lines.values()), t.replaces
                )
                for t in targets
                if (main := self._existing[t.invoice_id]) is not None
            ]
        )
        return targets

    def find_overlaps(self, targets: Sequence[_Target]) -> None:
        """What other invoices bill of the period, for every target with no invoice of it
        yet (one read-model query per 500 customers)."""
        new = [t for t in targets if self.existing(t) is None]
        own = {t.invoice_id for t in new}
        self._elsewhere = billed_elsewhere(
            self.ledger, [t.customer.id for t in new], self.period, own
        )

    def _without_overlaps(
        self, target: _Target, lines: list[InvoiceLine]
    ) -> tuple[list[InvoiceLine], list[BilledLine]]:
        """The lines no other invoice bills yet (all of them with ``allow_overlap``), and
        the other invoices' lines that overlap any of them."""
        elsewhere = self._elsewhere.get(target.customer.id, [])
        if not elsewhere:
            return lines, []
        kept: list[InvoiceLine] = []
        overlaps: dict[tuple[UUID, str, date], BilledLine] = {}
        for line in lines:
            name = None if line.package_id is None else self._terms(line.package_id).name
            clashes = [other for other in elsewhere if _clash(line, other, name)]
            for other in clashes:
                overlaps[(other.invoice_id, str(other.package_id), other.period_start)] = other
            if not clashes or self.allow_overlap:
                kept.append(line)
        return kept, list(overlaps.values())

    def _is_void(self, invoice_id: UUID) -> bool:
        invoice = self._existing.get(invoice_id)
        return invoice is not None and invoice.state == "void"

    def _load(self, invoice_ids: Sequence[UUID]) -> None:
        found = load_aggregates(self.ledger, self.ledger_db, invoice_ids)
        for invoice_id in invoice_ids:
            invoice = found.get(invoice_id)
            # an id of another kind of aggregate is the repository's "not an invoice" too
            self._existing.setdefault(invoice_id, invoice if isinstance(invoice, Invoice) else None)

    def _invoice(self, invoice_id: UUID) -> Invoice | None:
        if invoice_id not in self._existing:
            try:
                self._existing[invoice_id] = self.ledger.invoice(invoice_id)
            except NotFound:
                self._existing[invoice_id] = None
        return self._existing[invoice_id]

    def _terms(self, package_id: UUID) -> PackageTerms:
        if package_id not in self._packages:
            self._packages[package_id] = self.ledger.package(package_id).terms
        return self._packages[package_id]

    # --------------------------------------------------------------- planning

    def prepare(self, target: _Target) -> None:
        """Work out what a new invoice needs besides the usage sums (tax terms, package
        lines), so it can be done while the database is still summing."""
        if target.account in self._prepared or self._invoice(target.invoice_id) is not None:
            return
        profile = target.customer.profile_on(self.ledger.today())
        assignments = list(target.customer.assignments.values())
        terms = {a.package_id: self._terms(a.package_id) for a in assignments}
        lines = package_lines(
            target.invoice_id,
            self.period,
            assignments,
            terms,
            profile.tax_rate,
            profile.tax_description,
            profile.tax_treatment,
        )
        committed = commitment(
            self.period,
            target.minimum_spend,
            [a for a in assignments if active_days(a, self.period.start, self.period.end)],
            terms,
            target.customer.currency,
        )
        self._prepared[target.account] = (
            profile.tax_rate,
            profile.tax_description,
            lines,
            committed,
        )

    def refused(self, target: _Target, error: InvalidInput) -> InvoiceResult:
        """The customer's invoice, refused: planning it broke one of the ledger's limits."""
        result = self._result(target, target.invoice_id, "invoice", [])
        result.refuse(error)
        return result

    def plan(
        self,
        target: _Target,
        totals: dict[str, list[UsageTotal]],
        late: dict[str, tuple[int, int]],
        bill_late: bool,
    ) -> list[InvoiceResult]:
        main_id = target.invoice_id
        if self._invoice(main_id) is None:
            return self._new(target, totals.get(target.account, []))
        calls, micros = late.get(target.account, (0, 0))
        return self._late(target, calls, micros, bill_late)

    def _new(self, target: _Target, totals: list[UsageTotal]) -> list[InvoiceResult]:
        """The period's new invoice: packages, usage (tiered where priced), a top-up to the
        minimum commitment and the charges carried forward from earlier periods; or, below
        the minimum invoice amount, the period's own charges carried forward instead."""
        main_id, currency = target.invoice_id, target.customer.currency
        carried = target.customer.carried.get(main_id)
        if carried is not None:  # carried forward by an earlier run: never billed here
            result = self._result(target, main_id, "invoice", list(carried.lines))
            result.action, result.period = "carried forward", self.period
            result.state = "carried forward"
            return [result]
        self.prepare(target)
        tax_rate, tax_description, packages, committed = self._prepared.pop(target.account)
        scope = UsageScope(self.period, target.zone, 0, self.through)
        usage = usage_lines(
            main_id,
            totals,
            target.grouping,
            scope,
            tax_rate,
            tax_description,
            currency,
            target.prices,
        )
        # the usage's totals worked out once: its net decides the top-up, and (totals per
        # line being sums of each line's own rounded figures) its total plus that of the
        # other lines is the invoice's, compared with the minimum below
        usage_totals = totals_of(usage, currency)
        used = usage_totals.net
        top_up = top_up_line(
            main_id, self.period, used, committed, currency, tax_rate, tax_description
        )
        lines, overlaps = self._without_overlaps(
            target, packages + usage + ([top_up] if top_up else [])
        )
        if not lines and not overlaps:
            return []
        if overlaps:
            log.warning(
                "billing run overlap",
                aggregate_id=str(main_id),
                account=target.account,
                period=self.period.label,
                billed_by=sorted({str(o.number or o.invoice_id) for o in overlaps}),
                billed_anyway=self.allow_overlap,
            )
        if not lines:  # all of it billed by another invoice
            result = self._result(target, main_id, "invoice", [])
            result.overlaps, result.overlap_billed = overlaps, self.allow_overlap
            result.action, result.state = "skipped", "not created"
            return [result]
        pending = [c for c in target.customer.pending_carried if c.period_end < self.period.start]
        minimum = (
            target.minimum_invoice if target.minimum_invoice is not None else self.minimum_invoice
        )
        carried_over = carried_lines(main_id, pending)
        with_carried = lines + carried_over
        figures = self._figures(usage, usage_totals, with_carried, currency, self.rounding)
        if figures.total < minimum:
            result = self._result(target, main_id, "invoice", lines)
            result.action, result.period = "would carry forward", self.period
            result.state = "carried forward"
        else:
            result = self._result(target, main_id, "invoice", with_carried, figures)
            result.takes = tuple(c.invoice_id for c in pending)
        result.overlaps, result.overlap_billed = overlaps, self.allow_overlap
        return [result]

    @staticmethod
    def _figures(
        usage: list[InvoiceLine],
        usage_totals: Totals,
        lines: list[InvoiceLine],
        currency: str,
        rounding: TaxRounding,
    ) -> _Figures:
        """``_figures_of(lines, currency, rounding)``, given the totals of ``usage`` per line,
        when per line is the mode (sums of each line's rounded net and tax add up over parts)
        and ``usage`` is still among ``lines`` (no other invoice bills it), else afresh: a
        rate's tax rounded once on its nets' sum is not the sum of the parts' rounded taxes."""
        summed = {id(line) for line in usage}
        others = [line for line in lines if id(line) not in summed]
        if rounding != "per_line" or len(others) + len(summed) != len(lines):
            return _figures_of(lines, currency, rounding)
        rest = totals_of(others, currency)
        return _Figures(
            len(lines),
            usage_totals.net + rest.net,
            usage_totals.tax + rest.tax,
            usage_totals.total + rest.total,
        )

    def chain(self, target: _Target) -> tuple[list[Invoice], int]:
        """The period's invoices already made (main, then supplementary ones) and the last
        import batch they cover."""
        customer = target.customer
        main = self.existing(target)
        assert main is not None
        chain = [main]
        covered = covered_batch(main.lines.values())
        while supplement := self._invoice(
            invoice_id_for(customer.id, self.period, covered, target.replaces)
        ):
            chain.append(supplement)
            next_covered = covered_batch(supplement.lines.values())
            if next_covered <= covered:
                break
            covered = next_covered
        return chain, covered

    def _late(
        self, target: _Target, calls: int, micros: int, bill_late: bool
    ) -> list[InvoiceResult]:
        """The invoices already made for the period, and what late usage they miss."""
        customer = target.customer
        chain, covered = self.chain(target)
        main = chain[0]
        results = [
            InvoiceResult(
                target.account,
                invoice.id,
                "invoice" if invoice is main else "supplementary",
                "exists",
                invoice.currency,
                list(invoice.lines.values()),
                number=invoice.number,
                state=invoice.state,
                rounding=invoice.tax_rounding,  # the mode it was issued in
            )
            for invoice in chain
        ]
        results[-1].late_calls = calls
        results[-1].late_amount = Decimal(micros).scaleb(-MICROS)
        if calls and bill_late:
            supplement_id = invoice_id_for(customer.id, self.period, covered, target.replaces)
            profile = customer.profile_on(self.ledger.today())
            scope = UsageScope(self.period, target.zone, covered, self.through)
            late_totals = self._aggregate([target], covered).get(target.account, [])
            lines = usage_lines(
                supplement_id,
                late_totals,
                target.grouping,
                scope,
                profile.tax_rate,
                profile.tax_description,
                customer.currency,  # late usage at the switch's charges (no tiers)
            )
            results.append(self._result(target, supplement_id, "supplementary", lines))
        return results

    def _result(
        self,
        target: _Target,
        invoice_id: UUID,
        kind: Kind,
        lines: list[InvoiceLine],
        figures: _Figures | None = None,
    ) -> InvoiceResult:
        return InvoiceResult(
            target.account,
            invoice_id,
            kind,
            "would create",
            target.customer.currency,
            lines,
            replaces=target.replaces if kind == "invoice" else None,
            planned_figures=figures,
            rounding=self.rounding,
        )

    # ------------------------------------------------------------------ usage SQL

    def usage_totals(self, targets: Sequence[_Target]) -> dict[str, list[UsageTotal]]:
        """Usage sums of ``targets`` (thread-safe: reads only, on its own connection)."""
        return self._aggregate(targets, 0)

    def _aggregate(self, targets: Sequence[_Target], after: int) -> dict[str, list[UsageTotal]]:
        """Sum CDRs per (account, group) in SQL: one pass over the CDRs for every grouping.

        Each customer's UTC window, grouping and (grouped by day) time zone ride along as a
        VALUES list joined on the account; the group key is one text column: the destination,
        the local day's index (grouping ``day``), or "" (grouping ``none``).

        On PostgreSQL a big table is read in slices of its blocks, one connection each, all in
        one snapshot, as a parallel query would (see ``_sliced``); the partial sums of the
        slices are added up here, exactly (integers).
        """
        totals: dict[str, list[UsageTotal]] = defaultdict(list)
        if not targets:
            return totals
        by_day = {t.account for t in targets if t.grouping == "day"}
        sums: dict[tuple[str, str], tuple[int, int, int, int]] = {}

        def fold(rows: list[Any]) -> None:
            # on the run's critical path (the last rows are folded after the database is
            # done): a tuple per group, replaced, costs half a list updated in a loop
            get = sums.get
            for account, key, calls, seconds, micros, hashes in rows:
                group = (account, key)
                summed = get(group)
                sums[group] = (
                    (calls, seconds, micros, hashes)
                    if summed is None
                    else (
                        summed[0] + calls,
                        summed[1] + seconds,
                        summed[2] + micros,
                        summed[3] + hashes,
                    )
                )

        for chunk in _chunks(list(targets), TARGETS_PER_QUERY):
            if self.db.dialect == "postgres":
                self._sliced(chunk, after, fold)
            else:
                # a read transaction: on SQLite it must not take the write lock saves need
                with self.db.connect(write=False) as conn:
                    self._sums(conn, chunk, after, None, fold)
        while sums:  # each group's figures let go as its total is made (a total's lines are
            # sorted by their key: the order they are taken in does not matter)
            (account, key), figures = sums.popitem()
            group = int(key) if account in by_day else str(key)
            totals[account].append(UsageTotal(group, *map(int, figures)))
        return totals

    def _sliced(
        self, targets: Sequence[_Target], after: int, fold: Callable[[list[Any]], None]
    ) -> None:
        """The sums of ``_sums`` on PostgreSQL, each slice's rows given to ``fold`` as they
        come (one at a time: ``fold`` adds to one dict), the table read in slices of its
        blocks (TID ranges), one connection each, all in the first one's snapshot (as
        pg_dump's parallel jobs share one), as many as the server's own parallel query takes
        workers.

        PostgreSQL would not run this query in parallel itself: the day's key is an expression
        of the call's time, so it takes every CDR for a group of its own, and plans to gather
        every CDR from its workers into one aggregation (2-3x slower than this).
        """
        with self.db.connect(write=False) as conn:
            snapshot, pages, workers = conn.execute(
                "SELECT pg_export_snapshot(), GREATEST(pg_relation_size('usage_cdrs'),"
                " (SELECT COALESCE(MAX(pg_relation_size(relid)), 0)"
                " FROM pg_partition_tree('usage_cdrs') WHERE isleaf))"
                " / current_setting('block_size')::bigint,"
                " current_setting('max_parallel_workers_per_gather')::int"
            ).fetchone()
            count = max(1, min(int(workers) + 1, int(pages) // PAGES_PER_SLICE))
            bounds = [int(pages) * n // count for n in range(count)]
            slices = list(zip(bounds, [*bounds[1:], None], strict=True))

            lock = threading.Lock()

            def locked(rows: list[Any]) -> None:
                with lock:
                    fold(rows)

            def run(blocks: tuple[int, int | None]) -> None:
                with self.db.connect(write=False) as other:
                    other.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
                    self._sums(other, targets, after, blocks, locked)

            with ThreadPoolExecutor(max_workers=max(1, count - 1)) as pool:
                others = [pool.submit(run, blocks) for blocks in slices[1:]]
                self._sums(conn, targets, after, slices[0], locked)
                for other in others:
                    other.result()

    def _sums(
        self,
        conn: Any,
        targets: Sequence[_Target],
        after: int,
        blocks: tuple[int, int | None] | None,
        fold: Callable[[list[Any]], None],
    ) -> None:
        """Rows (account, key, calls, billed seconds, charge micros, row-hash sum) of the
        targets' CDRs in their windows and the batches (after, through]; on PostgreSQL only
        those in the table's ``blocks`` [first, last) (``None``: to the end), given to
        ``fold`` ``FOLD_ROWS`` at a time: a slice's rows (a row per customer and group) made
        into Python all at once were the run's peak memory. Only the
        accounts are parameters; windows, groupings, zone numbers and blocks are our own
        integers. The sums come back as integers (exact: an overflow is an error, never a
        wrong sum)."""
        zones = sorted({t.zone for t in targets if t.grouping == "day"})
        windows = {t.zone: utc_window(self.period, t.zone) for t in targets}
        first = int(min(start for start, _ in windows.values()).timestamp())
        last = int(max(end for _, end in windows.values()).timestamp())
        values = ", ".join(
            f"(?, {int(windows[t.zone][0].timestamp())}, {int(windows[t.zone][1].timestamp())},"
            f" {_GROUPINGS[t.grouping]}, {zones.index(t.zone) if t.grouping == 'day' else -1})"
            for t in targets
        )
        # the local day of a CDR of a customer grouped by day, by the bounds of its zone's days
        day = (
            "CASE t.zone {} END".format(
                " ".join(
                    f"WHEN {number} THEN {_day_case(self.period, zone)}"
                    for number, zone in enumerate(zones)
                )
            )
            if zones
            else "0"
        )
        where = ""
        if blocks is not None:
            where = f" AND c.ctid >= '({blocks[0]},0)'::tid"
            if blocks[1] is not None:
                where += f" AND c.ctid < '({blocks[1]},0)'::tid"
        if self.db.dialect == "postgres":
            # one process a slice (the slices are the parallelism); room to aggregate in
            # memory (the default 4 MB spills to disk); no JIT compilation (costs more than
            # it saves here); this transaction only
            conn.execute(
                f"SET LOCAL work_mem = '{AGGREGATION_WORK_MEM}';"
                " SET LOCAL max_parallel_workers_per_gather = 0; SET LOCAL jit = off"
            )
        cursor = conn.execute(
            self.db.sql(
                f"WITH t (account, lo, hi, grouping, zone) AS (VALUES {values})"
                " SELECT c.account, CASE t.grouping WHEN 0 THEN c.destination WHEN 1 THEN ''"
                f" ELSE CAST({day} AS TEXT) END, COUNT(*), SUM(c.billed_seconds),"
                " CAST(SUM(c.charge_micros) AS BIGINT), CAST(SUM(c.row_hash) AS BIGINT)"
                " FROM usage_cdrs c JOIN t ON c.account = t.account"
                " AND c.start_epoch >= t.lo AND c.start_epoch < t.hi"
                f" WHERE c.start_epoch >= {first} AND c.start_epoch < {last}"
                f" AND c.batch > ? AND c.batch <= ?{where} GROUP BY 1, 2"
            ),
            (*(t.account for t in targets), after, self.through),
        )
        while rows := cursor.fetchmany(FOLD_ROWS):
            fold(rows)

    def late_usage(self, targets: Sequence[_Target]) -> dict[str, tuple[int, int]]:
        """Calls and charge (micros) of CDRs each invoiced customer's invoices do not cover,
        in one query per time zone and chunk of accounts."""
        covered = {t.account: self.chain(t)[1] for t in targets}
        if all(batch >= self.through for batch in covered.values()):
            return {}  # nothing imported since these invoices were made: no query needed
        zones: dict[str, list[str]] = defaultdict(list)
        for target in targets:
            zones[target.zone].append(target.account)
        late: dict[str, tuple[int, int]] = {}
        with self.db.connect() as conn:
            for zone, accounts in zones.items():
                start, end = utc_window(self.period, zone)
                for chunk in _chunks(accounts, 500):
                    rows = conn.execute(
                        self.db.sql(
                            "SELECT account, batch, COUNT(*), SUM(charge_micros) FROM usage_cdrs"
                            f" WHERE account IN ({', '.join('?' * len(chunk))})"
                            " AND start_epoch >= ? AND start_epoch < ? AND batch > ?"
                            " AND batch <= ? GROUP BY account, batch"
                        ),
                        (
                            *chunk,
                            int(start.timestamp()),
                            int(end.timestamp()),
                            min(covered[a] for a in chunk),
                            self.through,
                        ),
                    )
                    for account, batch, calls, micros in rows:
                        if int(batch) > covered[account]:
                            old_calls, old_micros = late.get(account, (0, 0))
                            late[account] = (old_calls + int(calls), old_micros + int(micros))
        return late


#: Customers per aggregation query: 1 bound parameter each, well under both drivers' limits.
TARGETS_PER_QUERY = 5000

#: Rows of the aggregation made into Python and folded at a time (see ``_sums``).
FOLD_ROWS = 10_000

#: PostgreSQL memory per sort or hash of the aggregation queries (``SET LOCAL``).
AGGREGATION_WORK_MEM = "64MB"

#: PostgreSQL: the aggregation reads a table in slices of at least this many blocks (8 KB):
#: 8 MB, the smallest table PostgreSQL scans in parallel (min_parallel_table_scan_size).
PAGES_PER_SLICE = 1024


def _clash(line: InvoiceLine, other: BilledLine, package_name: str | None) -> bool:
    """Whether ``other`` bills what ``line`` would, for part of the same days: the same
    package's recurring charge (or its setup), or usage; or a line typed by hand whose words
    name the package's charge (domain/same_charge.py)."""
    if other.kind == "manual":
        if line.kind not in ("package", "setup") or package_name is None:
            return False
        if not names_charge(other.description, package_name, setup=line.kind == "setup"):
            return False
    elif line.kind != other.kind or (line.kind != "usage" and line.package_id != other.package_id):
        return False
    start, end = line.period_start, line.period_end
    return start is None or end is None or (start <= other.period_end and end >= other.period_start)


def _day_case(period: Period, zone: str) -> str:
    """The SQL of a CDR's local day index in ``zone`` (local days have DST-aware UTC bounds):
    a binary search of the day bounds, a handful of comparisons a CDR. These are our own
    integers, safe to inline."""
    ends = day_boundaries(period, zone)  # ends[n]: where day n ends

    def search(first: int, last: int) -> str:  # the day among first..last
        if first == last:
            return str(first)
        middle = (first + last) // 2
        return (
            f"CASE WHEN c.start_epoch < {ends[middle]} THEN {search(first, middle)}"
            f" ELSE {search(middle + 1, last)} END"
        )

    return search(0, len(ends) - 1)


#: The group key each line grouping takes in the aggregation query (see ``_sums``).
_GROUPINGS: dict[LineGrouping, int] = {"destination": 0, "none": 1, "day": 2}


def _chunks(items: list[T], size: int) -> Iterable[list[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _new_drafts(
    ledger: Ledger,
    planned: Sequence[InvoiceResult],
    period: Period,
    actor: str,
    customers: Mapping[str, Customer],
    settings: SellerSettings,
) -> list[Invoice]:
    """The drafts ``_create`` saves in one transaction: of the planned invoices that change
    no customer (``_drafts``: the ones the ledger refuses are marked and left out)."""
    new = [r for r in planned if not r.takes and r.action == "would create"]
    return _drafts(ledger, new, period, actor, customers, settings)


def _create(
    ledger: Ledger,
    planned: Sequence[InvoiceResult],
    period: Period,
    actor: str,
    customers: Mapping[str, Customer],
    settings: SellerSettings,
    drafted: list[Invoice] | None = None,
) -> None:
    """Create planned invoices, each with all its lines, in one transaction; if one already
    exists (another run got there first), create the others one at a time.

    The drafts are made from the customers the run planned with (read once at its start), so
    an invoice's header and its lines come from the same customer state; ``drafted``: those
    of ``_new_drafts(planned)``, made already."""

    # carrying forward, and taking what was carried, change the customer too: saved one by
    # one, each invoice with its customer (one transaction), so each period is billed once
    for result in [r for r in planned if r.takes or r.action == "would carry forward"]:
        _save_with_customer(ledger, result, period, actor, customers[result.account], settings)
    drafts = (
        _new_drafts(ledger, planned, period, actor, customers, settings)
        if drafted is None
        else drafted
    )
    planned = [r for r in planned if not r.takes and r.action == "would create"]
    planned = [r for r in planned if r.action != "refused"]
    if not planned:  # nothing new in this batch: no empty save (a round trip each)
        return
    try:
        ledger.create_invoices(drafts)
        created = list(planned)
    except AlreadyExists:  # a failed save has used up the drafts' events: draft afresh
        created = []
        for result in planned:
            try:
                ledger.create_invoice(result.account, actor, **_fields(result, period))
                created.append(result)
            except AlreadyExists:  # same id, so the same customer and period: already billed
                result.action = "exists"
    for result in created:
        result.action = "created"
        log.info(
            "billing run invoice",
            aggregate_id=str(result.invoice_id),
            account=result.account,
            kind=result.kind,
            lines=result.line_count,
        )


def _save_with_customer(
    ledger: Ledger,
    result: InvoiceResult,
    period: Period,
    actor: str,
    customer: Customer,
    settings: SellerSettings,
) -> None:
    """Carry the period's charges forward, or create the invoice that takes charges carried
    before: either way with the customer's event, in one save. A customer changed since the
    run read it (another run, or an edit) is refused: a run after it bills the customer
    afresh, still once (the ids are deterministic)."""
    try:
        if result.action == "would carry forward":
            ledger.carry_forward(customer, result.invoice_id, period, result.lines, actor)
            result.action = "carried forward"
            log.info(
                "billing run carried charges forward",
                aggregate_id=str(customer.id),
                invoice_id=str(result.invoice_id),
                account=result.account,
                total=str(result.total),
            )
            return
        invoice = ledger.draft_invoice(
            customer, actor, settings=settings, **_fields(result, period)
        )
        ledger.create_invoices([invoice], customers=[customer], takes=result.takes, actor=actor)
        result.action = "created"
        log.info(
            "billing run invoice",
            aggregate_id=str(result.invoice_id),
            account=result.account,
            kind=result.kind,
            lines=result.line_count,
            takes_carried=len(result.takes),
        )
    except InvalidInput as error:
        result.refuse(error)
    except (AlreadyExists, ConcurrencyConflict) as error:
        result.refuse(
            InvalidInput(
                f"{error}: the customer or its invoice changed while the run planned it;"
                " run the billing again (it bills each period once)"
            )
        )


def _fields(result: InvoiceResult, period: Period) -> dict[str, Any]:
    return {
        "period_start": period.start,
        "period_end": period.end,
        "memo": _memo(result.kind, period),
        "invoice_id": result.invoice_id,
        "lines": result.lines,
    }


def _drafts(
    ledger: Ledger,
    planned: Sequence[InvoiceResult],
    period: Period,
    actor: str,
    customers: Mapping[str, Customer],
    settings: SellerSettings,
) -> list[Invoice]:
    """The drafts of the planned invoices the ledger accepts; each one it refuses (its
    limits: domain/limits.py) is marked ``refused`` and left out, so the others are billed."""
    drafts = []
    for result in planned:
        try:
            drafts.append(
                ledger.draft_invoice(
                    customers[result.account], actor, settings=settings, **_fields(result, period)
                )
            )
        except InvalidInput as error:
            result.refuse(error)
    return drafts


def _memo(kind: Kind, period: Period) -> str:
    if kind == "supplementary":
        return f"Supplementary invoice for late usage, {period.label}"
    return f"Usage and packages, {period.label}"
