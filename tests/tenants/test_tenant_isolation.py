"""Nothing of one tenant is visible to another over HTTP, and one tenant's writes never wait
for another's lock: one service process serves two tenants on the PostgreSQL node (each a
schema of the ``test`` database); an API key or portal session of tenant A gets 404 (or 401)
for every resource of tenant B, A's event feed never shows B's events, and B writes while a
connection holds A's writers' lock."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import errors, sql

from adapters.app.api_keys import ApiKeys
from adapters.app.users import Users
from adapters.config import build_ledger, open_directory
from adapters.service.tenants import TENANT_COOKIE, TenantApps
from adapters.store.database import Database
from adapters.tenancy.directory import Tenant
from adapters.webhooks.destinations import ALLOW_ENV
from domain.customer import customer_id_for
from tests.conftest import PG_ADMIN_URL
from tests.portal.support import CSRF, PASSWORD
from tests.service.conftest import Api, issued_invoice, make_customer, ok
from tests.tenants.conftest import Cluster, drop_tenant_schemas, pg_node


def _key(tenant: Tenant, scope: str = "admin") -> str:
    db = Database.from_url(tenant.store_url)
    try:
        return ApiKeys(db, tenant=tenant.name).create(f"{scope}-key", scope)
    finally:
        db.close()


def _user(tenant: Tenant, username: str) -> None:
    db = Database.from_url(tenant.store_url)
    try:
        Users(db).add(username, "finance", PASSWORD)
    finally:
        db.close()


def _books(api: Api, account: str) -> dict[str, Any]:
    """A customer, an issued invoice, a payment allocated to it, a credit note, a webhook."""
    customer = make_customer(api, account)
    invoice = issued_invoice(api, account, "100.00")
    payment = ok(
        api.post(
            "/payments",
            {"customer": account, "amount": "50.00", "currency": "GBP", "reference": "r"},
        ),
        201,
    )
    ok(api.post(f"/payments/{payment['id']}/complete"))
    note = ok(
        api.post("/credit-notes", {"invoice": invoice["number"], "reason": "SLA", "amount": "10"}),
        201,
    )
    hook = ok(api.post("/webhooks", {"url": "http://127.0.0.1:9/hooks"}), 201)
    return {
        "customer": customer,
        "invoice": invoice,
        "payment": payment,
        "note": note,
        "hook": hook,
    }


@dataclass
class World:
    """Two tenants on the PostgreSQL node behind one service, each with its books."""

    client: TestClient
    apps: TenantApps
    first: Tenant
    second: Tenant
    a_key: str
    b_key: str
    ours: dict[str, Any]
    theirs: dict[str, Any]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Set up once for this module's tests (two stores, two sets of books), dropped after."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(ALLOW_ENV, "127.0.0.1/32")
        folder = tmp_path_factory.mktemp("control")
        cluster = Cluster(open_directory(f"sqlite:///{folder}/control.sqlite"), "")
        try:
            node = cluster.node("pg", pg_node())
            first, second = cluster.tenant(node, "a"), cluster.tenant(node, "b")
            apps = TenantApps(cluster.directory, capacity=1)  # two tenants, a cache of one
            with TestClient(apps) as client:
                a_key, b_key = _key(first), _key(second)
                theirs = _books(Api(client, b_key), "BETA")
                ours = _books(Api(client, a_key), "ALPHA")  # the same numbering, elsewhere
                yield World(client, apps, first, second, a_key, b_key, ours, theirs)
        finally:
            drop_tenant_schemas(cluster.directory.tenants())


def test_a_tenants_key_and_session_reach_nothing_of_another(world: World):
    client, apps, first, second = world.client, world.apps, world.first, world.second
    a_key, ours, theirs = world.a_key, world.ours, world.theirs
    assert a_key.startswith(f"tbk_{first.name}.")
    a, b = Api(client, a_key), Api(client, world.b_key)
    assert ours["invoice"]["number"] == theirs["invoice"]["number"]
    assert ours["invoice"]["id"] != theirs["invoice"]["id"]
    assert apps.open_tenants() == [first.name]  # the cache holds one tenant at a time

    paths = [
        f"/invoices/{theirs['invoice']['id']}",
        f"/invoices/{theirs['invoice']['id']}.pdf",
        f"/invoices/{theirs['invoice']['id']}/history",
        f"/payments/{theirs['payment']['id']}",
        f"/customers/{theirs['customer']['id']}",
        f"/credit-notes/{theirs['note']['id']}",
        f"/credit-notes/{theirs['note']['id']}.pdf",
        f"/webhooks/{theirs['hook']['id']}",
        f"/webhooks/{theirs['hook']['id']}/deliveries",
    ]
    # they exist, for their own tenant (each tenant's requests together: the cache holds one)
    assert [b.get(path).status_code for path in paths] == [200] * len(paths)
    assert {path: a.get(path).status_code for path in paths} == dict.fromkeys(paths, 404)
    refused = a.post(f"/payments/{theirs['payment']['id']}/cancel")
    assert refused.status_code == 404

    def feed(api: Api) -> set[str]:
        page = ok(api.get("/events", limit=500))
        return {e["aggregate_id"] for e in page["events"]}

    assert theirs["invoice"]["id"] in feed(b)
    ids_of = {doc["id"] for doc in theirs.values()} - {theirs["hook"]["id"]}
    assert not feed(a) & ids_of
    assert {h["id"] for h in ok(a.get("/webhooks"))} == {ours["hook"]["id"]}

    # the name in a key only chooses where it is checked: A's secret under B's name is unknown
    forged = f"tbk_{second.name}.{a_key.split('.', 1)[1]}"
    assert Api(client, forged).get("/customers").status_code == 401
    assert Api(client, "tbk_" + a_key.split(".", 1)[1]).get("/customers").status_code == 401
    assert Api(client, "tbk_nobody_here.x").get("/customers").status_code == 401
    assert client.get("/customers").status_code == 401
    assert client.get("/health/live").status_code == 200


def test_a_portal_session_sees_only_its_tenant(world: World):
    client = TestClient(world.apps)  # cookies of its own
    first, second, theirs = world.first, world.second, world.theirs
    _user(first, "fiona")
    _user(second, "bob")
    form = client.get("/portal/login", params={"tenant": first.name})
    assert form.status_code == 200 and client.cookies.get(TENANT_COOKIE) == first.name
    token = CSRF.search(form.text).group(1)  # type: ignore[union-attr]
    # B's user does not exist in A's store
    wrong = client.post(
        "/portal/login",
        data={"username": "bob", "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert wrong.status_code == 401
    signed = client.post(
        "/portal/login",
        data={"username": "fiona", "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert signed.status_code == 303, signed.text
    assert client.cookies.get("tollbook_session", "").startswith(f"{first.name}.")
    # the session decides, whatever tenant cookie comes with it
    client.cookies.set(TENANT_COOKIE, second.name)
    for path in (
        f"/portal/invoices/{theirs['invoice']['id']}",
        f"/portal/invoices/{theirs['invoice']['id']}.pdf",
        f"/portal/payments/{theirs['payment']['id']}",
        f"/portal/customers/{theirs['customer']['id']}",
        f"/portal/credit-notes/{theirs['note']['id']}.pdf",
    ):
        assert client.get(path, follow_redirects=False).status_code == 404, path
    assert client.get("/portal/invoices", follow_redirects=False).status_code == 200


# ---------------------------------------------------------------- writes never wait
# Each tenant's events are its own table in its own schema, and the lock a writer takes
# (LOCK TABLE ... IN EXCLUSIVE MODE, so that commit order is position order) is that table's.


def _lock(conn: psycopg.Connection[tuple[object, ...]], schema: str, table: str) -> None:
    conn.execute(
        sql.SQL("LOCK TABLE {}.{} IN EXCLUSIVE MODE").format(
            sql.Identifier(schema), sql.Identifier(table)
        )
    )


def test_a_tenant_writes_while_another_tenants_write_lock_is_held(world: World, clock):
    first, second = world.first, world.second  # two tenants on the PostgreSQL node
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
