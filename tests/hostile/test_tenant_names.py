"""Hostile tenant and node names, node URLs and tenant-naming tokens: a tenant's name becomes
a PostgreSQL schema, a SQLite file name, a NATS subject token and the front of every key and
session of that tenant, so anything but 1-32 of ``a-z 0-9 _`` (a letter first) is refused
before anything is created; a token naming no tenant routes nowhere."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from adapters.app.api_keys import ApiKeys
from adapters.service.tenants import TenantApps
from adapters.store.database import Database
from adapters.tenancy.directory import Tenant
from domain.errors import InvalidInput
from domain.tenancy import node_url, store_url, tenant_name, tenant_of_token
from tests.tenants.conftest import cluster, tollbook  # noqa: F401  (this module's fixtures)

HOSTILE_NAMES = [
    "",
    "A",
    "Acme",
    "1acme",
    "_acme",
    "a" * 33,
    "a-b",
    "a.b",
    "a b",
    "a;drop schema public cascade",
    '"; --',
    "../etc",
    "a/b",
    "tollbook.*",
    "a>",
    "ä",
    "a\x00",
    "a\n",
    "\u202eacme",
    "ａcme",  # full-width
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_a_hostile_tenant_name_is_refused(name: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        tenant_name(name)
    assert refused.value.field == "tenant"


def test_the_longest_name_makes_a_schema_postgresql_keeps_whole() -> None:
    longest = "a" * 32
    assert tenant_name(longest) == longest
    assert store_url("postgresql://h/db", longest).endswith(f"?schema=tenant_{longest}")
    assert len(f"tenant_{longest}".encode()) <= 63  # NAMEDATALEN - 1: never truncated


@pytest.mark.parametrize(
    "url",
    [
        "",
        "http://h/db",
        "memory://",
        "postgresql://h",  # no database
        "postgresql://h/db?schema=x",  # the directory adds each tenant's schema
        "postgresql://h/db#x",
        "postgresql://h/db?",
        "sqlite:///",
        "sqlite:///:memory:",
        "postgresql://h/db\n",
        "postgresql://h/d b",
        "postgresql://h/dé",
        "postgresql://h/" + "d" * 1000,
    ],
)
def test_a_hostile_node_url_is_refused(url: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        node_url(url)
    assert refused.value.field == "url"


@pytest.mark.parametrize(
    "token",
    ["acme", ".secret", "Acme.secret", "a" * 33 + ".s", "../x.s", "a-b.s", "", "ä.s"],
)
def test_a_token_naming_no_tenant_names_none(token: str) -> None:
    assert tenant_of_token(token) is None


def test_the_cli_refuses_hostile_names_and_creates_nothing(tollbook, tmp_path: Path) -> None:  # noqa: F811
    assert tollbook("node", "add", "one", f"sqlite:///{tmp_path}/one").code == 0
    for name in ("Acme", "a" * 33, "a.b", "../x", "a;b"):
        result = tollbook("tenant", "add", name, "--node", "one")
        assert (result.code, "[invalid_input]" in result.err) == (2, True), name
    bad_node = tollbook("node", "add", "Two", f"sqlite:///{tmp_path}/two")
    assert (bad_node.code, "[invalid_input]" in bad_node.err) == (2, True)
    bad_url = tollbook("node", "add", "two", "postgresql://h/db?schema=public")
    assert (bad_url.code, "[invalid_input]" in bad_url.err) == (2, True)
    assert not (tmp_path / "one").exists() or not list((tmp_path / "one").iterdir())
    assert tollbook("tenant", "list", "--json").out.strip() == "[]"
    assert "two" not in tollbook("node", "list", "--json").out


def test_hostile_keys_cookies_and_queries_reach_no_tenant(cluster, tmp_path: Path) -> None:  # noqa: F811
    node = cluster.node("one", f"sqlite:///{tmp_path}/one")
    cluster.tenant(node, "a")
    with TestClient(TenantApps(cluster.directory)) as client:
        for key in ("tbk_../x.y", "tbk_Acme.y", "tbk_" + "a" * 40 + ".y", "tbk_a b.y", "x" * 5000):
            answer = client.get("/customers", headers={"Authorization": f"Bearer {key}"})
            assert answer.status_code == 401, key
            assert answer.json()["code"] == "unauthorised"
        for query in ("../x", "Acme", "a" * 40, "nobody_here"):
            page = client.get("/portal/login", params={"tenant": query})
            assert page.status_code in (401, 404), query
            assert "tollbook_tenant" not in page.headers.get("set-cookie", "")
        client.cookies.set("tollbook_session", "../../x.y")
        assert client.get("/portal/invoices").status_code == 401
        client.cookies.clear()
        bad_cookie = client.get("/portal/invoices", headers={"Cookie": 'tollbook_tenant="\\x00'})
        assert bad_cookie.status_code == 401


def test_a_tenant_whose_node_is_down_answers_503_and_the_others_go_on(
    cluster,  # noqa: F811
    tmp_path: Path,
) -> None:
    up = cluster.tenant(cluster.node("one", f"sqlite:///{tmp_path}/one"), "up")
    # a node nothing listens on (port 1), entered by hand: tenant add would refuse it
    down = cluster.directory.add_node("down", "postgresql://postgres@127.0.0.1:1/x")[0]
    cluster.directory.record_tenant(Tenant("gone", down, "2026-10-01T00:00:00+00:00"))
    db = Database.from_url(up.store_url)
    key = ApiKeys(db, tenant=up.name).create("k", "read")
    db.close()
    with TestClient(TenantApps(cluster.directory)) as client:
        refused = client.get("/customers", headers={"Authorization": "Bearer tbk_gone.x"})
        assert refused.status_code == 503, refused.text
        assert refused.json()["code"] == "storage_unavailable"
        assert refused.headers["retry-after"] == "5"
        fine = client.get("/customers", headers={"Authorization": f"Bearer {key}"})
        assert fine.status_code == 200


def test_a_database_that_does_not_answer_is_the_one_the_error_names(
    cluster,  # noqa: F811
    tollbook,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # never the default store (sqlite:///var/tollbook.sqlite) the command did not touch
    cluster.directory.add_node("down", "postgresql://postgres:pw@127.0.0.1:1/x")
    added = tollbook("tenant", "add", "gamma", "--node", "down")
    assert added.code == 5, added.err
    assert "(store postgresql://postgres@127.0.0.1:1/x?schema=tenant_gamma)" in added.err
    assert "[storage]" in added.err and "pw" not in added.err
    # the driver's several indented lines read as one line of words, not as escapes
    assert "\\n" not in added.err and "\\t" not in added.err
    assert cluster.directory.tenants() == []  # never named before its store is whole

    cluster.directory.record_tenant(
        Tenant("gone", cluster.directory.node("down"), "2026-10-01T00:00:00+00:00")
    )
    listed = tollbook("--tenant", "gone", "customer", "list")
    assert listed.code == 5
    assert "(store postgresql://postgres@127.0.0.1:1/x?schema=tenant_gone)" in listed.err

    monkeypatch.setenv("TOLLBOOK_CONTROL_DATABASE_URL", "postgresql://postgres:pw@127.0.0.1:1/c")
    for args in (["tenant", "list"], ["--tenant", "gone", "customer", "list"]):
        refused = tollbook(*args)
        assert refused.code == 5, refused.err
        assert "(tenant directory postgresql://postgres@127.0.0.1:1/c)" in refused.err
        assert "pw" not in refused.err
