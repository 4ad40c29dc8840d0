"""The PostgreSQL schemas ``store_url`` hands out (tests/pg_set_up.py): one a test wrote to, or
added read models to, comes back as set-up left it; one whose set-up a test changed is dropped,
never handed out again."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal as D

import psycopg
import pytest

from adapters.app.context import Services
from tests.conftest import PG_ADMIN_URL, _pg_connect
from tests.helpers import event_count
from tests.pg_set_up import SetUpSchemas


@pytest.fixture
def schemas() -> Iterator[SetUpSchemas]:
    _pg_connect().close()  # skips, or fails under CI, without PostgreSQL
    pool = SetUpSchemas(PG_ADMIN_URL)
    yield pool
    pool.close()


def _schema(url: str) -> str:
    return url.rsplit("schema=", 1)[1]


def _sql(statement: str) -> list[tuple[object, ...]]:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        cursor = conn.execute(statement)
        return cursor.fetchall() if cursor.description else []


def test_a_schema_written_to_comes_back_empty_with_its_sequences_restarted(
    schemas: SetUpSchemas,
) -> None:
    url = schemas.take()
    services = Services.from_url(url)
    services.ledger.register_customer("t", account_number="ACME", name="Acme", tax_rate=D("20"))
    services.api_keys.create("reader", "read")
    first_ids = _sql(f'SELECT notification_id FROM "{_schema(url)}".tollbook_events ORDER BY 1')
    services.close()
    schemas.give_back(url)

    again = schemas.take()
    assert again == url  # the same schema, reused
    services = Services.from_url(again)
    assert event_count(services.ledger) == 0
    assert services.api_keys.list() == []
    services.ledger.register_customer("t", account_number="BETA", name="Beta", tax_rate=D("20"))
    assert (
        _sql(f'SELECT notification_id FROM "{_schema(again)}".tollbook_events ORDER BY 1')
        == first_ids
    )
    services.close()
    schemas.give_back(again)


@pytest.mark.parametrize(
    "change",
    [
        'ALTER TABLE "{s}".schema_migrations ADD COLUMN extra INTEGER',
        "ALTER TABLE \"{s}\".schema_migrations ALTER COLUMN name SET DEFAULT 'x'",
        'ALTER TABLE "{s}".schema_migrations RENAME COLUMN name TO title',
        'GRANT SELECT ON "{s}".api_keys TO PUBLIC',
        'DELETE FROM "{s}".schema_migrations WHERE version = 1',
        "CREATE FUNCTION \"{s}\".f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        'DROP SCHEMA "{s}" CASCADE',
    ],
)
def test_a_schema_whose_set_up_a_test_changed_is_dropped(
    schemas: SetUpSchemas, change: str
) -> None:
    url = schemas.take()
    schema = _schema(url)
    _sql(change.format(s=schema))
    schemas.give_back(url)
    assert schemas.free == []
    assert _sql(f"SELECT 1 FROM pg_namespace WHERE nspname = '{schema}'") == []
    assert schemas.take() != url


def test_relations_a_test_added_are_dropped_and_the_schema_reused(
    schemas: SetUpSchemas,
) -> None:
    url = schemas.take()
    schema = _schema(url)
    before = _sql(f"SELECT count(*) FROM pg_class WHERE relnamespace = '{schema}'::regnamespace")
    _sql(f'CREATE TABLE "{schema}".rm_added (id SERIAL PRIMARY KEY, body TEXT)')
    _sql(f"INSERT INTO \"{schema}\".rm_added (body) VALUES (repeat('x', 100000))")
    _sql(f'CREATE INDEX added_index ON "{schema}".api_keys (name)')
    schemas.give_back(url)
    assert schemas.free == [schema]
    after = _sql(f"SELECT count(*) FROM pg_class WHERE relnamespace = '{schema}'::regnamespace")
    assert after == before
