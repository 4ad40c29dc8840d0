"""Gapless document numbering: one sequence aggregate per document kind and scope.

A number is taken only in the same atomic save that issues the document, so a failed or
conflicting issue leaves no hole; two concurrent issuers conflict on the sequence's version
and one of them retries with the next number. The same save records the number in a
``DocumentNumber`` whose id is derived from the number, so a document is found by its number
in one read (instead of a scan of the log) and no number can be given twice.

Numbers and dates agree (docs/lifecycle.md, "Numbers and dates"): an invoice's number takes
the year of its invoice date (not of the day it is issued), and within one sequence the
documents' dates never go backwards: a sequence remembers the latest date it numbered and
refuses an earlier one (``NumberOutOfDateOrder``), so sorting by number sorts by date.
"""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache
from typing import Any, Literal
from uuid import NAMESPACE_URL, UUID, uuid5

from domain import limits
from domain.aggregate import Aggregate, Created, Event, Stamp
from domain.errors import InvalidNumberFormat, NumberOutOfDateOrder

DocumentKind = Literal["invoice", "credit_note"]

NUMBER_FORMAT = limits.Text("number format", 40)
MAX_SEQ_WIDTH = 12
# {year}, {seq} or {seq:0Nd}; literal text between them is ASCII letters, digits and - _ . / #
# (numbers become file names, e-mail subjects and accounting-system keys). Anything else in
# braces -- attribute access, conversions, other format specs -- is refused, never formatted.
_PART = re.compile(r"\{year\}|\{seq(?::0([1-9]|1[0-2])d)?\}|[A-Za-z0-9._/#-]+")

#: One piece of a number format: literal text, the year, or the sequence (with its width).
Part = tuple[Literal["text", "year", "seq"], str, int]


@lru_cache(maxsize=64)
def number_format(pattern: str) -> tuple[Part, ...]:
    """The pieces of a number format, or InvalidNumberFormat (``{year}``, ``{seq}``,
    ``{seq:0Nd}`` with N from 1 to 12, literal text; exactly one sequence)."""
    limits.check_text(pattern, NUMBER_FORMAT)
    parts: list[Part] = []
    position = 0
    while position < len(pattern):
        found = _PART.match(pattern, position)
        if found is None:
            bad = re.match(r"\{[^}]*\}?|.", pattern[position:])
            assert bad is not None
            raise InvalidNumberFormat(
                f"number format {pattern!r} may hold only {{year}}, {{seq}}, {{seq:0Nd}} (N from"
                f" 1 to {MAX_SEQ_WIDTH}) and literal letters, digits and - _ . / #: {bad.group()!r}"
                f" at character {position + 1} is none of them"
            )
        text = found.group()
        if text == "{year}":
            parts.append(("year", "", 0))
        elif text.startswith("{seq"):
            parts.append(("seq", "", int(found.group(1) or 0)))
        else:
            parts.append(("text", text, 0))
        position = found.end()
    sequences = sum(1 for kind, _, _ in parts if kind == "seq")
    if sequences != 1:
        raise InvalidNumberFormat(
            f"number format {pattern!r} must contain {{seq}} (e.g. {{seq:06d}})"
            if not sequences
            else f"number format {pattern!r} must contain {{seq}} only once"
        )
    return tuple(parts)


def render_number(pattern: str, year: int, seq: int) -> str:
    """The document number ``seq`` of ``year`` in ``pattern`` (checked by number_format)."""
    pieces = []
    for kind, text, width in number_format(pattern):
        if kind == "text":
            pieces.append(text)
        elif kind == "year":
            pieces.append(str(year))
        else:
            pieces.append(str(seq).zfill(width))
    return "".join(pieces)


def scope_for(pattern: str, year: int) -> str:
    """Sequences restart each year when the number format shows the year."""
    return str(year) if "{year" in pattern else "all"


def sequence_id(kind: DocumentKind, scope: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"tollbook:sequence:{kind}:{scope}")


def number_id(kind: DocumentKind, number: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"tollbook:number:{kind}:{number}")


class NumberSequence(Aggregate):
    """The last number handed out for one kind of document in one scope."""

    kind: str
    scope: str
    last: int
    last_date: date | None

    class Started(Created):
        """A numbering sequence started (its first number will be 1)."""

        kind: str
        scope: str

        def apply(self, aggregate: Any) -> None:
            aggregate.kind = self.kind
            aggregate.scope = self.scope
            aggregate.last = 0
            aggregate.last_date = None

    class NumberTaken(Event):
        """``value`` (formatted as ``number``) was given to ``document_id``, dated
        ``document_date`` (numbers taken before dates were recorded: none)."""

        value: int
        number: str
        document_id: UUID
        document_date: date | None = None

        def apply(self, aggregate: Any) -> None:
            aggregate.last = self.value
            if self.document_date is not None:
                aggregate.last_date = max(self.document_date, aggregate.last_date or date.min)

    @classmethod
    def start(cls, kind: DocumentKind, scope: str, stamp: Stamp) -> NumberSequence:
        return cls._start(cls.Started, sequence_id(kind, scope), stamp, kind=kind, scope=scope)

    def take(
        self,
        pattern: str,
        document_date: date,
        document_id: UUID,
        stamp: Stamp,
        *,
        label: str = "document",
    ) -> str:
        """The next number, in the year of ``document_date``; refused when the date is
        earlier than the latest this sequence numbered (numbers follow dates)."""
        if self.last_date is not None and document_date < self.last_date:
            raise NumberOutOfDateOrder(
                f"{label} is dated {document_date}, before {self.last_date}, the date of the"
                f" latest {self.kind.replace('_', ' ')} numbered in this sequence: numbers"
                f" follow dates, so date it {self.last_date} or later to issue it",
                field="invoice_date",
            )
        value = self.last + 1
        number = render_number(pattern, document_date.year, value)
        self._trigger(
            self.NumberTaken,
            stamp,
            value=value,
            number=number,
            document_id=document_id,
            document_date=document_date,
        )
        return number


class DocumentNumber(Aggregate):
    """Which document a number was given to; its id is derived from the kind and number."""

    kind: str
    number: str
    document_id: UUID

    class Given(Created):
        """The number (of an invoice or credit note) was given to ``document_id``, in the
        save that issued that document."""

        kind: str
        number: str
        document_id: UUID

        def apply(self, aggregate: Any) -> None:
            aggregate.kind = self.kind
            aggregate.number = self.number
            aggregate.document_id = self.document_id

    @classmethod
    def give(
        cls, kind: DocumentKind, number: str, document_id: UUID, stamp: Stamp
    ) -> DocumentNumber:
        return cls._start(
            cls.Given,
            number_id(kind, number),
            stamp,
            kind=kind,
            number=number,
            document_id=document_id,
        )
