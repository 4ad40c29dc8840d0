"""What a tracked read model is, independent of the database that stores it.

A read model declares its tables (plain columns: finance queries them with SQL) and applies
events to rows through a ``ViewWriter``. The SQL store in adapters/store/read_models.py
implements the writer; the runner (projections/runner.py) commits each batch of row changes
with the read model's tracking position in one transaction, so every event is applied once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from operator import itemgetter
from typing import Any, ClassVar, Literal, Protocol
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, Mapper

from domain.aggregate import Event
from domain.event_handlers import HandlesEvents, on

__all__ = ["EventLog", "Projection", "Row", "Table", "ViewWriter", "id_text", "on"]

# read models key rows by the text of aggregate ids, a few times per event: memoised, as
# UUID.__str__ is slow and a rebuild meets each id several times in a row
id_text: Callable[[UUID], str] = lru_cache(maxsize=65_536)(str)

ColumnKind = Literal["text", "amount", "date", "timestamp", "int"]
Row = dict[str, Any]


@dataclass(frozen=True)
class Table:
    """One read-model table: its name, key columns, and every column's kind, in order."""

    name: str
    key: tuple[str, ...]
    columns: dict[str, ColumnKind]
    indexes: tuple[tuple[str, ...], ...] = field(default=())
    #: works out the columns that follow from a row's others (a status from its amounts):
    #: the store calls it once per changed row when a batch ends, not once per event, so a
    #: handler never reads those columns, only sets the ones they follow from
    derive: Callable[[Row], None] | None = field(default=None, compare=False, repr=False)
    #: a row's key, and its values in column order: getters built once and called as they
    #: are (a rebuild asks for the key and values of every row; a method in between cost a
    #: call more each time)
    key_of: Callable[[Row], tuple[Any, ...]] = field(init=False, repr=False, compare=False)
    values_of: Callable[[Row], tuple[Any, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key_of", _getter(self.key))
        object.__setattr__(self, "values_of", _getter(tuple(self.columns)))


def _getter(columns: tuple[str, ...]) -> Callable[[Row], tuple[Any, ...]]:
    """The values of ``columns`` of a row, always as a tuple."""
    if len(columns) == 1:
        [column] = columns
        return lambda row: (row[column],)
    return itemgetter(*columns)


class ViewWriter(Protocol):
    """Row access inside one tracked batch; changes commit with the tracking position."""

    def get(self, table: Table, *key: Any) -> Row | None:
        """The row with this key, as last written in this batch or stored before it."""

    def put(self, table: Table, row: Row) -> None:
        """Insert or replace the row with the row's key (its ``table.derive`` columns worked
        out when the batch ends)."""

    def add(self, table: Table, row: Row) -> None:
        """Append a row that is never changed afterwards (keys must be new)."""


class EventLog(Protocol):
    """What the runner reads the log through: the application's recorder (the notification
    log) and its mapper (stored events to domain events). The ledger is one; the projections
    never import it, so the service layer stays above them."""

    @property
    def recorder(self) -> ApplicationRecorder: ...

    @property
    def mapper(self) -> Mapper[UUID]: ...


Handler = Callable[[Any, Any, int, ViewWriter], None]  # (projection, event, position, view)


class Projection(HandlesEvents):
    """A read model: the tables it owns, and a handler per event type it follows (``@on``)."""

    name: ClassVar[str]
    tables: ClassVar[tuple[Table, ...]]
    #: the event types it follows (those with a handler)
    follows: ClassVar[tuple[type[Event], ...]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.follows = tuple(cls.handlers)

    def reads(self) -> dict[type[Event], tuple[str, ...]]:
        """The fields of each followed event type that this read model reads."""
        return {kind: fields for kind, (_, fields) in self.handlers.items()}

    def attach(self, log: EventLog) -> None:
        """The runner hands every read model the log it follows; most need nothing more than
        the events it applies to them."""

    def batch_applied(self, view: ViewWriter) -> None:
        """Called once a batch's events are all applied, before its rows are written (in the
        same transaction): a read model that would otherwise write the same row at every
        event writes it here once."""

    def apply(self, event: Event, position: int, view: ViewWriter) -> None:
        """Apply one full domain event (at log ``position``) to the read model's rows."""
        handle = self.handler_for(event)
        if handle is not None:
            handle(event, position, view)
