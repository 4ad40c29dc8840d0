"""PostgreSQL schemas set up once per xdist worker and handed to one test after another, each
time as a set-up schema that nothing has written to (what SQLite's ``sqlite_set_up`` copy is).

Setting up a schema (the library's tables and every migration step, ~40 DDL statements) was
most of a small PostgreSQL test's set-up. After a test, its schema goes back to the pool only
when set-up's catalogue is intact and set-up's rows unchanged; then the relations the test added
(read models make their tables on first use, as on SQLite) are dropped, every table it wrote to
(any storage beyond an empty table's) truncated and every used sequence restarted, in one
transaction that first locks every table of the schema. Intact means every catalogue row of
the schema's objects (relations, columns, defaults, constraints, indexes, triggers, rules,
functions, types, sequences, and what depends on them) is the very row version set-up (or the
last reset) left: DDL writes new row versions, so any change fails the check, and a schema that
fails it (or was dropped, or whose tables stay locked for 30 s) is dropped as before. The
schema keeps its name (the library's functions name it in their bodies, so a rename would leave
them pointing at nothing): successive tests of a worker share the name, never the contents.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from adapters.config import build_ledger
from adapters.store.database import Database
from adapters.store.migrations.runner import migrate

#: Every object in the schema (``%(ns)s``: its oid), and every object depending on one of those
#: (indexes, constraints, defaults, triggers, rules, TOAST tables...), with how it depends:
#: pg_depend's reference index finds them without scanning the catalogues, which the test
#: database's thousands of created and dropped schemas have left large. Then the row version
#: (xmin) of every catalogue row describing them: DDL on an object inserts, updates or deletes
#: one of these rows (statistics that VACUUM and ANALYZE overwrite in place are no part of any
#: definition). Functions by their whole row instead: every start of the library's recorder
#: replaces its insert function with the same one. Answers the oids of the relations among the
#: objects, of the others, and a digest of it all.
_OBJECTS = """
WITH RECURSIVE objects(classid, objid, objsubid, refclassid, refobjid, deptype) AS (
    SELECT classid, objid, objsubid, refclassid, refobjid, deptype FROM pg_depend
     WHERE refclassid = 'pg_namespace'::regclass AND refobjid = %(ns)s
    UNION
    SELECT d.classid, d.objid, d.objsubid, d.refclassid, d.refobjid, d.deptype
      FROM pg_depend d JOIN objects o ON d.refclassid = o.classid AND d.refobjid = o.objid
),
rels AS (
    SELECT coalesce(array_agg(DISTINCT objid), '{{}}') AS oids FROM objects
     WHERE classid = 'pg_class'::regclass
),
others AS (
    SELECT coalesce(array_agg(DISTINCT objid), '{{}}') AS oids FROM objects
     WHERE classid <> 'pg_class'::regclass
),
versions(kind, id, version) AS (
    SELECT 'depend', objid,
           concat_ws(' ', objsubid, classid::regclass, refclassid::regclass, refobjid, deptype)
      FROM objects
    UNION ALL
    SELECT 'pg_namespace', oid, xmin::text FROM pg_namespace WHERE oid = %(ns)s
    {versions}
)
SELECT (SELECT oids FROM rels), (SELECT oids FROM others),
       (SELECT md5(string_agg(concat_ws('|', kind, id, version), E'\\n'
                              ORDER BY kind, id, version))
          FROM versions)
