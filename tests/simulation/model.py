"""The simulation's own model of the ledger: plain Decimal arithmetic, written from the docs
(docs/money.md, docs/lifecycle.md, docs/usage-billing.md), never from the project's code.

Nothing here imports tollbook: if the ledger's arithmetic or rules drift from what the docs
promise, the two disagree and the state machine says where.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Context, Decimal
from uuid import UUID

D = Decimal
ZERO = D(0)

#: ISO 4217 minor units of the currencies the simulation bills in (docs/money.md).
MINOR_UNITS = {"GBP": 2, "EUR": 2, "JPY": 0, "KWD": 3, "BHD": 3}

#: quantity x price can reach 41 digits: work them out exactly, round once (docs/money.md)
_WIDE = Context(prec=80)

MAX_QUANTITY = D(1_000_000_000)
MAX_DECIMALS = 8


def money_bound(currency: str) -> Decimal:
    """Every amount of money: abs(amount) < 10^(15 - minor units)."""
    return D(10) ** (15 - MINOR_UNITS[currency])


def rounded(amount: Decimal, currency: str) -> Decimal:
    """Half-up to the currency's minor units: the one rounding rule."""
    return amount.quantize(
        D(1).scaleb(-MINOR_UNITS[currency]), rounding=ROUND_HALF_UP, context=_WIDE
    )


def exact_in(amount: Decimal, currency: str) -> bool:
    return rounded(amount, currency) == amount


@dataclass(frozen=True)
class Line:
    quantity: Decimal
    unit_price: Decimal
    tax_rate: Decimal

    def net(self, currency: str) -> Decimal:
        return rounded(_WIDE.multiply(self.quantity, self.unit_price), currency)

    def tax(self, currency: str) -> Decimal:
        return rounded(_WIDE.multiply(self.net(currency), self.tax_rate) / 100, currency)

    def valid(self, currency: str) -> bool:
        """Within the documented limits of a line (docs/money.md, "Limits")."""
        return (
            ZERO < self.quantity <= MAX_QUANTITY
            and ZERO <= self.unit_price < money_bound(currency)
            and _places(self.quantity) <= MAX_DECIMALS
            and _places(self.unit_price) <= MAX_DECIMALS
            and ZERO <= self.tax_rate <= 100
        )


def _places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def total_of(lines: list[Line], currency: str, rounding: str = "per_line") -> Decimal:
    """Σ line net + the tax: each line's own tax rounded on its own (``per_line``), or per
    rate, the rate's nets summed then rounded once (``per_invoice_rate``; docs/money.md)."""
    net = sum((ln.net(currency) for ln in lines), ZERO)
    if rounding == "per_line":
        return net + sum((ln.tax(currency) for ln in lines), ZERO)
    by_rate: dict[Decimal, Decimal] = {}
    for ln in lines:
        by_rate[ln.tax_rate] = by_rate.get(ln.tax_rate, ZERO) + ln.net(currency)
    return net + sum(
        (
            rounded(_WIDE.multiply(rate_net, rate) / 100, currency)
            for rate, rate_net in by_rate.items()
        ),
        ZERO,
    )


@dataclass
class Customer:
    name: str  # the handle the script shows
    account: str
    currency: str
    tax_rate: Decimal
    id: UUID | None = None
    assignments: list[tuple[str, Decimal, date]] = field(
        default_factory=list
    )  # package, qty, start


@dataclass
class Package:
    name: str
    currency: str
    unit_price: Decimal
    setup_price: Decimal


