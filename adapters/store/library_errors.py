"""A driver's error as the eventsourcing library raises it: both drivers follow DB-API 2
(PEP 249), so the library's exception of the same name stands for each of theirs."""

from __future__ import annotations

from types import ModuleType

from eventsourcing import persistence

#: PEP 249's exceptions, siblings first, their base last
_NAMES = (
    "InterfaceError",
    "DataError",
    "OperationalError",
    "IntegrityError",
    "InternalError",
    "ProgrammingError",
    "NotSupportedError",
    "DatabaseError",
)


def library_error(
    error: Exception, driver: ModuleType, *, as_text: bool = False
) -> persistence.PersistenceError:
    """``error`` of ``driver`` (``sqlite3``, ``psycopg``) as the library's exception; with
    ``as_text`` it carries the message only, as the library's PostgreSQL datastore does."""
    argument: object = str(error) if as_text else error
    for name in _NAMES:
        if isinstance(error, getattr(driver, name)):
            error_type: type[persistence.PersistenceError] = getattr(persistence, name)
            return error_type(argument)
    return persistence.PersistenceError(argument)