"""

#: The catalogues describing the relations among the objects, by the column naming the
#: relation; then those describing the other objects, by oid (constraints on domains, types,
#: functions: a function by its whole row).
_BY_RELATION = {
    "pg_class": "oid",
    "pg_attribute": "attrelid",
    "pg_index": "indexrelid",
    "pg_sequence": "seqrelid",
    "pg_inherits": "inhrelid",
    "pg_trigger": "tgrelid",
    "pg_constraint": "conrelid",
    "pg_attrdef": "adrelid",
    "pg_rewrite": "ev_class",
    "pg_policy": "polrelid",
    "pg_statistic_ext": "stxrelid",
}
_BY_OID = {"pg_constraint": "xmin::text", "pg_type": "xmin::text", "pg_proc": "md5(t::text)"}
OBJECTS = _OBJECTS.format(
    versions="".join(
        [
            f"UNION ALL SELECT '{table}', {key}, xmin::text FROM {table}"
            f" WHERE {key} = ANY((SELECT oids FROM rels)::oid[])\n    "
            for table, key in _BY_RELATION.items()
        ]
        + [
            f"UNION ALL SELECT '{table}', oid, {version} FROM {table} AS t"
            " WHERE oid = ANY((SELECT oids FROM others)::oid[])\n    "
            for table, version in _BY_OID.items()
        ]
    )
)

#: The schema's relations and their kinds.
RELATIONS = """
SELECT c.relname, c.relkind::text FROM pg_class c
 WHERE c.oid = ANY(%(rels)s) AND c.relnamespace = %(ns)s
"""

#: How relations a test added are dropped again, by kind. Anything else it added is left to
#: the versions' check.
DROP_ADDED = {
    "v": "DROP VIEW IF EXISTS {} CASCADE",
    "m": "DROP MATERIALIZED VIEW IF EXISTS {} CASCADE",
    "rp": "DROP TABLE IF EXISTS {} CASCADE",
    "S": "DROP SEQUENCE IF EXISTS {} CASCADE",
    "iI": "DROP INDEX IF EXISTS {} CASCADE",
}

#: Every table with storage, and the size of it with its indexes and TOAST table: set-up's
#: sizes are an empty table's (no heap pages; each index its metapage); a table any row was
#: ever written to (kept, deleted or rolled back) is larger.
SIZES = """
SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c
 WHERE c.oid = ANY(%(rels)s) AND c.relnamespace = %(ns)s AND c.relkind = 'r'
"""

#: Sequences used since set-up (a new or restarted sequence has no last value).
USED_SEQUENCES = """
SELECT c.relname FROM pg_class c
 WHERE c.oid = ANY(%(rels)s) AND c.relnamespace = %(ns)s
   AND CASE WHEN c.relkind = 'S' THEN pg_sequence_last_value(c.oid) END IS NOT NULL
