"""Usage billing, pure: billing periods, time-zone windows, proration, and usage totals -> lines.

No I/O here. The adapters aggregate CDRs in SQL into :class:`UsageTotal` rows; this module turns
those rows and a customer's package assignments into invoice lines, and decides which UTC
instants belong to a customer's period (CDRs are UTC, periods are in the customer's zone).
"""

from __future__ import annotations

import calendar
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from hashlib import sha1
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5
from zoneinfo import ZoneInfo

from pydantic import TypeAdapter

from domain.customer import Assignment, CarriedCharges
from domain.errors import InvalidDate, InvalidInput
from domain.invoice_line import InvoiceLine, LineSource
from domain.limits import LINE_DESCRIPTION, check_date
from domain.line_tax import default_terms
from domain.money import line_net, round_half_up, round_to_currency
from domain.package import PackageTerms
from domain.pricing import TieredPrice, tier_charges, tier_label
from domain.tax_treatment import TaxTreatment
from domain.values import LineGrouping

#: CDR charges are stored as integer millionths of the currency unit (exact sums in SQL).
MICROS = 6

# ------------------------------------------------------------------ CDR limits
# What one CDR row may hold (docs/usage-billing.md, "Limits of a row"). A row beyond any of
# them is rejected on its own; the rest of the file still imports. They are sanity bounds
# against corrupt or hostile exports, far above any real call, chosen so that every value
# fits its column (INTEGER seconds, BIGINT micros) and sums of many stay exact in SQL.

#: ``duration`` and ``billed_duration``: whole seconds, at most a week (switches cut longer
#: calls into partial CDRs).
CDR_MAX_SECONDS = 7 * 86_400
#: ``charge`` of one call, in currency units (at most MICROS decimals).
CDR_MAX_CHARGE = Decimal(1_000_000)
#: ``rate_per_minute``, in currency units (at most CDR_RATE_PLACES decimals).
CDR_MAX_RATE = Decimal(1_000_000)
CDR_RATE_PLACES = 8
#: ``start_time``: calls from 1 January of the first year to 31 December of the last (UTC).
CDR_FIRST_YEAR = 2000
CDR_LAST_YEAR = 2099
CDR_FIRST_EPOCH = int(datetime(CDR_FIRST_YEAR, 1, 1, tzinfo=UTC).timestamp())
CDR_END_EPOCH = int(datetime(CDR_LAST_YEAR + 1, 1, 1, tzinfo=UTC).timestamp())
#: Longest text of each text column, in characters. Every field of a row must also be
#: printable (``str.isprintable``: no control, format or line/paragraph-separator
#: characters, so no NUL, ANSI escape or right-to-left override), and ``call_id`` non-empty.
#: ``account`` must name a customer, which bounds it; ``currency`` must be the customer's.
CDR_MAX_CALL_ID = 128
CDR_MAX_DIALLED = 64
CDR_MAX_PREFIX = 32
CDR_MAX_DESTINATION = 100
LINE_TEXT = LINE_DESCRIPTION.max_length
#: Prorated unit prices keep this many decimals; the line net is then rounded to the currency.
PRORATION_PLACES = Decimal("0.000001")


@dataclass(frozen=True, slots=True)
class Period:
    """A billing period: calendar dates, both inclusive, in the customer's own time zone."""

    start: date
    end: date

    def __post_init__(self) -> None:
        check_date(self.start, what="billing period start")
        check_date(self.end, what="billing period end")
        if self.end < self.start:
            raise InvalidDate(f"billing period ends ({self.end}) before it starts ({self.start})")

    @classmethod
    def month(cls, text: str) -> Period:
        """``2026-10`` -> 1 to 31 October 2026."""
        try:
            year, month = (int(part) for part in text.split("-"))
            last = calendar.monthrange(year, month)[1]
            return cls(date(year, month, 1), date(year, month, last))
        except (ValueError, TypeError):
            raise InvalidDate(f"period must be a month like 2026-10: {text!r}") from None

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def label(self) -> str:
        if self.start.day == 1 and self.end == Period.month(f"{self.start:%Y-%m}").end:
            return f"{self.start:%Y-%m}"
        return f"{self.start} to {self.end}"

    def each_day(self) -> Iterable[date]:
        return (self.start + timedelta(days=n) for n in range(self.days))


