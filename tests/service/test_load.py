"""Bounded load over real HTTP on PostgreSQL (loopback only): 20 concurrent clients issuing
invoices and allocating shared payments through two API processes; every invariant holds."""

from __future__ import annotations

from bench.api import check_invariants, run_load, served


def test_twenty_clients_hold_every_invariant_on_postgresql(pg_schema_url):
    with served(pg_schema_url, processes=2) as (base, new_key):
        key = new_key()
        report = run_load(base, key, clients=20, operations=4, customers=3)
        problems = check_invariants(base, key, report)

    assert problems == []
    assert len(report.numbers) == 20 * 4  # every issue succeeded, each with its own number
    assert report.statuses.get(201, 0) >= 20 * 4 * 2
    # shared payments run out: some allocations must have been refused, none half-applied
    assert set(report.statuses) <= {200, 201, 409}
