"""``tollbook tenant move``: a tenant's store copied to another node while read-only, proved
identical by its hash chain, the directory switched; writes before and after, nothing lost,
and a service of many tenants follows the switch."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient

from adapters.app.api_keys import ApiKeys
from adapters.config import build_ledger
from adapters.service.tenants import TenantApps
from adapters.store.database import Database
from domain.customer import customer_id_for
from tests.helpers import customer, event_count, issued_invoice
from tests.service.conftest import Api, ok
from tests.tenants.conftest import Cluster


def test_a_tenant_moves_to_another_node_with_writes_before_and_after(
    cluster: Cluster, tollbook, pg_node_url: str, tmp_path: Path, clock
) -> None:
    files = cluster.node("files", f"sqlite:///{tmp_path}/files")
    cluster.node("pg", pg_node_url)
    moving = cluster.tenant(files, "m")
    before = build_ledger(moving.store_url, clock=clock)
    try:
        customer(before, "ACME")
        number = issued_invoice(before, "ACME", "100.00")
        events_before = event_count(before)
    finally:
        before.close()
    db = Database.from_url(moving.store_url)
    key = ApiKeys(db, tenant=moving.name).create("ops", "write")
    db.close()
    apps = TenantApps(cluster.directory, revalidate_seconds=0)
    with TestClient(apps) as client:
        api = Api(client, key)
        assert ok(api.get(f"/invoices/{number}"))["number"] == number  # served from SQLite

        moved = tollbook("tenant", "move", moving.name, "--to", "pg", "--json", "--quiet")
        assert moved.code == 0, moved.err
        report = json.loads(moved.out)
        assert (report["from_node"], report["to_node"], report["identical"]) == (
            "files",
            "pg",
            True,
        )
        assert report["events"] == events_before
        shown = json.loads(tollbook("tenant", "show", moving.name, "--json").out)
        assert shown["node"] == "pg"

        # after: the CLI and the service write to the new node; the key moved with the store
        after = tollbook(
            "--tenant", moving.name, "customer", "add", "LATE", "--name", "Late Ltd",
            "--currency", "GBP", "--tax-rate", "20", "--tax-description", "VAT",
        )  # fmt: skip
        assert after.code == 0, after.err
        assert ok(api.get(f"/customers/{customer_id_for('LATE')}"))["account_number"] == "LATE"
        assert ok(api.get(f"/invoices/{number}"))["number"] == number
        made = api.post("/invoices", {"customer": "ACME"})
        assert made.status_code == 201, made.text

    old = tollbook("--db", f"sqlite:///{tmp_path}/files/{moving.schema}.sqlite", "customer",
                   "add", "NOPE", "--name", "x", "--currency", "GBP", "--tax-rate", "0",
                   "--tax-description", "x")  # fmt: skip
    assert (old.code, "store_read_only" in old.err) == (5, True)  # the old copy stays frozen
    verified = tollbook("--tenant", moving.name, "audit", "verify", "--json")
    assert verified.code == 0 and json.loads(verified.out)["findings"] == []
    new = build_ledger(cluster.directory.tenant(moving.name).store_url, clock=clock)
    try:
        assert event_count(new) > events_before  # everything before, and what came after
    finally:
        new.close()

    again = tollbook("tenant", "move", moving.name, "--to", "pg")
    assert (again.code, "already" in again.err) == (1, True)
    nowhere = tollbook("tenant", "move", moving.name, "--to", "nowhere")
    assert nowhere.code == 3
