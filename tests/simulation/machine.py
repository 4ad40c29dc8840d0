"""The ledger simulation: a hypothesis state machine whose rules are the ledger's commands and
its faults, checked after every step against the test's own model (tests/simulation/model.py).

Every command goes through the public service layer (the ``Ledger`` the CLI and HTTP call, the
usage importer, billing run and re-rating they call). Before each command the model predicts
its outcome from the documented rules: where it predicts success the ledger must succeed and
give the model's figures; where it predicts a refusal the ledger must refuse with a
``BillingError`` and write no event. See docs/simulation.md.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar
from uuid import NAMESPACE_URL, UUID, uuid5

from hypothesis import note
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
)

from adapters.audit import verify_store
from adapters.clock import SteppingClock
from adapters.config import build_ledger
from adapters.ledger.application import Ledger
from adapters.ledger.folds import LogFolds
from adapters.queries import queries_for
from adapters.reconcile import reconcile
from adapters.store.database import Database
from adapters.store.read_models import SqlViewStore
from adapters.usage.billing import run_billing
from adapters.usage.importer import import_cdrs
from adapters.usage.rating import load_rate_card, rerate
from domain.changes import LineChanges, SettingsChanges
from domain.errors import BillingError
from domain.idempotency import KeyAlreadyCommitted, KeyedRequest
from domain.invoice import Invoice
from domain.payment import PaymentStatus
from domain.usage import Period
from projections.runner import Runner, all_projections
from tests.simulation import model as m
from tests.simulation.model import ZERO, D
from tests.simulation.stores import fresh_store

T = TypeVar("T")
ACTOR = "sim"
ACCOUNTS = ("ACME", "BETA", "GAMMA")
#: a two-, zero- and three-decimal currency (docs/money.md)
CURRENCIES = ("GBP", "JPY", "KWD", "BHD")
TAX_RATES = (D("20"), D("0"), D("17.5"), D("5.125"))
MONTHS = ("2026-10", "2026-11", "2026-12")
#: the clock starts in December, so some histories cross into 2027: a new number series
START = datetime(2026, 12, 20, 9, 0, tzinfo=UTC)
READ_MODELS = tuple(p.name for p in all_projections())
RATE_CARDS = (D("0.005"), D("0.02"), D("0.5"))


def say(line: str) -> None:
    """One line of the readable script a failing history prints (nothing outside one)."""
    with contextlib.suppress(InvalidArgument):
        note(line)


class Refused:
    """What a refused command returns in the script."""

    def __repr__(self) -> str:
        return "REFUSED"


REFUSED = Refused()


@dataclass(frozen=True)
class Ref:
    """A customer, package, invoice or payment as the script names it (``inv3``)."""

    name: str
    key: Any  # account number, package name, or aggregate id

    def __repr__(self) -> str:
        return self.name


# ------------------------------------------------------------------ strategies

quantities = st.one_of(
    st.decimals(min_value=D("0.00000001"), max_value=D("1000"), places=8),
    st.decimals(min_value=D("1"), max_value=D("1000000000"), places=0),
    st.sampled_from([D("1"), D("1000000000"), D("1000000001"), D("0")]),
)
unit_prices = st.one_of(
    st.decimals(min_value=D("0"), max_value=D("500"), places=2),
    st.decimals(min_value=D("0"), max_value=D("1"), places=8),
    st.decimals(min_value=D("1000000"), max_value=D("10000000000000"), places=0),
)
#: how much of what is open a payment command moves: all of it, part, one minor unit over...
portions = st.sampled_from(["all", "half", "unit", "over"])
line_rates = st.one_of(st.none(), st.sampled_from(TAX_RATES))
#: which invoices a payment command names: positions among the payment's customer's invoices,
#: and now and then (``foreign``) among everyone's, which must be refused
picks = st.lists(st.integers(0, 30), min_size=1, max_size=3, unique=True)
foreign = st.integers(0, 7).map(lambda n: n == 0)


def portion(how: str, available: Decimal, currency: str) -> Decimal:
    unit = D(1).scaleb(-m.MINOR_UNITS[currency])
    if how == "all":
        amount = available
    elif how == "half":
        amount = m.rounded(available / 2, currency)
    elif how == "unit":
        amount = unit
    else:
        amount = available + unit
    return amount if amount > 0 else unit


class LedgerSimulation(RuleBasedStateMachine):
    """Set ``base_url`` and ``workdir`` on a subclass (``simulation_for``) before running."""

    base_url: str = ""
    workdir: Path = Path(".")
    counter = itertools.count(1)

    customers = Bundle("customers")
    packages = Bundle("packages")
    invoices = Bundle("invoices")
    payments = Bundle("payments")

    def __init__(self) -> None:
        super().__init__()
        self.n = next(self.counter)
        self.url, self._remove_store = fresh_store(self.base_url, self.n)
        self.clock = SteppingClock(START)
        self.model = m.Model()
        self.snapshots: list[tuple[datetime, dict[UUID, tuple[object, ...]]]] = []
        self.names = itertools.count(1)
        self.call_ids = itertools.count(1)
        self.files: list[tuple[Path, list[m.Call]]] = []
        self.keys = itertools.count(1)
        self._open()

    # ------------------------------------------------------------- plumbing

    def _open(self) -> None:
        self.ledger = build_ledger(self.url, clock=self.clock)
        self._other: Ledger | None = None
        self.db = Database.from_url(self.url)  # usage import, billing run, re-rating
        # the read side and the audit keep their connections, as a served process does
        self.reads = self.db.pooled()
        table = self.ledger.recorder.events_table_name  # type: ignore[attr-defined]
        self.store = SqlViewStore(self.reads, table)
        self.runner = Runner(self.ledger, self.store)

    def _close(self) -> None:
        self.store.release()
        for ledger in (self.ledger, self._other):
            if ledger is not None:
                ledger.close()
        self.reads.close()

    def teardown(self) -> None:
        try:
            self.check_every_earlier_moment()
        finally:
            self._close()
            self._remove_store()

    @property
    def other(self) -> Ledger:
        """Another process's ledger on the same store (opened when first needed)."""
        if self._other is None:
            self._other = build_ledger(self.url, clock=self.clock)
        return self._other

    def head(self) -> int:
        return self.ledger.recorder.max_notification_id() or 0

    def act(self, what: str, ok: bool | None, command: Callable[[], T]) -> T | Refused:
        """Run one command the model predicted would succeed (``ok``), be refused (not ``ok``)
        or either (None: a rule another branch may change, see docs/simulation.md)."""
        self._before = self.head()
        try:
            result = command()
        except BillingError as error:
            say(f"  {what}  -> refused [{error.code}] {error}")
            assert ok is not True, (
                f"{what}: the model expected success, the ledger refused: {error!r}"
            )
            assert self.head() == self._before, f"{what}: refused, yet events were written"
            return REFUSED
        say(f"  {what}  -> {result!r}")
        assert ok is not False, f"{what}: the model expected a refusal, the ledger accepted it"
        return result

    def ref(self, prefix: str, key: Any) -> Ref:
        return Ref(f"{prefix}{next(self.names)}", key)

    @contextlib.contextmanager
    def interloper(self, aggregate_id: UUID, write: Callable[[], None]) -> Iterator[None]:
        """Within the block, the first load of ``aggregate_id`` is followed by ``write`` (by
        another ledger on the same store) before the loaded state is used: a concurrent writer
        between the command's load and its save."""
        repository = self.ledger.repository
        original = repository.get
        fired = False

        def get(aggregate_id_: UUID, *args: Any, **kwargs: Any) -> Any:
            nonlocal fired
            loaded = original(aggregate_id_, *args, **kwargs)
            if not fired and aggregate_id_ == aggregate_id:
                fired = True
                write()
                self._before = self.head()  # the interloper's events are not the command's
            return loaded

        repository.get = get  # type: ignore[method-assign,assignment]
        try:
            yield
        finally:
            repository.get = original  # type: ignore[method-assign]

    # ---------------------------------------------------------- customers

    @rule(
        target=customers,
        account=st.sampled_from(ACCOUNTS),
        currency=st.sampled_from(CURRENCIES),
        tax_rate=st.sampled_from(TAX_RATES),
    )
    def register_customer(self, account: str, currency: str, tax_rate: Decimal) -> Any:
        exists = account in self.model.customers  # the account number is the id (uuid5)
        result = self.act(
            f"customer add {account} {currency} tax {tax_rate}%",
            not exists,
            lambda: self.ledger.register_customer(
                ACTOR,
                account_number=account,
                name=f"{account} Ltd",
                currency=currency,
                tax_rate=tax_rate,
                tax_description=f"tax {tax_rate}%",
                payment_terms_days=14,
            ),
        )
        if not isinstance(result, UUID):
            return multiple()
        self.model.customers[account] = m.Customer(account, account, currency, tax_rate, result)
        return Ref(account, account)

    @precondition(lambda self: len(self.model.packages) < 3)
    @rule(
        target=packages,
        currency=st.sampled_from(CURRENCIES),
        price=st.decimals(min_value=D("0"), max_value=D("999"), places=4),
        setup=st.sampled_from([D("0"), D("25"), D("0.125")]),
    )
    def define_package(self, currency: str, price: Decimal, setup: Decimal) -> Ref:
        name = f"P{len(self.model.packages) + 1} {currency}"
        self.act(
            f"package add {name!r} price {price} setup {setup}",
            True,
            lambda: self.ledger.define_package(
                ACTOR, name=name, unit_price=price, setup_price=setup, currency=currency
            ),
        )
        self.model.packages[name] = m.Package(name, currency, price, setup)
        return Ref(name.split()[0], name)

    @rule(
        customer=customers,
        package=packages,
        month=st.sampled_from(MONTHS),
        quantity=st.sampled_from([D("1"), D("2"), D("0.5")]),
    )
    def assign_package(self, customer: Ref, package: Ref, month: str, quantity: Decimal) -> None:
        who, terms = self.model.customers[customer.key], self.model.packages[package.key]
        start = date.fromisoformat(f"{month}-01")
        ok = who.currency == terms.currency
        result = self.act(
            f"customer {who.account} assign {package} x{quantity} from {start}",
            ok,
            lambda: self.ledger.assign_package(
                who.account, terms.name, ACTOR, start_date=start, quantity=quantity
            ),
        )
        if result is not REFUSED:
            who.assignments.append((terms.name, quantity, start))

    # ----------------------------------------------------------- invoices

    def _drafted(self, account: str, invoice_id: UUID) -> Ref:
        who = self.model.customers[account]
        self.model.invoices[invoice_id] = m.Invoice(
            "",
            invoice_id,
            account,
            who.currency,
            invoice_date=self.clock.now.date(),
            rounding=self.model.tax_rounding,
        )
        ref = self.ref("inv", invoice_id)
        self.model.invoices[invoice_id].name = ref.name
        return ref

    @rule(target=invoices, customer=customers)
    def draft(self, customer: Ref) -> Any:
        result = self.act(
            f"invoice new {customer}", True, lambda: self.ledger.create_invoice(customer.key, ACTOR)
        )
        assert isinstance(result, UUID)
        return self._drafted(customer.key, result)

    @rule(
        target=invoices,
        customer=customers,
        quantity=st.decimals(min_value=D("0.5"), max_value=D("40"), places=1),
        unit_price=st.decimals(min_value=D("0.001"), max_value=D("300"), places=3),
    )
    def issued_invoice(self, customer: Ref, quantity: Decimal, unit_price: Decimal) -> Any:
        """Draft, one line, issue: the usual path, as one step so payments find something."""
        ref = self.draft(customer)
        self.add_line(ref, quantity, unit_price, None)
        self.issue(ref)
        return ref

    @rule(target=invoices, customer=customers, key=st.integers(1, 2))
    def draft_with_id(self, customer: Ref, key: int) -> Any:
        """A draft with a deterministic id: a replay of it must create nothing."""
        invoice_id = uuid5(NAMESPACE_URL, f"tollbook-sim:{customer.key}:{key}")
        exists = invoice_id in self.model.invoices
        result = self.act(
            f"invoice new {customer} --id {invoice_id}",
            not exists,
            lambda: self.ledger.create_invoice(customer.key, ACTOR, invoice_id=invoice_id),
        )
        return multiple() if result is REFUSED else self._drafted(customer.key, invoice_id)

    @rule(invoice=invoices, quantity=quantities, unit_price=unit_prices, tax_rate=line_rates)
    def add_line(
        self, invoice: Ref, quantity: Decimal, unit_price: Decimal, tax_rate: Decimal | None
    ) -> None:
        inv = self.model.invoices[invoice.key]
        rate = tax_rate if tax_rate is not None else self.model.customers[inv.customer].tax_rate
        line = m.Line(quantity, unit_price, rate)
        result = self.act(
            f"invoice line add {invoice} qty {quantity} x {unit_price} tax {rate}%",
            self._line_fits(inv, line, None),
            lambda: self.ledger.add_line(
                invoice.key,
                ACTOR,
                description="Calls",
                quantity=quantity,
                unit_price=unit_price,
                tax_rate=tax_rate,
            ),
        )
        if isinstance(result, UUID):
            inv.lines[result] = line

    def _line_fits(self, inv: m.Invoice, line: m.Line, replacing: object) -> bool:
        others = [ln for key, ln in inv.lines.items() if key != replacing]
        return (
            inv.state == "draft"
            and line.valid(inv.currency)
            and abs(m.total_of([*others, line], inv.currency, inv.rounding))
            < m.money_bound(inv.currency)
        )

    @rule(invoice=invoices, package=packages)
    def add_package_line(self, invoice: Ref, package: Ref) -> None:
        inv, terms = self.model.invoices[invoice.key], self.model.packages[package.key]
        line = m.Line(D(1), terms.unit_price, self.model.customers[inv.customer].tax_rate)
        ok = terms.currency == inv.currency and self._line_fits(inv, line, None)
        result = self.act(
            f"invoice line add {invoice} --package {package}",
            ok,
            lambda: self.ledger.add_package_line(invoice.key, terms.name, ACTOR),
        )
        if isinstance(result, UUID):
            inv.lines[result] = line

    def _line_at(self, inv: m.Invoice, position: int) -> UUID | None:
        ids = list(inv.lines)
        return ids[position % len(ids)] if ids else None

    @rule(invoice=invoices, position=st.integers(0, 9), quantity=quantities, unit_price=unit_prices)
    def edit_line(
        self, invoice: Ref, position: int, quantity: Decimal, unit_price: Decimal
    ) -> None:
        inv = self.model.invoices[invoice.key]
        line_id = self._line_at(inv, position)
        if line_id is None:
            return
        after = m.Line(quantity, unit_price, inv.lines[line_id].tax_rate)
        result = self.act(
            f"invoice line edit {invoice} line {list(inv.lines).index(line_id) + 1}"
            f" qty {quantity} x {unit_price}",
            self._line_fits(inv, after, line_id),
            lambda: self.ledger.edit_line(
                invoice.key,
                line_id,
                LineChanges(quantity=quantity, unit_price=unit_price),
                ACTOR,
            ),
        )
        if result is not REFUSED:
            inv.lines[line_id] = after

    @rule(invoice=invoices, position=st.integers(0, 9))
    def remove_line(self, invoice: Ref, position: int) -> None:
        inv = self.model.invoices[invoice.key]
        line_id = self._line_at(inv, position)
        if line_id is None:
            return
        result = self.act(
            f"invoice line remove {invoice} line {list(inv.lines).index(line_id) + 1}",
            inv.state == "draft",
            lambda: self.ledger.remove_line(invoice.key, line_id, ACTOR),
        )
        if result is not REFUSED:
            del inv.lines[line_id]

    def _issue_expected(self, inv: m.Invoice) -> str | None:
        """The number an issue takes now, or None when it must be refused: not a draft, no
        lines, or dated before the latest invoice its year's sequence numbered (numbers take
        the year of the invoice date and follow the dates: docs/lifecycle.md)."""
        prefix = f"INV-{inv.invoice_date.year}-"
        if inv.state != "draft" or not inv.lines:
            return None
        if inv.invoice_date < self.model.latest_dates.get(prefix, inv.invoice_date):
            return None
        return self.model.next_number(prefix)

    def _issued(self, inv: m.Invoice, number: str) -> None:
        prefix = number[:-6]
        self.model.take_number(prefix)
        latest = self.model.latest_dates.get(prefix, inv.invoice_date)
        self.model.latest_dates[prefix] = max(latest, inv.invoice_date)
        inv.state, inv.number = "issued", number
        inv.rounding = self.model.tax_rounding  # the mode at issue is final

    @rule(invoice=invoices)
    def issue(self, invoice: Ref) -> None:
        inv = self.model.invoices[invoice.key]
        expected = self._issue_expected(inv)
        number = self.act(
            f"invoice issue {invoice}",
            expected is not None,
            lambda: self.ledger.issue_invoice(invoice.key, ACTOR),
        )
        if number is REFUSED:
            return
        assert number == expected, (
            f"issue {invoice}: number {number}, the model expected {expected}"
        )
        self._issued(inv, str(number))

    @rule(invoice=invoices)
    def void(self, invoice: Ref) -> None:
        inv = self.model.invoices[invoice.key]
        ok = inv.state == "issued" and not inv.allocations and not inv.credited
        result = self.act(
            f"invoice void {invoice}",
            ok,
            lambda: self.ledger.void_invoice(invoice.key, ACTOR, "simulated mistake"),
        )
        if result is not REFUSED:
            inv.state = "void"

    # ------------------------------------------------------- credit notes

    def _credited(self, inv: m.Invoice, total: Decimal, number: object) -> None:
        self.model.take_number(str(number)[:-6])
        inv.credited += total
        self.model.credit_notes[str(number)] = (str(number), total)

    @rule(invoice=invoices, how=st.sampled_from(["all", "half", "unit", "over"]))
    def credit_by_amount(self, invoice: Ref, how: str) -> None:
        inv = self.model.invoices[invoice.key]
        rates = {line.tax_rate for line in inv.lines.values()}
        rate = next(iter(rates)) if len(rates) == 1 else ZERO
        # a net amount whose total (net + its tax) is about what is outstanding
        gross = portion(how, inv.outstanding, inv.currency)
        net = m.rounded(gross * 100 / (100 + rate), inv.currency) if how != "unit" else gross
        if net <= 0:
            net = D(1).scaleb(-m.MINOR_UNITS[inv.currency])
        total = m.Line(D(1), net, rate).net(inv.currency) + m.Line(D(1), net, rate).tax(
            inv.currency
        )
        ok = inv.state == "issued" and len(rates) == 1 and 0 < total <= inv.outstanding
        number = self.act(
            f"invoice credit {invoice} --amount {net} (total {total})",
            ok,
            lambda: self.ledger.issue_credit_note(invoice.key, ACTOR, "simulated", amount=net),
        )
        if number is not REFUSED:
            self._check_credit_number(number)
            self._credited(inv, total, number)

    def _check_credit_number(self, number: object) -> None:
        expected = self.model.next_number(f"CN-{self.clock.now.year}-")
        assert number == expected, f"credit note number {number}, the model expected {expected}"

    @rule(invoice=invoices)
    def credit_in_full(self, invoice: Ref) -> None:
        inv = self.model.invoices[invoice.key]
        total = inv.total
        if inv.state == "issued" and inv.allocated and not inv.credited:
            # a partly paid invoice credited in full: refused today; another branch makes it
            # take what is outstanding and turn the rest into customer credit. Either is fine
            # as long as the invariants hold afterwards.
            ok: bool | None = None
        else:
            ok = inv.state == "issued" and 0 < total <= inv.outstanding
        number = self.act(
            f"invoice credit {invoice} --full (total {total})",
            ok,
            lambda: self.ledger.issue_credit_note(invoice.key, ACTOR, "simulated", full=True),
        )
        if number is REFUSED:
            return
        self._check_credit_number(number)
        if ok:
            self._credited(inv, total, number)
        else:
            self._resync_after_full_credit(inv, number)

    def _resync_after_full_credit(self, inv: m.Invoice, number: object) -> None:
        """The documented outcome of the other branch's rule, read back from the ledger: the
        invariants (outstanding >= 0, credit = Σ unallocated, ...) are then checked as ever."""
        self.model.take_number(str(number)[:-6])
        after = self.ledger.invoice(inv.id)
        inv.credited = after.credited
        self.model.credit_notes[str(number)] = (str(number), after.credited)
        for payment_id in list(inv.allocations):
            pay = self.model.payments[payment_id]
            now = self.ledger.payment(payment_id)
            pay.allocations = dict(now.allocations)
            pay.refunded = now.refunded
        inv.allocations = dict(after.allocations)

    # ----------------------------------------------------------- payments

    @rule(
        target=payments,
        customer=customers,
        units=st.integers(1, 10_000_000),
        completed=st.booleans(),
        key=st.one_of(st.none(), st.sampled_from(["bank:tx-1", "bank:tx-2"])),
    )
    def record_payment(self, customer: Ref, units: int, completed: bool, key: str | None) -> Any:
        who = self.model.customers[customer.key]
        amount = D(units).scaleb(-m.MINOR_UNITS[who.currency])
        replay = key is not None and any(p.key == key for p in self.model.payments.values())
        status: PaymentStatus = "completed" if completed else "pending"
        result = self.act(
            f"payment add {customer} {amount} {who.currency} {status}"
            + (f" --idempotency-key {key}" if key else ""),
            not replay,
            lambda: self.ledger.record_payment(
                customer.key, ACTOR, amount=amount, status=status, idempotency_key=key
            ),
        )
        if not isinstance(result, UUID):
            return multiple()
        ref = self.ref("pay", result)
        self.model.payments[result] = m.Payment(
            ref.name, result, who.account, who.currency, amount, status, key=key
        )
        return ref

    @rule(payment=payments)
    def complete(self, payment: Ref) -> None:
        pay = self.model.payments[payment.key]
        result = self.act(
            f"payment complete {payment}",
            pay.status == "pending",
            lambda: self.ledger.complete_payment(payment.key, ACTOR),
        )
        if result is not REFUSED:
            pay.status = "completed"

    @rule(payment=payments)
    def cancel(self, payment: Ref) -> None:
        pay = self.model.payments[payment.key]
        ok = pay.status != "cancelled" and not pay.allocations and not pay.refunded
        result = self.act(
            f"payment cancel {payment}",
            ok,
            lambda: self.ledger.cancel_payment(payment.key, ACTOR, "bounced"),
        )
        if result is not REFUSED:
            pay.status = "cancelled"

    @rule(payment=payments, how=portions)
    def refund(self, payment: Ref, how: str) -> None:
        self._refund(payment, how, self.ledger)

    def _refund(self, payment: Ref, how: str, ledger: Ledger) -> None:
        pay = self.model.payments[payment.key]
        amount = portion(how, pay.unallocated, pay.currency)
        ok = pay.status == "completed" and amount <= pay.unallocated
        result = self.act(
            f"payment refund {payment} {amount}",
            ok,
            lambda: ledger.refund_payment(payment.key, amount, ACTOR),
        )
        if result is not REFUSED:
            pay.refunded += amount

    def _plan_allocation(
        self, pay: m.Payment, targets: list[m.Invoice], how: str
    ) -> tuple[list[tuple[UUID, Decimal]], bool]:
        """The amounts to send and whether the model accepts them all (all or nothing)."""
        left = pay.unallocated
        plan, ok = [], pay.status == "completed"
        for inv in targets:
            amount = portion(how, min(inv.outstanding, left) or inv.outstanding, pay.currency)
            ok = (
                ok
                and inv.customer == pay.customer
                and inv.state == "issued"
                and amount <= inv.outstanding
                and amount <= left
            )
            left -= amount
            plan.append((inv.id, amount))
        return plan, ok

    def _allocated(self, pay: m.Payment, plan: list[tuple[UUID, Decimal]]) -> None:
        for invoice_id, amount in plan:
            inv = self.model.invoices[invoice_id]
            pay.allocations[invoice_id] = pay.allocations.get(invoice_id, ZERO) + amount
            inv.allocations[pay.id] = inv.allocations.get(pay.id, ZERO) + amount

    def _allocation_text(self, payment: Ref, plan: list[tuple[UUID, Decimal]]) -> str:
        shown = " ".join(f"{self.model.invoices[i].name}={a}" for i, a in plan)
        return f"payment allocate {payment} {shown}"

    def _picked(self, pay: m.Payment, which: list[int], anyone: bool) -> list[m.Invoice]:
        pool = [i for i in self.model.invoices.values() if anyone or i.customer == pay.customer]
        if not pool:
            return []
        return list({pool[n % len(pool)].id: pool[n % len(pool)] for n in which}.values())

    @rule(payment=payments, which=picks, anyone=foreign, how=portions)
    def allocate(self, payment: Ref, which: list[int], anyone: bool, how: str) -> None:
        pay = self.model.payments[payment.key]
        chosen = self._picked(pay, which, anyone)
        if not chosen:
            return
        plan, ok = self._plan_allocation(pay, chosen, how)
        result = self.act(
            self._allocation_text(payment, plan),
            ok,
            lambda: self.ledger.allocate(payment.key, plan, ACTOR),
        )
        if result is not REFUSED:
            self._allocated(pay, plan)

    @rule(payment=payments, which=st.integers(0, 30), how=portions)
    def unallocate(self, payment: Ref, which: int, how: str) -> None:
        pay = self.model.payments[payment.key]
        pool = [self.model.invoices[i] for i in pay.allocations] or self._picked(pay, [which], True)
        if not pool:
            return
        inv = pool[which % len(pool)]
        invoice = Ref(inv.name, inv.id)
        allocated = pay.allocations.get(inv.id, ZERO)
        amount = portion(how, allocated, pay.currency)
        result = self.act(
            f"payment unallocate {payment} {invoice} {amount}",
            amount <= allocated,
            lambda: self.ledger.unallocate(payment.key, invoice.key, amount, ACTOR, "mistake"),
        )
        if result is not REFUSED:
            for holder, key in ((pay.allocations, inv.id), (inv.allocations, pay.id)):
                holder[key] -= amount
                if not holder[key]:
                    del holder[key]

    # ------------------------------------------------- usage and billing

    @precondition(lambda self: len(self.files) < 4)  # an import is a bulk load: a few
    @rule(
        customer=customers,
        month=st.sampled_from(MONTHS),
        calls=st.lists(
            st.tuples(st.integers(0, 3600), st.integers(1, 5_000_000)), min_size=1, max_size=4
        ),
    )
    def import_usage(self, customer: Ref, month: str, calls: list[tuple[int, int]]) -> None:
        who = self.model.customers[customer.key]
        rows, new = [], []
        for day, (duration, micros) in enumerate(calls, start=1):
            call = m.Call(f"c{next(self.call_ids)}", who.account, month, duration, micros)
            charge = format(D(micros).scaleb(-6), "f")
            rows.append(
                f"{call.call_id},{who.account},{month}-{day:02d}T12:00:00Z,{duration},{duration},"
                f"447700900123,447,{_destination(call)},0.01,{charge},{who.currency}"
            )
            new.append(call)
        path = self.workdir / f"sim{self.n}-cdrs{len(self.files) + 1}.csv"
        path.write_text(
            "call_id,account,start_time,duration,billed_duration,dialled_number,"
            "destination_prefix,destination,rate_per_minute,charge,currency\n"
            + "\n".join(rows)
            + "\n",
            encoding="utf-8",
        )
        self.files.append((path, new))
        self.reimported = False
        summary = import_cdrs(self.ledger, self.db, path)
        say(f"  usage import {path.name}: {len(rows)} calls of {who.account} in {month}")
        assert (summary.inserted, summary.rejected) == (len(rows), 0), summary
        self.model.calls += new

    @precondition(lambda self: bool(self.files) and not self.reimported)
    @rule()
    def reimport_usage(self) -> None:
        """The same file again: idempotent by call id, nothing added. A call re-rated since
        conflicts with its stored row (same call id, other charge) and is rejected."""
        path, calls = self.files[-1]
        self.reimported = True
        summary = import_cdrs(self.ledger, self.db, path)
        say(f"  usage import {path.name} (again)")
        changed = sum(c.charge_micros != c.imported_micros for c in calls)
        assert (summary.inserted, summary.duplicates, summary.rejected) == (
            0,
            len(calls) - changed,
            changed,
        ), summary

    def _planned_lines(self, who: m.Customer, month: str) -> tuple[list[m.Line], list[m.Call]]:
        """What the billing run must put on (customer, month)'s invoice (docs/usage-billing.md):
        each whole-month package at its price, the setup price in the month the assignment
        starts, and one usage line per destination at the exact sum of its charges."""
        period = Period.month(month)
        lines = []
        for name, quantity, start in who.assignments:
            terms = self.model.packages[name]
            if start <= period.end:
                lines.append(m.Line(quantity, terms.unit_price, who.tax_rate))
            if period.start <= start <= period.end and terms.setup_price > 0:
                lines.append(m.Line(quantity, terms.setup_price, who.tax_rate))
        calls = [c for c in self.model.calls if c.account == who.account and c.month == month]
        for destination in sorted({_destination(c) for c in calls}):
            mine = [c for c in calls if _destination(c) == destination]
            price = D(sum(c.charge_micros for c in mine)).scaleb(-6)
            lines.append(m.Line(D(1), price, who.tax_rate))
        return lines, calls

    @precondition(lambda self: bool(self.model.calls or self.model.packages))
    @rule(target=invoices, month=st.sampled_from(MONTHS))
    def bill(self, month: str) -> Any:
        period = Period.month(month)
        expected: dict[UUID, tuple[m.Customer, list[m.Line], list[m.Call]]] = {}
        for who in self.model.customers.values():
            invoice_id = _main_invoice(who, period)
            lines, calls = self._planned_lines(who, month)
            if lines and invoice_id not in self.model.invoices:
                expected[invoice_id] = (who, lines, calls)
        before = self.head()
        report = run_billing(self.ledger, self.db, period, actor=ACTOR)
        created = {UUID(str(r.invoice_id)) for r in report.results if r.action == "created"}
        say(f"  bill --period {month}: created {len(created)}")
        assert created == set(expected), (
            f"bill {month}: created for {sorted(str(i) for i in created)}, the model expected"
            f" {[w.account for w, _, _ in expected.values()]}"
        )
        assert report.refused == [] and (created or self.head() == before)
        refs = []
        for invoice_id, (who, lines, calls) in expected.items():
            actual = self.ledger.invoice(invoice_id)
            # a usage line reads minutes x an average rate whose product rounds to the exact
            # sum of its charges (docs/usage-billing.md): the model checks the money, each
            # line's net and rate, and then carries the line's own figures
            currency = who.currency
            got = sorted(
                (m.Line(ln.quantity, ln.unit_price, ln.tax_rate).net(currency), ln.tax_rate)
                for ln in actual.lines.values()
            )
            want = sorted((ln.net(currency), ln.tax_rate) for ln in lines)
            assert got == want, (
                f"bill {month} {who.account}: lines {got}, the model expected {want}"
            )
            ref = self._drafted(who.account, invoice_id)
            inv = self.model.invoices[invoice_id]
            inv.lines = {
                key: m.Line(ln.quantity, ln.unit_price, ln.tax_rate)
                for key, ln in actual.lines.items()
            }
            inv.billed_calls = tuple(c.call_id for c in calls)
            inv.period = month
            for call in calls:
                call.billed = True
            refs.append(ref)
        return multiple(*refs)

    @precondition(lambda self: bool(self.model.calls))
    @rule(target=invoices, month=st.sampled_from(MONTHS), rate=st.sampled_from(RATE_CARDS))
    def rerate(self, month: str, rate: Decimal) -> Any:
        """Re-rate each customer's month with a card (prefix 44, rate per minute, 1/1
        increments, no fee), applied; one command per customer."""
        card_path = self.workdir / f"sim{self.n}-card-{rate}.csv"
        card_path.write_text(
            f"prefix,destination,rate_per_minute,connection_fee,increments\n44,UK,{rate},0,1/1\n"
        )
        card = load_rate_card(card_path)
        period = Period.month(month)
        refs = []
        for who in list(self.model.customers.values()):
            refs += self._rerate_customer(who, period, month, rate, card)
        return multiple(*refs)

    def _rerate_customer(
        self, who: m.Customer, period: Period, month: str, rate: Decimal, card: Any
    ) -> list[Ref]:
        main = self.model.invoices.get(_main_invoice(who, period))
        calls = [c for c in self.model.calls if c.account == who.account and c.month == month]
        if main is not None:
            calls = [c for c in calls if c.call_id in main.billed_calls]
        if not calls:
            return []
        old = sum(c.charge_micros for c in calls)
        new = sum(m.rerated_micros(c.duration, rate) for c in calls)
        what = f"usage rerate --period {month} --customer {who.account} rate {rate} --apply"

        def apply() -> object:
            return rerate(self.ledger, self.db, card, period, customers=[who.account], apply=True)

        if main is None:
            self.act(what, True, lambda: apply())
            for call in calls:
                call.charge_micros = m.rerated_micros(call.duration, rate)
            return []
        difference = m.rounded(D(new - old).scaleb(-6), who.currency)
        done = (main.id, rate) in self.model.adjusted
        invoices_before = set(self.model.invoices)
        if difference > 0 and not done:
            supplement = uuid5(main.id, f"rerate:{card.sha256}")
            self.act(what, True, lambda: apply())
            self.model.adjusted.add((main.id, rate))
            ref = self._drafted(who.account, supplement)
            self.model.invoices[supplement].lines = {
                uuid5(supplement, "rerate"): m.Line(D(1), difference, who.tax_rate)
            }
            return [ref]
        if difference < 0 and not done and main.state == "issued":
            rates = {ln.tax_rate for ln in main.lines.values()}
            net = -difference
            tax_rate = next(iter(rates)) if len(rates) == 1 else ZERO
            total = m.Line(D(1), net, tax_rate).net(who.currency) + m.Line(D(1), net, tax_rate).tax(
                who.currency
            )
            ok = len(rates) == 1 and total <= main.outstanding
            notes_before = {n.id for n in LogFolds(self.ledger).credit_notes(main.id)}
            result = self.act(what, ok, lambda: apply())
            if result is not REFUSED:
                self.model.adjusted.add((main.id, rate))
                (note_,) = [
                    n
                    for n in LogFolds(self.ledger).credit_notes(main.id)
                    if n.id not in notes_before
                ]
                self._check_credit_number(note_.number)
                self._credited(main, total, note_.number)
            return []
        before = self.head()
        self.act(what, True, lambda: apply())
        assert self.head() == before and set(self.model.invoices) == invoices_before, (
            f"{what}: nothing to adjust, yet something was written"
        )
        return []

    @rule(mode=st.sampled_from(["per_line", "per_invoice_rate"]))
    def change_tax_rounding(self, mode: str) -> None:
        """The seller's tax rounding: drafts opened and invoices issued afterwards use it."""
        self.act(
            f"settings set tax_rounding={mode}",
            True,
            lambda: self.ledger.change_settings(SettingsChanges(tax_rounding=mode), ACTOR),
        )
        self.model.tax_rounding = mode

    # --------------------------------------------------------------- faults

    @precondition(lambda self: bool(self.model.invoices or self.model.payments))
    @rule()
    def crash(self) -> None:
        """The process dies between two commands: every in-memory object is dropped and the
        store reopened; the model (what was committed) carries on."""
        say("  -- crash: drop every in-memory object, reopen the store --")
        self._close()
        self._open()

    @precondition(lambda self: bool(self.model.invoices or self.model.payments))
    @rule(name=st.sampled_from(READ_MODELS))
    def rebuild_read_model(self, name: str) -> None:
        say(f"  projections rebuild {name}")
        self.runner.rebuild([name])

    @precondition(lambda self: bool(self.model.invoices))
    @rule(hours=st.integers(1, 24 * 9))
    def time_passes(self, hours: int) -> None:
        # to a whole hour: a command's few clock readings (a second each) never straddle
        # midnight, so the model knows the day every command ran on
        self.clock.set(self.clock.now.replace(minute=0, second=0) + timedelta(hours=hours))
        say(f"  -- {hours} h later: {self.clock.now:%Y-%m-%d %H:%M} --")

    @rule(invoice=invoices, rival=invoices)
    def race_to_issue(self, invoice: Ref, rival: Ref) -> None:
        """Another process issues ``rival`` while ``invoice``'s issue is between its load and
        its save: the sequence moved, so the issue retries and both numbers stay gapless."""
        inv, other = self.model.invoices[invoice.key], self.model.invoices[rival.key]

        def write() -> None:
            expected = self._issue_expected(other)
            number = self.act(
                f"(another process) invoice issue {rival}",
                expected is not None,
                lambda: self.other.issue_invoice(rival.key, ACTOR),
            )
            if number is not REFUSED:
                self._issued(other, str(number))

        with self.interloper(inv.id, write):
            number = self.act(
                f"invoice issue {invoice} (racing)",
                None,
                lambda: self.ledger.issue_invoice(invoice.key, ACTOR),
            )
        # judged against the state after the rival's issue
        expected = self._issue_expected(inv)
        assert number == (REFUSED if expected is None else expected), (
            f"racing issue {invoice}: {number!r}, the model expected {expected}"
        )
        if expected is not None:
            self._issued(inv, expected)

    @rule(payment=payments, which=picks, how=portions, refund_how=portions)
    def race_to_allocate(self, payment: Ref, which: list[int], how: str, refund_how: str) -> None:
        """Another process refunds part of the payment while an allocation of it is between
        load and save: the allocation retries from fresh state, and fits or is refused."""
        pay = self.model.payments[payment.key]
        invs = self._picked(pay, which, False)
        if not invs:
            return
        plan, _ = self._plan_allocation(pay, invs, how)
        with self.interloper(pay.id, lambda: self._refund(payment, refund_how, self.other)):
            result = self.act(
                self._allocation_text(payment, plan) + " (racing a refund)",
                None,
                lambda: self.ledger.allocate(payment.key, plan, ACTOR),
            )
        # judged against the state after the rival's refund
        _, ok = self._plan_for(pay, plan)
        assert (result is not REFUSED) == ok, (
            f"racing allocation of {payment}: the ledger gave {result!r}, the model"
            f" {'accepts' if ok else 'refuses'} it after the refund"
        )
        if ok:
            self._allocated(pay, plan)

    def _plan_for(self, pay: m.Payment, plan: list[tuple[UUID, Decimal]]) -> tuple[None, bool]:
        left, ok = pay.unallocated, pay.status == "completed"
        for invoice_id, amount in plan:
            inv = self.model.invoices[invoice_id]
            ok = ok and inv.customer == pay.customer and inv.state == "issued"
            ok = ok and amount <= inv.outstanding and amount <= left
            left -= amount
        return None, ok

    @rule(payment=payments, invoice=invoices, how=portions)
    def replay_keyed_allocation(self, payment: Ref, invoice: Ref, how: str) -> None:
        """An HTTP allocation sent with an Idempotency-Key, then sent again: the second one
        writes nothing (the key's record is saved with the first one's events)."""
        pay, inv = self.model.payments[payment.key], self.model.invoices[invoice.key]
        plan, ok = self._plan_allocation(pay, [inv], how)
        key = f"sim-key-{next(self.keys)}"

        def keyed() -> KeyedRequest:
            return KeyedRequest(
                owner="sim", key=key, fingerprint=key, route="allocate", path="/", status=200
            )

        def send() -> None:
            with Ledger.keyed(keyed()):
                self.ledger.allocate(payment.key, plan, ACTOR)

        result = self.act(self._allocation_text(payment, plan) + f" [key {key}]", ok, send)
        if result is REFUSED:
            return
        self._allocated(pay, plan)
        before = self.head()
        with contextlib.suppress(KeyAlreadyCommitted, BillingError):
            send()
            raise AssertionError(f"replay of key {key} was accepted a second time")
        say(f"  (replayed key {key}: nothing written)")
        assert self.head() == before, f"replay of key {key} wrote events"

    # ----------------------------------------------------------- invariants

    @invariant()
    def money_never_goes_wrong(self) -> None:
        folds = LogFolds(self.ledger)
        invoices = {i.id: i for i in folds.invoices()}
        payments = {p.id: p for p in folds.payments()}
        assert set(invoices) == set(self.model.invoices), (
            "the ledger's invoices are not the model's"
        )
        assert set(payments) == set(self.model.payments), (
            "the ledger's payments are not the model's"
        )
        for invoice_id, mine in self.model.invoices.items():
            theirs = invoices[invoice_id]
            assert mine.outstanding >= 0, f"{mine.name}: outstanding {mine.outstanding} < 0"
            assert _figures(theirs) == mine.snapshot(), (
                f"{mine.name}: ledger (state, number, lines, total, credited, allocated,"
                f" outstanding) = {_figures(theirs)}, the model says {mine.snapshot()}"
            )
        for payment_id, pay in self.model.payments.items():
            recorded = payments[payment_id]
            assert pay.allocated + pay.refunded <= pay.amount, f"{pay.name} over-used"
            assert (recorded.status, recorded.allocated, recorded.refunded) == (
                pay.status,
                pay.allocated,
                pay.refunded,
            ), f"{pay.name}: ledger {recorded.status} {recorded.allocated} {recorded.refunded}"
        self._numbers_are_gapless(invoices, folds)
        self.snapshots.append(
            (self.clock.now, {i: inv.snapshot() for i, inv in self.model.invoices.items()})
        )
        self._read_models_agree()
        findings, _ = verify_store(self.ledger, self.reads)
        assert findings == [], f"audit verify: {findings}"
        self._as_of_samples()

    def _numbers_are_gapless(self, invoices: dict[UUID, Invoice], folds: LogFolds) -> None:
        numbers = [i.number for i in invoices.values() if i.number]
        numbers += [n.number for n in folds.credit_notes()]
        series: dict[str, list[int]] = {}
        for number in numbers:
            series.setdefault(number[:-6], []).append(int(number[-6:]))
        for prefix, taken in series.items():
            assert sorted(taken) == list(range(1, len(taken) + 1)), f"series {prefix}: {taken}"
            assert self.model.numbers.get(prefix) == len(taken), f"series {prefix}"

    def _read_models_agree(self) -> None:
        self.runner.catch_up()
        differences = reconcile(self.ledger, self.store)
        assert differences == [], f"reconcile: {differences}"
        rows = queries_for(self.ledger).balances(limit=500).items
        credit = {row["customer_account"]: D(row["unallocated"]) for row in rows}
        owed = {row["customer_account"]: D(row["outstanding"]) for row in rows}
        for account in self.model.customers:
            assert credit.get(account, ZERO) == self.model.credit(account), (
                f"{account}: customer credit {credit.get(account)}, the model says"
                f" {self.model.credit(account)} (Σ unallocated)"
            )
            assert owed.get(account, ZERO) == self.model.owed(account), f"{account}: owed"

    def _as_of_samples(self) -> None:
        """``invoice show --as-of`` at a few earlier steps' moments (all of them at the end)."""
        count = len(self.snapshots)
        for index in sorted({count // 2, count - 2, count // 3} - {-1, count - 1}):
            if index >= 0:
                self._check_as_of(index)

    def _check_as_of(self, index: int) -> None:
        moment, expected = self.snapshots[index]
        for invoice_id, figures in expected.items():
            then = self.ledger.as_of(Invoice, invoice_id, at=moment)
            assert _figures(then) == figures, (
                f"invoice show {self.model.invoices[invoice_id].name} --as-of {moment}:"
                f" {_figures(then)}, the model recorded {figures}"
            )

    def check_every_earlier_moment(self) -> None:
        for index in range(len(self.snapshots)):
            self._check_as_of(index)

    @initialize()
    def start(self) -> None:
        say(f"  -- a fresh store; the clock reads {self.clock.now:%Y-%m-%d %H:%M} UTC --")


def _figures(invoice: Invoice) -> tuple[object, ...]:
    return (
        invoice.state,
        invoice.number,
        len(invoice.lines),
        invoice.totals.total,
        invoice.credited,
        invoice.allocated,
        invoice.outstanding,
    )


def _destination(call: m.Call) -> str:
    return "UK Mobile" if int(call.call_id[1:]) % 2 else "France"


def _main_invoice(who: m.Customer, period: Period) -> UUID:
    """The billing run's invoice of (customer, period): uuid5 of the business key
    (docs/usage-billing.md, "Idempotent by construction")."""
    return uuid5(NAMESPACE_URL, f"tollbook:usage-invoice:{who.id}:{period.start}:{period.end}")


def simulation_for(base_url: str, workdir: Path) -> type[LedgerSimulation]:
    """The state machine on stores beside ``base_url`` (the ``store_url`` fixture's)."""
    return type("LedgerSimulation", (LedgerSimulation,), {"base_url": base_url, "workdir": workdir})
