"""Re-rating CDRs from a rate card: longest-prefix match, billing increments, what-if first.

Rate card CSV columns: ``prefix, destination, rate_per_minute, connection_fee, increments``
(increments ``60/60``, ``1/1``, ``30/6``: first block, then each next block, in seconds).

What-if (the default) changes nothing and reports the difference per customer. Applying it
rewrites the charge of CDRs that are not invoiced yet; for a period that is already invoiced
the CDRs are left as billed and the difference becomes a document instead: a credit note on
the issued invoice when the new rates are lower, a supplementary invoice when higher. Both
are idempotent per (invoice, rate card).
"""

from __future__ import annotations

import csv
import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from uuid import uuid5

import structlog

from adapters.ledger.application import Ledger
from adapters.ledger.folds import LogFolds
from adapters.queries import every_customer
from adapters.store.database import Database
from adapters.usage.generations import live_invoice
from adapters.usage.schema import ensure_schema
from domain.customer import Customer
from domain.errors import AlreadyExists, InvalidInput
from domain.invoice_line import InvoiceLine, LineSource
from domain.money import round_half_up, round_to_currency
from domain.pricing import tiered_amount
from domain.usage import (
    MICROS,
    Period,
    covered_batch,
    minutes,
    row_hash,
    utc_window,
)

log = structlog.get_logger("tollbook.rating")

UNBOUNDED = 2**62  # "every import batch"

CARD_COLUMNS = ("prefix", "destination", "rate_per_minute", "connection_fee", "increments")


@dataclass(frozen=True)
class Rate:
    prefix: str
    destination: str
    per_minute: Decimal
    connection_fee: Decimal
    first: int
    step: int

    def billed_seconds(self, duration: int) -> int:
        """60/60 bills whole minutes, 30/6 a 30 s minimum then 6 s blocks; 0 s is free."""
        if duration <= 0:
            return 0
        if duration <= self.first:
            return self.first
        return self.first + math.ceil((duration - self.first) / self.step) * self.step

    def charge_micros(self, duration: int) -> int:
        billed = self.billed_seconds(duration)
        if billed == 0:
            return 0
        amount = self.connection_fee + self.per_minute * billed / 60
        return int(round_half_up(amount.scaleb(MICROS), Decimal(1)))


@dataclass(frozen=True)
class RateCard:
    rates: dict[str, Rate]
    sha256: str
    longest: int

    def match(self, dialled: str) -> Rate | None:
        """The rate of the longest prefix of the dialled number (leading + or 00 ignored)."""
        number = dialled.lstrip("+")
        number = number[2:] if number.startswith("00") else number
        for length in range(min(self.longest, len(number)), 0, -1):
            rate = self.rates.get(number[:length])
            if rate is not None:
                return rate
        return None


def load_rate_card(path: Path) -> RateCard:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise InvalidInput(f"cannot read rate card {path}: {error.strerror}") from None
    rows = csv.DictReader(data.decode("utf-8-sig").splitlines())
    if tuple(name.strip() for name in rows.fieldnames or ()) != CARD_COLUMNS:
        raise InvalidInput(f"rate card {path} must have the header {','.join(CARD_COLUMNS)}")
    rates: dict[str, Rate] = {}
    for row in rows:
        where = f"rate card {path} line {rows.line_num}"
        prefix = row["prefix"].strip().lstrip("+")
        if not prefix.isdigit():
            raise InvalidInput(f"{where}: prefix must be digits, got {row['prefix']!r}")
        if prefix in rates:
            raise InvalidInput(f"{where}: prefix {prefix} appears twice")
        try:
            first, step = (int(part) for part in row["increments"].split("/"))
            per_minute, fee = Decimal(row["rate_per_minute"]), Decimal(row["connection_fee"])
        except (ValueError, ArithmeticError):
            raise InvalidInput(f"{where}: unreadable rate or increments") from None
        if first <= 0 or step <= 0 or per_minute < 0 or fee < 0:
            raise InvalidInput(f"{where}: rates must be >= 0 and increments > 0")
        rates[prefix] = Rate(prefix, row["destination"].strip(), per_minute, fee, first, step)
    if not rates:
        raise InvalidInput(f"rate card {path} has no rates")
    return RateCard(rates, hashlib.sha256(data).hexdigest(), max(map(len, rates)))


@dataclass
class CustomerRerating:
    account: str
    currency: str
    calls: int = 0
    unmatched: int = 0
    old_micros: int = 0
    new_micros: int = 0
    invoiced: bool = False
    action: str = "what-if"
    document: str | None = None
    # (call id, billed seconds, charge micros, rate, row hash) of CDRs to rewrite on --apply
    changes: list[tuple[str, int, int, int, str, int]] = field(default_factory=list, repr=False)

    @property
    def difference(self) -> Decimal:
        return Decimal(self.new_micros - self.old_micros).scaleb(-MICROS)


def rerate(
    ledger: Ledger,
    db: Database,
    card: RateCard,
    period: Period,
    *,
    customers: Sequence[str] = (),
    apply: bool = False,
    actor: str = "rerating",
) -> list[CustomerRerating]:
    """Price the period's CDRs with ``card``; change things only when ``apply`` is set."""
    ensure_schema(db)
    chosen = [ledger.customer(a) for a in customers] if customers else every_customer(ledger)
    results = []
    for customer in chosen:
        result = _rate_customer(ledger, db, card, period, customer)
        if result.calls == 0:
            continue
        if apply and result.new_micros != result.old_micros:
            _apply(ledger, db, card, period, customer, result, actor)
        results.append(result)
    return results