def local_midnight(day: date, zone: str) -> datetime:
    """The UTC instant at which ``day`` starts in ``zone`` (DST-aware)."""
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(zone)).astimezone(UTC)


@lru_cache(maxsize=1024)  # pure; a billing run asks once per customer, for a few zones
def utc_window(period: Period, zone: str) -> tuple[datetime, datetime]:
    """[start, end) in UTC of a period read in the customer's zone."""
    return local_midnight(period.start, zone), local_midnight(period.end + timedelta(days=1), zone)


def day_boundaries(period: Period, zone: str) -> list[int]:
    """Epoch seconds at which each local day of the period ends (the first is day 1's end)."""
    return [
        int(local_midnight(day + timedelta(days=1), zone).timestamp()) for day in period.each_day()
    ]


# ------------------------------------------------------------------ packages


def active_days(assignment: Assignment, start: date, end: date) -> int:
    """Days in [start, end] on which the assignment is active."""
    first = max(start, assignment.start_date)
    last = min(end, assignment.end_date or end)
    return max(0, (last - first).days + 1)


def _months(period: Period) -> Iterable[tuple[date, date, int]]:
    """The calendar months a period touches, clipped to it, with each month's length."""
    cursor = period.start
    while cursor <= period.end:
        length = calendar.monthrange(cursor.year, cursor.month)[1]
        month_end = cursor.replace(day=length)
        yield cursor, min(month_end, period.end), length
        cursor = month_end + timedelta(days=1)


def charged_fraction(assignment: Assignment, terms: PackageTerms, period: Period) -> Decimal:
    """How many price units of a recurring package the period owes (prorated by days).

    monthly: per calendar month, active days / days in that month; weekly: active days / 7;
    daily: active days; one-off: 1 in the period containing the start date, else 0.
    """
    if terms.frequency == "one-off":
        return Decimal(1) if period.start <= assignment.start_date <= period.end else Decimal(0)
    if terms.frequency == "daily":
        return Decimal(active_days(assignment, period.start, period.end))
    if terms.frequency == "weekly":
        return Decimal(active_days(assignment, period.start, period.end)) / 7
    return sum(
        (
            Decimal(active_days(assignment, first, last)) / length
            for first, last, length in _months(period)
        ),
        Decimal(0),
    )


def package_lines(
    invoice_id: UUID,
    period: Period,
    assignments: Iterable[Assignment],
    packages: Mapping[UUID, PackageTerms],
    tax_rate: Decimal,
    tax_description: str,
    treatment: TaxTreatment = TaxTreatment.STANDARD,
) -> list[InvoiceLine]:
    """Recurring charges of every assignment active in the period, and setup prices of the
    assignments that start in it (the first invoice after assignment). A package's own rate
    applies unless the customer's tax ``treatment`` charges no VAT (domain/line_tax.py)."""
    lines: list[InvoiceLine] = []
    for assignment in sorted(assignments, key=lambda a: (a.start_date, str(a.assignment_id))):
        days = active_days(assignment, period.start, period.end)
        if days == 0:
            continue
        terms = packages[assignment.package_id]
        rate, text = default_terms(
            treatment, tax_rate, tax_description, terms.tax_rate, terms.tax_description
        )
        fraction = charged_fraction(assignment, terms, period)
        common = {
            "quantity": assignment.quantity,
            "tax_rate": rate,
            "tax_description": text,
            "package_id": assignment.package_id,
        }
        if fraction > 0:
            full = days == period.days and terms.frequency == "monthly" and fraction == 1
            note = "" if full else f" ({days} of {period.days} days)"
            lines.append(
                InvoiceLine(
                    line_id=line_id_for(invoice_id, f"package:{assignment.assignment_id}"),
                    description=f"{terms.name}{note}",
                    unit_price=_prorated(terms.unit_price, fraction),
                    period_start=max(period.start, assignment.start_date),
                    period_end=min(period.end, assignment.end_date or period.end),
                    kind="package",
                    source=LineSource(
                        key=f"assignment:{assignment.assignment_id}",
                        days=days,
                        period_days=period.days,
                    ),
                    **common,
                )
            )
        starts_here = period.start <= assignment.start_date <= period.end
        if starts_here and terms.setup_price > 0:
            lines.append(
                InvoiceLine(
                    line_id=line_id_for(invoice_id, f"setup:{assignment.assignment_id}"),
                    description=f"{terms.name} (setup)",
                    unit_price=terms.setup_price,
                    period_start=assignment.start_date,
                    period_end=assignment.start_date,
                    kind="setup",
                    source=LineSource(key=f"setup:{assignment.assignment_id}"),
                    **common,
                )
            )
    return lines


