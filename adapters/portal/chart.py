"""The customer page's small chart, invoiced vs paid per month, as server-side SVG geometry."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from adapters.queries.reports import MonthFigures

WIDTH, HEIGHT = 640, 200
TOP, BOTTOM, LEFT = 16, 28, 8
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    kind: str  # "invoiced" or "paid"
    label: str  # what a screen reader (and the tooltip) says


@dataclass(frozen=True)
class Chart:
    currency: str
    width: int
    height: int
    bars: list[Bar]
    ticks: list[tuple[float, str]]  # (x of the month's centre, month label)
    baseline: float
    peak: Decimal


def month_label(key: str) -> str:
    year, month = key.split("-")
    return f"{MONTHS[int(month) - 1]} {year[2:]}"


def chart(currency: str, figures: list[MonthFigures]) -> Chart:
    peak = max([f.invoiced for f in figures] + [f.paid for f in figures] + [Decimal(0)])
    plot = HEIGHT - TOP - BOTTOM
    slot = (WIDTH - LEFT * 2) / max(1, len(figures))
    bar = slot * 0.36
    baseline = HEIGHT - BOTTOM
    bars: list[Bar] = []
    ticks: list[tuple[float, str]] = []
    for index, figure in enumerate(figures):
        left = LEFT + index * slot + slot * 0.12
        for offset, kind, value in (
            (0.0, "invoiced", figure.invoiced),
            (bar, "paid", figure.paid),
        ):
            height = float(value / peak) * plot if peak else 0.0
            bars.append(
                Bar(
                    x=round(left + offset, 1),
                    y=round(baseline - height, 1),
                    width=round(bar, 1),
                    height=round(height, 1),
                    kind=kind,
                    label=f"{month_label(figure.month)}: {kind} {value} {currency}",
                )
            )
        ticks.append((round(LEFT + index * slot + slot / 2, 1), month_label(figure.month)))
    return Chart(currency, WIDTH, HEIGHT, bars, ticks, baseline, peak)
