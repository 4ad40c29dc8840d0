"""``tollbook tenant add|list|show`` and ``tollbook node add|list``: the tenant directory
(docs/scaling.md). They act on the control database (TOLLBOOK_CONTROL_DATABASE_URL), never on
a tenant's store, except that adding a tenant creates and migrates its store on its node."""

from __future__ import annotations

from typing import Any

import click

from adapters.cli.context import acting_on, directory_acting_on, emit_json, json_option, say, table
from adapters.config import add_tenant, open_directory
from adapters.tenancy.directory import Directory, Node, Tenant


def _directory() -> Directory:
    directory_acting_on()
    return open_directory()


@click.group("tenant")
def tenant() -> None:
    """Tenants: one seller each, with its own store on a node (docs/scaling.md)."""


@tenant.command("add")
@click.argument("name")
@click.option("--node", "node", required=True, help="The node that holds the tenant's store.")
@json_option
def tenant_add(name: str, node: str, as_json: bool) -> None:
    """Add tenant NAME on NODE: create and migrate its store, then enter it in the directory.
    Adding it again on the same node changes nothing."""
    found, created = add_tenant(_directory(), name, node, on_store=acting_on)
    if as_json:
        emit_json(_tenant_doc(found) | {"created": created})
    elif created:
        say(f"tenant {found.name!r} added on node {found.node.name!r} ({found.schema})")
    else:
        say(f"tenant {found.name!r} is already on node {found.node.name!r}: nothing to do")


@tenant.command("list")
@json_option
def tenant_list(as_json: bool) -> None:
    """Every tenant and the node that holds it."""
    found = _directory().tenants()
    if as_json:
        emit_json([_tenant_doc(t) for t in found])
        return
    table(
        "Tenants",
        ["tenant", "node", "store", "added"],
        [[t.name, t.node.name, t.schema, t.added_at[:19]] for t in found],
    )


@tenant.command("show")
@click.argument("name")
@json_option
def tenant_show(name: str, as_json: bool) -> None:
    """Where tenant NAME's store is."""
    found = _directory().tenant(name)
    doc = _tenant_doc(found)
    if as_json:
        emit_json(doc)
        return
    for key, value in doc.items():
        say(f"{key}: {value}")


@tenant.command("move")
@click.argument("name")
@click.option("--to", "to_node", required=True, help="The node to move the tenant's store to.")
@click.option("--quiet", is_flag=True, help="No progress lines on stderr.")
@json_option
def tenant_move(name: str, to_node: str, quiet: bool, as_json: bool) -> None:
    """Move tenant NAME's store to node TO: copied while read-only, proved identical by its
    hash chain (same head, same event count on both), then the directory switched. The old
    copy stays read-only until you drop it; restart the tenant's workers and relay."""
    from adapters.app.tenant_move import move_tenant
    from adapters.cli.backup import _Progress

    moved = move_tenant(_directory(), name, to_node, progress=_Progress(quiet))
    if as_json:
        emit_json(moved.doc())
        return
    end = moved.copy.target_end
    say(
        f"tenant {name!r} moved from node {moved.before.node.name!r} to {to_node!r}:"
        f" {end.events} events, position {end.position}, chain head {end.chain_head} on both."
        f" The old copy ({moved.copy.source}) is read-only: drop it when you no longer want it;"
        " restart the tenant's workers and relay"
    )


@click.group("node")
def node() -> None:
    """Nodes: the PostgreSQL databases (or SQLite folders) that hold tenants' stores."""


@node.command("add")
@click.argument("name")
@click.argument("url")
@json_option
def node_add(name: str, url: str, as_json: bool) -> None:
    """Add node NAME at URL (postgresql://user@host:5432/database, or sqlite:///folder).
    Adding it again at the same URL changes nothing."""
    found, created = _directory().add_node(name, url)
    if as_json:
        emit_json(_node_doc(found) | {"created": created})
    elif created:
        say(f"node {found.name!r} added at {found.shown_url}")
    else:
        say(f"node {found.name!r} is already at {found.shown_url}: nothing to do")


@node.command("list")
@json_option
def node_list(as_json: bool) -> None:
    """Every node, its URL (password masked) and how many tenants it holds."""
    directory = _directory()
    held: dict[str, int] = {}
    for each in directory.tenants():
        held[each.node.name] = held.get(each.node.name, 0) + 1
    nodes = directory.nodes()
    if as_json:
        emit_json([_node_doc(n) | {"tenants": held.get(n.name, 0)} for n in nodes])
        return
    table(
        "Nodes",
        ["node", "url", "tenants", "added"],
        [[n.name, n.shown_url, held.get(n.name, 0), n.added_at[:19]] for n in nodes],
    )


def _node_doc(found: Node) -> dict[str, Any]:
    return {"name": found.name, "url": found.shown_url, "added_at": found.added_at}


def _tenant_doc(found: Tenant) -> dict[str, Any]:
    return {
        "name": found.name,
        "node": found.node.name,
        "node_url": found.node.shown_url,
        "store": found.schema,
        "added_at": found.added_at,
    }
