"""The tenant directory from the command line: nodes, tenants, and every command acting for
the tenant ``--tenant`` names, in that tenant's own store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.relay.conftest import local_stream  # noqa: F401  (NATS at 127.0.0.1:4222)
from tests.relay.support import LOCAL_NATS, read_stream
from tests.tenants.conftest import pg_node, unique


def test_nodes_and_tenants_are_added_once_and_listed(tollbook, tmp_path: Path, pg_node_url):
    folder = f"sqlite:///{tmp_path}/node_one"
    assert tollbook("node", "add", "one", folder).code == 0
    again = tollbook("node", "add", "one", folder, "--json")
    assert (again.code, json.loads(again.out)["created"]) == (0, False)
    moved = tollbook("node", "add", "one", f"sqlite:///{tmp_path}/elsewhere")
    assert (moved.code, "[already_exists]" in moved.err) == (1, True)
    assert tollbook("node", "add", "pg", pg_node_url.replace("postgres@", "postgres:pw@")).code == 0

    name = unique("acme")
    added = tollbook("tenant", "add", name, "--node", "one", "--json")
    assert added.code == 0, added.err
    assert json.loads(added.out) | {"added_at": "-"} == {
        "name": name,
        "node": "one",
        "node_url": folder,
        "store": f"tenant_{name}",
        "added_at": "-",
        "created": True,
    }
    assert (tmp_path / "node_one" / f"tenant_{name}.sqlite").is_file()
    readded = tollbook("tenant", "add", name, "--node", "one", "--json")
    assert (readded.code, json.loads(readded.out)["created"]) == (0, False)
    elsewhere = tollbook("tenant", "add", name, "--node", "pg")
    assert (elsewhere.code, "is on node 'one'" in elsewhere.err) == (1, True)
    unknown = tollbook("tenant", "add", unique("x"), "--node", "nowhere")
    assert (unknown.code, "[not_found]" in unknown.err) == (3, True)

    on_pg = unique("pgco")
    assert tollbook("tenant", "add", on_pg, "--node", "pg").code == 0
    listed = json.loads(tollbook("tenant", "list", "--json").out)
    assert sorted((t["name"], t["node"]) for t in listed) == sorted([(name, "one"), (on_pg, "pg")])
    nodes = json.loads(tollbook("node", "list", "--json").out)
    assert [(n["name"], n["tenants"]) for n in nodes] == [("one", 1), ("pg", 1)]
    assert ":pw" not in json.dumps(nodes)  # the password is never shown
    shown = tollbook("tenant", "show", on_pg, "--json")
    assert json.loads(shown.out)["store"] == f"tenant_{on_pg}"
    missing = tollbook("tenant", "show", unique("nobody"))
    assert (missing.code, "[not_found]" in missing.err) == (3, True)


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_every_command_acts_in_the_named_tenants_store(
    tollbook, cluster, tmp_path, monkeypatch, kind: str
):
    # on PostgreSQL both tenants are schemas of one database: a search_path gone wrong would
    # show one tenant's events to the other
    url = f"sqlite:///{tmp_path}/files" if kind == "sqlite" else pg_node()
    node = cluster.node("files", url)
    first, second = cluster.tenant(node, "a").name, cluster.tenant(node, "b").name

    def customer(tenant: str, account: str) -> None:
        made = tollbook(
            "--tenant",
            tenant,
            "customer",
            "add",
            account,
            "--name",
            f"{account} Ltd",
            "--currency",
            "EUR",
            "--tax-rate",
            "0",
            "--tax-description",
            "reverse charge",
        )
        assert made.code == 0, made.err

    customer(first, "A-1")
    monkeypatch.setenv("TOLLBOOK_TENANT", second)  # the environment names it too
    customer(second, "B-1")
    customer(second, "B-2")

    def accounts(*tenant: str) -> list[str]:
        listed = tollbook(*tenant, "customer", "list", "--json")
        assert listed.code == 0, listed.err
        return sorted(c["account_number"] for c in json.loads(listed.out))

    assert accounts() == ["B-1", "B-2"]  # TOLLBOOK_TENANT
    assert accounts("--tenant", first) == ["A-1"]  # the option wins over the environment
    heads = {}
    for tenant in (first, second):
        verified = tollbook("--tenant", tenant, "audit", "verify", "--json")
        assert (verified.code, json.loads(verified.out)["findings"]) == (0, []), verified.err
        heads[tenant] = json.loads(verified.out)["head"]
    assert heads[first] < heads[second]  # each walks its own chain only
    for tenant, accounts_of_tenant in ((first, ["A-1"]), (second, ["B-1", "B-2"])):
        exported = tollbook("--tenant", tenant, "audit", "export", "--from", "2000-01-01")
        events = [json.loads(line) for line in exported.out.splitlines()]
        registered = [
            e["payload"]["profile"]["account_number"] for e in events if "profile" in e["payload"]
        ]
        assert registered == accounts_of_tenant  # the event feed of the CLI: its own only
        assert len(events) == heads[tenant]
        reconciled = tollbook("--tenant", tenant, "reconcile", "--json")
        assert (reconciled.code, json.loads(reconciled.out)) == (0, [])

    both = tollbook("--tenant", first, "--db", f"sqlite:///{tmp_path}/x.sqlite", "customer", "list")
    assert (both.code, "[usage]" in both.err) == (2, True)
    unknown = tollbook("--tenant", unique("nobody"), "customer", "list")
    assert (unknown.code, "[not_found]" in unknown.err) == (3, True)
    bad = tollbook("--tenant", "../etc", "customer", "list")
    assert (bad.code, "[invalid_input]" in bad.err) == (2, True)


def test_a_tenant_needs_a_control_database(tollbook, monkeypatch):
    monkeypatch.delenv("TOLLBOOK_CONTROL_DATABASE_URL")
    named = tollbook("--tenant", "acme", "customer", "list")
    assert (named.code, "TOLLBOOK_CONTROL_DATABASE_URL" in named.err) == (5, True)
    assert tollbook("tenant", "list").code == 5


def test_serving_every_tenant_is_the_api_role_only(tollbook):
    refused = tollbook("serve")  # --role all: the workers run per tenant
    assert (refused.code, "--role api" in refused.err) == (2, True)
    assert tollbook("serve", "--role", "api", "--workers", "2").code == 2


def test_a_tenants_relay_publishes_under_its_name(tollbook, cluster, tmp_path, local_stream):  # noqa: F811
    stream, _ = local_stream
    node = cluster.node("files", f"sqlite:///{tmp_path}/files")
    tenant = cluster.tenant(node, "r").name
    made = tollbook(
        "--tenant", tenant, "customer", "add", "R-1", "--name", "R Ltd", "--currency", "EUR",
        "--tax-rate", "0", "--tax-description", "reverse charge",
    )  # fmt: skip
    assert made.code == 0, made.err
    other = tollbook("--tenant", tenant, "relay", "--once", "--tenant", "someone_else")
    assert (other.code, "[usage]" in other.err) == (2, True)  # a tenant's events carry its name
    sent = tollbook(
        "--tenant", tenant, "relay", "--once", "--nats", LOCAL_NATS, "--stream", stream, "--json"
    )
    assert sent.code == 0, sent.err
    messages = read_stream([LOCAL_NATS], stream)
    assert messages and {m.subject.split(".")[1] for m in messages} == {tenant}
    assert {m.headers["Tollbook-Tenant"] for m in messages} == {tenant}


def test_a_usage_database_apart_keeps_each_tenants_cdrs_to_itself(
    tollbook, cluster, tmp_path, monkeypatch
):
    # one TOLLBOOK_USAGE_DATABASE_URL for every tenant's processes: both sellers bill an
    # account "C1", and neither may see (or bill) the other's calls
    from tests.integration.usage_helpers import cdr, write_cdrs

    node = cluster.node("files", f"sqlite:///{tmp_path}/files")
    first, second = cluster.tenant(node, "a").name, cluster.tenant(node, "b").name
    monkeypatch.setenv("TOLLBOOK_USAGE_DATABASE_URL", f"sqlite:///{tmp_path}/usage.sqlite")
    for tenant in (first, second):
        made = tollbook("--tenant", tenant, "customer", "add", "C1", "--name", "C1 Ltd",
                        "--currency", "GBP")  # fmt: skip
        assert made.code == 0, made.err
    calls = write_cdrs(tmp_path / "oct.csv", [cdr("a1", account="C1"), cdr("a2", account="C1")])
    imported = tollbook("--tenant", first, "usage", "import", str(calls), "--json")
    assert imported.code == 0, imported.err
    assert json.loads(imported.out)[0]["inserted"] == 2

    def to_bill(tenant: str) -> list[str]:
        run = tollbook("--tenant", tenant, "bill", "--period", "2026-10", "--dry-run", "--json")
        assert run.code == 0, run.err
        return [i["account"] for i in json.loads(run.out)["invoices"]]

    assert to_bill(first) == ["C1"]
    assert to_bill(second) == []
    assert (tmp_path / f"usage_{first}.sqlite").exists()
    assert not (tmp_path / "usage.sqlite").exists()