@dataclass
class Invoice:
    name: str
    id: UUID
    customer: str  # account
    currency: str
    state: str = "draft"  # draft | issued | void
    lines: dict[UUID, Line] = field(default_factory=dict)
    number: str | None = None
    credited: Decimal = ZERO
    allocations: dict[UUID, Decimal] = field(default_factory=dict)  # payment id -> amount
    invoice_date: date = date(2026, 1, 1)  # the day it was drafted (the ledger's today)
    rounding: str = "per_line"  # the seller's tax rounding when drafted, then when issued
    billed_calls: tuple[str, ...] = ()  # call ids a billing run put on it
    period: str | None = None  # "2026-10" for a billing run's invoice

    @property
    def total(self) -> Decimal:
        return total_of(list(self.lines.values()), self.currency, self.rounding)

    @property
    def allocated(self) -> Decimal:
        return sum(self.allocations.values(), ZERO)

    @property
    def outstanding(self) -> Decimal:
        if self.state != "issued":
            return ZERO
        return self.total - self.credited - self.allocated

    def snapshot(self) -> tuple[object, ...]:
        """What ``invoice show`` must say about it (at this moment, or as of it later)."""
        return (
            self.state,
            self.number,
            len(self.lines),
            self.total,
            self.credited,
            self.allocated,
            self.outstanding,
        )


@dataclass
class Payment:
    name: str
    id: UUID
    customer: str
    currency: str
    amount: Decimal
    status: str  # pending | completed | cancelled
    allocations: dict[UUID, Decimal] = field(default_factory=dict)  # invoice id -> amount
    refunded: Decimal = ZERO
    key: str | None = None

    @property
    def allocated(self) -> Decimal:
        return sum(self.allocations.values(), ZERO)

    @property
    def unallocated(self) -> Decimal:
        """Customer credit left on it: only a completed payment has any."""
        if self.status != "completed":
            return ZERO
        return self.amount - self.allocated - self.refunded


@dataclass
class Call:
    call_id: str
    account: str
    month: str  # "2026-10"
    duration: int
    charge_micros: int
    billed: bool = False
    imported_micros: int = 0  # the charge as the file had it

    def __post_init__(self) -> None:
        self.imported_micros = self.imported_micros or self.charge_micros


def usage_net(calls: list[Call], currency: str) -> Decimal:
    """A usage line: quantity 1 at the exact sum of the charges, rounded once."""
    return rounded(D(sum(c.charge_micros for c in calls)).scaleb(-6), currency)


def rerated_micros(duration: int, rate_per_minute: Decimal) -> int:
    """Rate card with 1/1 increments and no fee: billed = duration, charge = rate x s / 60,
    kept to whole micro-units (half-up)."""
    micros = _WIDE.multiply(rate_per_minute, D(duration)) / 60 * D(1_000_000)
    return int(micros.quantize(D(1), rounding=ROUND_HALF_UP, context=_WIDE))


@dataclass
class Model:
    customers: dict[str, Customer] = field(default_factory=dict)  # by account
    packages: dict[str, Package] = field(default_factory=dict)
    invoices: dict[UUID, Invoice] = field(default_factory=dict)  # by id
    payments: dict[UUID, Payment] = field(default_factory=dict)
    credit_notes: dict[str, tuple[str, Decimal]] = field(
        default_factory=dict
    )  # id -> (number, total)
    numbers: dict[str, int] = field(default_factory=dict)  # series prefix -> last sequence
    #: series prefix -> the latest invoice date it numbered: an earlier one is refused
    latest_dates: dict[str, date] = field(default_factory=dict)
    tax_rounding: str = "per_line"  # the seller's setting
    calls: list[Call] = field(default_factory=list)
    adjusted: set[tuple[UUID, Decimal]] = field(default_factory=set)  # (invoice, card rate)

    def next_number(self, prefix: str) -> str:
        """The next gapless number of a series, e.g. ``INV-2026-`` -> ``INV-2026-000003``."""
        return f"{prefix}{self.numbers.get(prefix, 0) + 1:06d}"

    def take_number(self, prefix: str) -> None:
        self.numbers[prefix] = self.numbers.get(prefix, 0) + 1

    def credit(self, account: str) -> Decimal:
        """Customer credit: Σ unallocated of their payments."""
        return sum((p.unallocated for p in self.payments.values() if p.customer == account), ZERO)

    def owed(self, account: str) -> Decimal:
        return sum((i.outstanding for i in self.invoices.values() if i.customer == account), ZERO)
