"""Boxes, text runs and pages: the positioned result of laying a document out (millimetres)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, NamedTuple

from adapters.pdf.config import Logo

Align = Literal["L", "R"]
EPSILON = 0.01  # mm: boxes that merely touch do not overlap


@dataclass(frozen=True, slots=True)
class Box:
    x: float
    y: float
    w: float
    h: float

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def bottom(self) -> float:
        return self.y + self.h

    def overlaps(self, other: Box) -> bool:
        return (
            self.x < other.right - EPSILON
            and other.x < self.right - EPSILON
            and self.y < other.bottom - EPSILON
            and other.y < self.bottom - EPSILON
        )

    def contains(self, other: Box) -> bool:
        return (
            self.x - EPSILON <= other.x
            and self.y - EPSILON <= other.y
            and other.right <= self.right + EPSILON
            and other.bottom <= self.bottom + EPSILON
        )


class Text(NamedTuple):
    """One line of text drawn in a cell ``w`` x ``h`` at (x, y), aligned left or right.

    A named tuple rather than a frozen dataclass: a long invoice has tens of thousands of them,
    and tuples are several times cheaper to build.
    """

    x: float
    y: float
    w: float
    h: float
    text: str
    size: float
    bold: bool = False
    align: Align = "L"
    grey: bool = False

    @property
    def box(self) -> Box:
        return Box(self.x, self.y, self.w, self.h)


@dataclass(frozen=True, slots=True)
class Rule:
    """A horizontal hairline from x1 to x2 at y."""

    x1: float
    x2: float
    y: float


@dataclass(slots=True)
class Block:
    """A named region of a page and everything drawn inside it."""

    role: str
    box: Box
    texts: list[Text] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    fills: list[Box] = field(default_factory=list)
    image: Logo | None = None
    rotation: float = 0.0  # degrees about the box centre (the DRAFT/VOID mark)

    def renamed(self, role: str) -> Block:
        """The same block under another role (the totals repeated in a summary)."""
        return Block(role, self.box, self.texts, self.rules, self.fills, self.image, self.rotation)


@dataclass(slots=True)
class Page:
    number: int
    blocks: list[Block] = field(default_factory=list)

    def roles(self) -> list[str]:
        return [block.role for block in self.blocks]

    def block(self, role: str) -> Block:
        matches = [block for block in self.blocks if block.role == role]
        if len(matches) != 1:
            raise KeyError(f"page {self.number} has {len(matches)} {role!r} blocks")
        return matches[0]


@dataclass(slots=True)
class Layout:
    pages: list[Page]