def monthly_fraction(period: Period, start: date | None = None, end: date | None = None) -> Decimal:
    """Months of ``period`` (per calendar month, days / days in that month) within
    [start, end]: what a monthly amount is prorated by."""
    first, last = start or period.start, end or period.end
    return sum(
        (
            Decimal(max(0, (min(month_end, last) - max(month_start, first)).days + 1)) / length
            for month_start, month_end, length in _months(period)
        ),
        Decimal(0),
    )


def commitment(
    period: Period,
    minimum_spend: Decimal,
    assignments: Iterable[Assignment],
    packages: Mapping[UUID, PackageTerms],
    currency: str,
) -> Decimal:
    """The period's minimum spend on usage: the customer's monthly minimum plus each active
    package's (per unit assigned), prorated per calendar month as monthly packages are,
    rounded to the currency once."""
    total = minimum_spend * monthly_fraction(period)
    for assignment in assignments:
        terms = packages[assignment.package_id]
        if terms.minimum_spend:
            fraction = monthly_fraction(period, assignment.start_date, assignment.end_date)
            total += terms.minimum_spend * assignment.quantity * fraction
    return round_to_currency(total, currency)


def top_up_line(
    invoice_id: UUID,
    period: Period,
    usage: Decimal,
    committed: Decimal,
    currency: str,
    tax_rate: Decimal,
    tax_description: str,
) -> InvoiceLine | None:
    """The "Minimum commitment top-up" line when the period's usage (the net of its usage
    lines) is below what the customer committed to spend; None when it is not."""
    if usage >= committed:
        return None
    return InvoiceLine(
        line_id=line_id_for(invoice_id, "commitment"),
        description=f"Minimum commitment top-up (usage {usage} of {committed} {currency})",
        quantity=Decimal(1),
        unit_price=committed - usage,
        tax_rate=tax_rate,
        tax_description=tax_description,
        period_start=period.start,
        period_end=period.end,
        kind="commitment",
        source=LineSource(key="commitment"),
    )


def carried_lines(invoice_id: UUID, carried: Iterable[CarriedCharges]) -> list[InvoiceLine]:
    """The lines of charges carried forward, as lines of the invoice ``invoice_id`` takes
    them on: new ids (uuid5 of the invoice and the carried line), the period named."""
    lines = []
    for charges in carried:
        label = Period(charges.period_start, charges.period_end).label
        for line in charges.lines:
            note = f" (carried forward from {label})"
            text = line.description[: LINE_TEXT - len(note)] + note
            lines.append(
                line.model_copy(
                    update={
                        "line_id": line_id_for(
                            invoice_id, f"carried:{charges.invoice_id}:{line.line_id}"
                        ),
                        "description": text,
                    }
                )
            )
    return lines


def _prorated(price: Decimal, fraction: Decimal) -> Decimal:
    """Whole periods keep the price exactly; a part period keeps PRORATION_PLACES decimals."""
    if fraction == fraction.to_integral_value():
        return price * fraction
    return round_half_up(price * fraction, PRORATION_PLACES)


# --------------------------------------------------------------------- usage


@dataclass(frozen=True, slots=True)
class UsageTotal:
    """One group of a customer's CDRs, summed in SQL: the raw material of one usage line.

    ``key`` is the destination name, the day index within the period (grouping ``day``), or
    "" (grouping ``none``). ``hash_sum`` is the sum of the CDRs' 32-bit row hashes.
    """

    key: str | int
    calls: int
    billed_seconds: int
    charge_micros: int
    hash_sum: int


