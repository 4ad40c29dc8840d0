"""Every CSV file tollbook writes goes through here, so none can carry a spreadsheet formula.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read as a
formula by Excel, LibreOffice and Google Sheets (``=HYPERLINK(...)``, ``@SUM(...)``, DDE
payloads). As OWASP's "CSV Injection" advice says, such a text cell is written with a single
quote in front (``'=1+1``), so a spreadsheet shows it as text and a person sees what was typed.

Columns declared numeric (amounts, line numbers) keep plain decimal numbers as they are, so a
credit note's ``-5.00`` stays a number a spreadsheet can add up; anything else in a numeric
column (``-1+2``, ``-5.00@x``) is not a plain number and is neutralised like text.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import IO, Any

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# a plain decimal number: optional minus, digits, optional fraction (what amounts look like)
_PLAIN_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def neutralise(text: str) -> str:
    """``text`` as a spreadsheet will show it: a leading formula character gets a quote."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def cell(value: object, *, numeric: bool = False) -> str:
    """One cell's text. ``numeric``: a plain decimal number is kept as it is."""
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    text = format(value, "f") if isinstance(value, Decimal) else str(value)
    if numeric and _PLAIN_NUMBER.fullmatch(text):
        return text
    return neutralise(text)


class SafeCsvWriter:
    """A ``csv.writer`` for a known header whose every cell passes through ``cell()``."""

    def __init__(
        self,
        out: IO[str],
        columns: Sequence[str],
        *,
        numeric: Collection[str] = (),
        lineterminator: str = "\r\n",
    ) -> None:
        unknown = set(numeric) - set(columns)
        if unknown:
            raise ValueError(f"numeric columns not in the header: {sorted(unknown)}")
        self.columns = tuple(columns)
        self._numeric = tuple(column in numeric for column in self.columns)
        self._writer = csv.writer(out, lineterminator=lineterminator)

    def header(self) -> None:
        self._writer.writerow([neutralise(column) for column in self.columns])

    def row(self, values: Sequence[Any] | Mapping[str, Any]) -> None:
        """One row, by position or by column name (missing names are empty cells). A row may
        be longer than the header (a rejected input line keeps all its fields): cells past
        the header are text."""
        if isinstance(values, Mapping):
            values = [values.get(column) for column in self.columns]
        numeric = self._numeric
        self._writer.writerow(
            [
                cell(value, numeric=index < len(numeric) and numeric[index])
                for index, value in enumerate(values)
            ]
        )

    def rows(self, rows: Iterable[Sequence[Any] | Mapping[str, Any]]) -> None:
        for values in rows:
            self.row(values)