def _rate_customer(
    ledger: Ledger, db: Database, card: RateCard, period: Period, customer: Customer
) -> CustomerRerating:
    account = customer.registered.account_number
    zone = customer.profile_on(period.end).time_zone
    start, end = utc_window(period, zone)
    main = live_invoice(ledger, customer.id, period)
    # an unbilled period: every CDR; an invoiced one: only the batches its invoice billed
    through = covered_batch(main.lines.values()) if main else UNBOUNDED
    result = CustomerRerating(account, customer.currency, invoiced=main is not None)
    prices = {p.destination: p for p in customer.profile_on(period.end).usage_prices}
    # a destination priced by tiers: (old, new) billed seconds over the period
    tiered: dict[str, list[int]] = {}
    with db.connect() as conn:
        rows = conn.execute(
            db.sql(
                "SELECT call_id, start_epoch, dialled, duration, billed_seconds, charge_micros,"
                " destination FROM usage_cdrs WHERE account = ? AND start_epoch >= ?"
                " AND start_epoch < ? AND batch <= ?"
            ),
            (account, int(start.timestamp()), int(end.timestamp()), through),
        )
        for call_id, start_epoch, dialled, duration, billed, charge, destination in rows:
            result.calls += 1
            rate = card.match(dialled)
            seconds = tiered.setdefault(destination, [0, 0]) if destination in prices else None
            if rate is None:
                result.unmatched += 1
                if seconds is not None:  # unmatched: billed as it was
                    seconds[0] += int(billed)
                    seconds[1] += int(billed)
                continue
            new, rebilled = rate.charge_micros(int(duration)), rate.billed_seconds(int(duration))
            if seconds is not None:
                seconds[0] += int(billed)
                seconds[1] += rebilled
            else:
                result.old_micros += int(charge)
                result.new_micros += new
            if (new != int(charge) or rebilled != int(billed)) and main is None:
                digest = row_hash(call_id, account, int(start_epoch), rebilled, new)
                result.changes.append(
                    (call_id, int(start_epoch), rebilled, new, str(rate.per_minute), digest)
                )
    for destination, (old_seconds, new_seconds) in tiered.items():
        # tiers price the period's minutes, not each call: what the invoice bills, before
        # and after (the billing run's own rounding: domain/usage.py, domain/pricing.py)
        price = prices[destination]
        result.old_micros += _micros(tiered_amount(price, minutes(old_seconds), result.currency))
        result.new_micros += _micros(tiered_amount(price, minutes(new_seconds), result.currency))
    return result


def _micros(amount: Decimal) -> int:
    return int(amount.scaleb(MICROS))


def _apply(
    ledger: Ledger,
    db: Database,
    card: RateCard,
    period: Period,
    customer: Customer,
    result: CustomerRerating,
    actor: str,
) -> None:
    if not result.invoiced:
        with db.connect() as conn:
            conn.cursor().executemany(
                db.sql(
                    "UPDATE usage_cdrs SET billed_seconds = ?, charge_micros = ?, rate = ?,"
                    " row_hash = ? WHERE account = ? AND start_epoch = ? AND call_id = ?"
                ),
                [
                    (b, c, r, h, result.account, start, call_id)
                    for call_id, start, b, c, r, h in result.changes
                ],
            )
        result.action = f"re-rated {len(result.changes)} CDRs"
        return
    invoice = live_invoice(ledger, customer.id, period)
    assert invoice is not None  # result.invoiced: it was found when the customer was rated
    main_id = invoice.id
    reason = f"re-rating {period.label} with rate card {card.sha256[:12]}"
    difference = round_to_currency(result.difference, result.currency)
    if difference == 0:
        result.action = "difference below the currency's smallest unit: nothing to adjust"
        return
    if difference > 0:
        profile = customer.profile_on(ledger.today())
        adjustment_id = uuid5(main_id, f"rerate:{card.sha256}")
        line = InvoiceLine(
            line_id=uuid5(adjustment_id, "rerate"),
            description=f"Re-rating adjustment for {period.label} ({result.calls} calls)",
            quantity=Decimal(1),
            unit_price=difference,
            tax_rate=profile.tax_rate,
            tax_description=profile.tax_description,
            period_start=period.start,
            period_end=period.end,
            kind="usage",
            source=LineSource(key=f"rerate:{card.sha256}", calls=result.calls),
        )
        try:
            ledger.create_invoice(
                customer.id,
                actor,
                period_start=period.start,
                period_end=period.end,
                memo=reason,
                invoice_id=adjustment_id,
                lines=[line],
            )
            result.action, result.document = "supplementary invoice", str(adjustment_id)
        except AlreadyExists:
            result.action, result.document = "already adjusted", str(adjustment_id)
        return
    if invoice.state != "issued":
        result.action = f"invoice {invoice.label} is {invoice.state}: issue it, then re-rate"
        return
    for note in LogFolds(ledger).credit_notes(invoice.id):
        if any(event.reason == reason for event in ledger.events_of(note.id)):
            result.action, result.document = "already adjusted", note.number
            return
    number = ledger.issue_credit_note(invoice.id, actor, reason, amount=-difference)
    result.action, result.document = "credit note", number
    log.info("re-rating credit note", aggregate_id=str(invoice.id), number=number)
