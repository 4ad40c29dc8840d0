"""tollbook's own tables, changed by numbered migration steps (docs/operations.md).

Each step is a module ``v<NNNN>_<name>.py`` in this package holding ``up(conn, dialect)``.
The ``schema_migrations`` table beside the event store records which steps a database has
had; each pending step runs once, in its own transaction, holding tollbook's set-up lock
(a PostgreSQL advisory lock; SQLite's ``BEGIN IMMEDIATE`` write lock), so processes starting
together apply it once between them. The eventsourcing library's tables (events, snapshots,
tracking, and the audit chain created with them) stay the library's: it creates them.
"""