def usage_digest(calls: int, billed_seconds: int, charge_micros: int, hash_sum: int) -> str:
    """An order-independent digest of a set of CDRs (documented in docs/usage-billing.md)."""
    text = f"{calls}|{billed_seconds}|{charge_micros}|{hash_sum}"
    return "cdr1-" + hashlib.sha256(text.encode()).hexdigest()[:32]


def row_hash(
    call_id: str, account: str, start_epoch: int, billed_seconds: int, charge_micros: int
) -> int:
    """A CDR's 32-bit content hash; sums of these stay exact in a 64-bit SQL SUM."""
    text = f"{call_id}|{account}|{start_epoch}|{billed_seconds}|{charge_micros}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")


#: Billed minutes on a usage line keep 2 decimals (docs/money.md).
MINUTE_PLACES = Decimal("0.01")


def minutes(billed_seconds: int) -> Decimal:
    return round_half_up(Decimal(billed_seconds) / 60, MINUTE_PLACES)


@dataclass(frozen=True, slots=True)
class UsageScope:
    """What a set of usage lines covers: the UTC window and the import batches (after, through]."""

    period: Period
    zone: str
    after_batch: int
    through_batch: int


def usage_lines(
    invoice_id: UUID,
    totals: Sequence[UsageTotal],
    grouping: LineGrouping,
    scope: UsageScope,
    tax_rate: Decimal,
    tax_description: str,
    currency: str,
    prices: Mapping[str, TieredPrice] | None = None,
) -> list[InvoiceLine]:
    """One line per group: minutes x rate = the group's amount (``usage_quantity``), the
    call count in the description. A destination with a tiered price (``prices``, by
    destination name; grouping ``destination``) gets a line per tier instead, priced by the
    tiers over the period's minutes (domain/pricing.py)."""
    window_start, window_end = utc_window(scope.period, scope.zone)
    days = _days(scope.period)
    lines: list[dict[str, Any]] = []
    for total in sorted(
        totals, key=lambda t: (t.key if isinstance(t.key, int) else -1, str(t.key))
    ):
        if grouping == "destination":
            key, text, start, end = f"destination:{total.key}", f"Calls to {total.key}", None, None
        elif grouping == "day":
            if not isinstance(total.key, int) or not 0 <= total.key < len(days):
                raise InvalidInput(f"day index {total.key!r} outside the period")
            day = days[total.key]
            key, text, start, end = f"day:{day}", f"Calls on {day}", day, day
        else:
            key, text, start, end = "all", f"Calls {scope.period.label}", None, None
        source = {
            "key": key,
            "calls": total.calls,
            "billed_seconds": total.billed_seconds,
            "digest": usage_digest(
                total.calls, total.billed_seconds, total.charge_micros, total.hash_sum
            ),
            "window_start": window_start,
            "window_end": window_end,
            "after_batch": scope.after_batch,
            "through_batch": scope.through_batch,
        }
        common = {
            "tax_rate": tax_rate,
            "tax_description": tax_description,
            "period_start": start or scope.period.start,
            "period_end": end or scope.period.end,
            "kind": "usage",
            "source": source,
        }
        price = (prices or {}).get(str(total.key)) if grouping == "destination" else None
        if price is not None:
            lines.extend(_tier_lines(invoice_id, key, text, total, price, common))
            continue
        charge = Decimal(total.charge_micros).scaleb(-MICROS)
        quantity, unit_price, unit = usage_quantity(total.billed_seconds, charge, currency)
        lines.append(
            {
                "line_id": line_id_for(invoice_id, f"usage:{key}"),
                "description": f"{text} ({_calls(total.calls)})",
                "quantity": quantity,
                "unit_price": unit_price,
                "unit": unit,
                **common,
            }
        )
    # validated together, as fully as one by one (a customer's lines in one call)
    return _LINES.validate_python(lines)