"""


def _new_name() -> str:
    return f"t_{uuid.uuid4().hex[:16]}"


def _url(admin_url: str, schema: str) -> str:
    return f"{admin_url}{'&' if '?' in admin_url else '?'}schema={schema}"


@dataclass
class _SetUp:
    """What set-up left in one schema: its relations, its catalogue rows' versions (as of the
    last reset), its tables' sizes, and the rows of the tables it wrote to (the migrations'
    rows carry the time they were applied)."""

    relations: frozenset[str]
    versions: str
    sizes: dict[str, int]
    seeds: dict[str, str]


class SetUpSchemas:
    """The worker's pool of set-up PostgreSQL schemas (see the module's docstring)."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.free: list[str] = []
        self.set_up: dict[str, _SetUp] = {}
        self._conn: psycopg.Connection[Any] | None = None

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self.admin_url, autocommit=True, connect_timeout=3)
        return self._conn

    def take(self) -> str:
        """A set-up schema nothing has written to: its URL."""
        schema = self.free.pop() if self.free else self._new()
        return _url(self.admin_url, schema)

    def _new(self) -> str:
        """A new schema, set up the way every command opens a store (as ``sqlite_set_up``)."""
        schema = _new_name()
        conn = self._connection()
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        url = _url(self.admin_url, schema)
        build_ledger(url).close()
        migrate(Database.from_url(url))
        ns = _namespace(conn, schema)
        assert ns is not None
        objects, versions = _objects(conn, ns)
        sizes = _sizes(conn, objects)
        self.set_up[schema] = _SetUp(
            frozenset(name for name, _ in conn.execute(RELATIONS, objects)),
            versions,
            sizes,
            _rows(conn, schema, sorted(sizes)),
        )
        return schema

    def give_back(self, url: str) -> None:
        """After the test: back to the pool, as set-up left it, or dropped."""
        schema = url.rsplit("schema=", 1)[1]
        set_up = self.set_up.get(schema)
        if set_up is not None and self._reset(schema, set_up):
            self.free.append(schema)
            return
        self.set_up.pop(schema, None)
        self._connection().execute(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
        )

    def _reset(self, schema: str, set_up: _SetUp) -> bool:
        """Undo what the test did, if set-up's catalogue and rows are intact: whether the
        schema is as set-up left it again (on False the schema is to be dropped)."""
        try:
            conn = self._connection()
            with conn.transaction():
                conn.execute("SET LOCAL lock_timeout = '30s'")
                ns = _namespace(conn, schema)
                if ns is None:
                    return False
                relations = list(conn.execute(RELATIONS, _objects(conn, ns)[0]))
                conn.execute(
                    sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(
                        sql.SQL(", ").join(
                            sql.Identifier(schema, name) for name, kind in relations if kind in "rp"
                        )
                    )
                )
                added = [(n, kind) for n, kind in relations if n not in set_up.relations]
                for kinds, statement in DROP_ADDED.items():
                    if names := [name for name, kind in added if kind in kinds]:
                        conn.execute(
                            sql.SQL(statement).format(
                                sql.SQL(", ").join(sql.Identifier(schema, n) for n in names)
                            )
                        )
                objects, versions = _objects(conn, ns)  # again: nothing can change them now
                if versions != set_up.versions:
                    return False
                if _rows(conn, schema, sorted(set_up.seeds)) != set_up.seeds:
                    return False
                written = [
                    table
                    for table, size in _sizes(conn, objects).items()
                    if table not in set_up.seeds and size != set_up.sizes.get(table)
                ]
                if written:
                    conn.execute(
                        sql.SQL("TRUNCATE {} RESTART IDENTITY").format(
                            sql.SQL(", ").join(sql.Identifier(schema, t) for t in written)
                        )
                    )
                for (sequence,) in conn.execute(USED_SEQUENCES, objects).fetchall():
                    conn.execute(
                        sql.SQL("ALTER SEQUENCE {} RESTART").format(
                            sql.Identifier(schema, sequence)
                        )
                    )
                if _sizes(conn, objects) != set_up.sizes:
                    return False  # an index type that truncates to another size: drop it
                if conn.execute(USED_SEQUENCES, objects).fetchall():
                    return False
                # TRUNCATE and RESTART write new row versions of what they emptied: the
                # definitions are the ones just checked
                set_up.versions = _objects(conn, ns)[1]
                return True
        except psycopg.Error:
            return False

    def close(self) -> None:
        conn = self._connection()
        for schema in self.free:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
        self.free.clear()
        conn.close()


def _namespace(conn: psycopg.Connection[Any], schema: str) -> int | None:
    row = conn.execute("SELECT oid FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone()
    return None if row is None else int(row[0])


def _objects(conn: psycopg.Connection[Any], ns: int) -> tuple[dict[str, Any], str]:
    """The query arguments naming the schema's objects (``RELATIONS``, ``SIZES``...), and a
    digest of the versions of every catalogue row describing them (``OBJECTS``)."""
    row = conn.execute(OBJECTS, {"ns": ns}).fetchone()
    assert row is not None
    rels, others, versions = row
    return {"ns": ns, "rels": list(rels), "others": list(others)}, str(versions)


def _sizes(conn: psycopg.Connection[Any], objects: dict[str, Any]) -> dict[str, int]:
    return {str(name): int(size) for name, size in conn.execute(SIZES, objects)}


def _rows(conn: psycopg.Connection[Any], schema: str, tables: list[str]) -> dict[str, str]:
    """The rows of each of these tables that holds any, as text, hashed."""
    found: dict[str, str] = {}
    for table in tables:
        rows = conn.execute(
            sql.SQL("SELECT t::text FROM {} AS t ORDER BY 1").format(sql.Identifier(schema, table))
        ).fetchall()
        if rows:
            found[table] = hashlib.sha256("\n".join(str(r[0]) for r in rows).encode()).hexdigest()
    return found
