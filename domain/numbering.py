"""Gapless document numbering: one sequence aggregate per document kind and scope.

A number is taken only in the same atomic save that issues the document, so a failed or
conflicting issue leaves no hole; two concurrent issuers conflict on the sequence's version
and one of them retries with the next number. The same save records the number in a
``DocumentNumber`` whose id is derived from the number, so a document is found by its number
in one read (instead of a scan of the log) and no number can be given twice.
"""

from __future__ import annotations

from typing import Any, Literal
from uuid import NAMESPACE_URL, UUID, uuid5

from domain.aggregate import Aggregate, Created, Event, Stamp

DocumentKind = Literal["invoice", "credit_note"]


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

    class Started(Created):
        """A numbering sequence started (its first number will be 1)."""

        kind: str
        scope: str

        def apply(self, aggregate: Any) -> None:
            aggregate.kind = self.kind
            aggregate.scope = self.scope
            aggregate.last = 0

    class NumberTaken(Event):
        """``value`` (formatted as ``number``) was given to ``document_id``."""

        value: int
        number: str
        document_id: UUID

        def apply(self, aggregate: Any) -> None:
            aggregate.last = self.value

    @classmethod
    def start(cls, kind: DocumentKind, scope: str, stamp: Stamp) -> NumberSequence:
        return cls._start(cls.Started, sequence_id(kind, scope), stamp, kind=kind, scope=scope)

    def take(self, pattern: str, year: int, document_id: UUID, stamp: Stamp) -> str:
        value = self.last + 1
        number = pattern.format(year=year, seq=value)
        self._trigger(self.NumberTaken, stamp, value=value, number=number, document_id=document_id)
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