def _tier_lines(
    invoice_id: UUID,
    key: str,
    text: str,
    total: UsageTotal,
    price: TieredPrice,
    common: dict[str, Any],
) -> list[dict[str, Any]]:
    """A tiered destination's lines: one per tier reached (graduated) or one at the reached
    tier's rate (volume); the first carries the group's source, the others its key."""
    charges = tier_charges(price, minutes(total.billed_seconds))
    lines = []
    for number, charge in enumerate(charges):
        label = tier_label(charge.tier)
        what = f"volume tier {label}" if price.mode == "volume" else label
        source = common["source"] if number == 0 else {"key": f"{key}:tier:{number}"}
        lines.append(
            {
                **common,
                "line_id": line_id_for(invoice_id, f"usage:{key}:tier:{number}"),
                "description": f"{text} ({_calls(total.calls)}), {what}"
                if number == 0
                else f"{text}, {what}",
                "quantity": charge.minutes.quantize(MINUTE_PLACES),  # exact: bounds have 2
                "unit_price": charge.tier.rate,
                "unit": "min",
                "source": source,
            }
        )
    # no billed minutes (calls that connected for 0 s): nothing to price, no line
    return [line for line in lines if line["quantity"] > 0]


def _calls(count: int) -> str:
    return f"{count:,} call" + ("" if count == 1 else "s")


#: A usage line's unit price keeps at most this many decimals (the ledger's price places).
RATE_PLACES = Decimal("0.00000001")


def usage_quantity(
    billed_seconds: int, charge: Decimal, currency: str
) -> tuple[Decimal, Decimal, str]:
    """(quantity, unit price, unit) of a usage line whose amount is ``charge``, rounded.

    The quantity is the billed minutes to 2 decimals; the unit price the average rate per
    minute to 8 decimals: ``charge / minutes``, or, if that does not give it,
    ``round(charge) / minutes``, so that ``round(quantity x unit price)`` is exactly
    ``round(charge)``: the line says what the rating summed. When no such rate exists (no
    billed minutes, or so many that an 8-decimal rate cannot hit the cent), the line is
    quantity 1 at the charge, without a unit (docs/money.md)."""
    target = round_to_currency(charge, currency)
    quantity = minutes(billed_seconds)
    if quantity > 0:
        for amount in (charge, target):
            rate = round_half_up(amount / quantity, RATE_PLACES).normalize()
            if rate >= 0 and line_net(quantity, rate, currency) == target:
                return quantity, _plain(rate), "min"
    return Decimal(1), charge, ""


def _plain(value: Decimal) -> Decimal:
    """Without an exponent (``1E+1`` -> ``10``), as every other price is written."""
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value


#: Validates a list of invoice lines in one call (the billing run makes ~25,000 of them).
_LINES = TypeAdapter(list[InvoiceLine])


@lru_cache(maxsize=64)
def _days(period: Period) -> tuple[date, ...]:
    return tuple(period.each_day())


def covered_batch(lines: Iterable[InvoiceLine]) -> int:
    """The last import batch an invoice's usage lines cover (0: none of the period's usage)."""
    return max(
        (line.source.through_batch for line in lines if line.kind == "usage" and line.source),
        default=0,
    )


# ----------------------------------------------------------------------- ids


def line_id_for(invoice_id: UUID, key: str) -> UUID:
    """``uuid5(invoice_id, key)``, computed as uuid5 computes it, minus its import on every
    call (a billing run makes ~25,000 of these; this takes half the time)."""
    return UUID(bytes=sha1(invoice_id.bytes + key.encode()).digest()[:16], version=5)


def invoice_id_for(
    customer_id: UUID,
    period: Period,
    after_batch: int | None = None,
    replaces: UUID | None = None,
) -> UUID:
    """The billing run's invoice for (customer, period); a supplementary one names the batch
    its late usage starts after. Deterministic, so a second run cannot create it twice.

    ``replaces``: the voided main invoice this one bills the period again for. The first
    invoice of a period replaces nothing; once it is voided the run bills the period under
    ``invoice_id_for(customer, period, replaces=<the void one's id>)``, and so on along the
    chain of voids: every generation's id follows from the one before it, so a retried or
    crashed re-bill finds (or creates) the same invoice, never a second one. Supplementary
    invoices of a re-bill carry the same ``replaces`` (no clash with the voided chain's)."""
    base = f"tollbook:usage-invoice:{customer_id}:{period.start}:{period.end}"
    if replaces is not None:
        base = f"{base}:replaces:{replaces}"
    return uuid5(NAMESPACE_URL, base if after_batch is None else f"{base}:after:{after_batch}")
