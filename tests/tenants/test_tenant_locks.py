"""Writes of different tenants never wait for each other: each tenant's events are its own
table in its own schema, and the lock a writer takes (``LOCK TABLE … IN EXCLUSIVE MODE``, so
that commit order is position order) is that table's."""

from __future__ import annotations

import time
from decimal import Decimal

import psycopg
from psycopg import errors, sql

from adapters.config import build_ledger
from domain.customer import customer_id_for
from tests.conftest import PG_ADMIN_URL
from tests.tenants.conftest import Cluster


def _lock(conn: psycopg.Connection[tuple[object, ...]], schema: str, table: str) -> None:
    conn.execute(
        sql.SQL("LOCK TABLE {}.{} IN EXCLUSIVE MODE").format(
            sql.Identifier(schema), sql.Identifier(table)
        )
    )


def test_a_tenant_writes_while_another_tenants_write_lock_is_held(
    cluster: Cluster, pg_node_url: str, clock
):
    node = cluster.node("pg", pg_node_url)
    first, second = cluster.tenant(node, "a"), cluster.tenant(node, "b")
    other = build_ledger(second.store_url, clock=clock)
    table = other.recorder.events_table_name  # type: ignore[attr-defined]
    holder = psycopg.connect(PG_ADMIN_URL)  # a transaction holding A's writers' lock
    try:
        _lock(holder, first.schema, table)
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as probe:
            probe.execute("SET lock_timeout = '200ms'")
            try:
                with probe.transaction():
                    _lock(probe, first.schema, table)
                raise AssertionError("A's write lock was not held")
            except errors.LockNotAvailable:
                pass  # a writer of A would wait now
        started = time.monotonic()
        made = other.register_customer(
            "ops:test",
            account_number="B-1",
            name="B Telecom",
            currency="EUR",
            tax_rate=Decimal(0),
            tax_description="reverse charge",
            payment_terms_days=30,
        )
        assert time.monotonic() - started < 5  # the store's lock timeout is 10 s
        assert made == customer_id_for("B-1") and other.customer(made).version == 1
    finally:
        holder.rollback()
        holder.close()
        other.close()
