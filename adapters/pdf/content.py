"""What a printed document says, as plain strings and nothing else: no domain objects, no
geometry, no fpdf2.

Rendering (``adapters.pdf.render``) needs only this module of the document's side, so a batch's
worker process, which is handed documents read by the batch's own process, imports neither the
ledger nor the domain (docs/pdf.md, "Batches").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

Kind = Literal["invoice", "credit_note", "statement"]


@dataclass(frozen=True, slots=True)
class Party:
    """A seller or customer block."""

    label: str
    name: str
    address: tuple[str, ...] = ()
    tax_number: str = ""
    account: str = ""
    details: tuple[str, ...] = ()  # the seller's registration number and contact details


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the table, formatted."""

    description: str
    period: str
    quantity: str
    unit_price: str
    tax_rate: str
    net: str

    def cells(self) -> tuple[str, ...]:
        return (
            self.description,
            self.period,
            self.quantity,
            self.unit_price,
            self.tax_rate,
            self.net,
        )

    def texts(self) -> tuple[str, ...]:
        """What may hold any character (the rest are numbers, dates and rates)."""
        return (self.description, self.quantity)  # units may be any text


@dataclass(frozen=True, slots=True)
class StatementRow:
    """One line of a statement of account, formatted (adapters/pdf/statement.py)."""

    day: str
    description: str
    due: str
    debit: str
    credit: str
    balance: str

    def cells(self) -> tuple[str, ...]:
        return (self.day, self.description, self.due, self.debit, self.credit, self.balance)

    def texts(self) -> tuple[str, ...]:
        return self.cells()


@dataclass(frozen=True, slots=True)
class Column:
    """A column of a document's table: its title, width (mm) and alignment."""

    title: str
    width: float
    align: Literal["L", "R"]


@dataclass(frozen=True, slots=True)
class Figure:
    """One line of the totals block."""

    label: str
    amount: str
    strong: bool = False


@dataclass(frozen=True, slots=True)
class Document:
    kind: Kind
    heading: str  # "INVOICE" or "CREDIT NOTE"
    reference: str  # the number, or what stands in for it on a draft
    mark: str | None  # "DRAFT" or "VOID", printed across every page
    seller: Party
    customer: Party
    facts: tuple[tuple[str, str], ...]
    rows: Sequence[Row | StatementRow]
    figures: tuple[Figure, ...]
    notes: tuple[tuple[str, str], ...]  # (heading, text)
    currency: str
    title: str  # document metadata
    author: str
    created: datetime
    asks: str = ""  # one sentence: what is due and by when (heads a long document's summary)
    columns: tuple[Column, ...] = ()  # the table's, when not an invoice's (layout.COLUMNS)

    def texts(self) -> list[str]:
        """Every string that will be drawn (to pick the fonts the document needs)."""
        parties = [self.seller, self.customer]
        return [
            self.heading,
            self.reference,
            self.mark or "",
            self.asks,
            *(p.name for p in parties),
            *(line for p in parties for line in p.address),
            *(p.tax_number for p in parties),
            *(line for p in parties for line in p.details),
            *(text for fact in self.facts for text in fact),
            *(text for note in self.notes for text in note),
            *(f.label for f in self.figures),
            *(text for row in self.rows for text in row.texts()),
        ]
