"""Every command takes ``--json`` (as the README promises) and prints the resource it changed;
required options are declared required, so ``--help`` says so."""

from __future__ import annotations

import io
import json
from decimal import Decimal as D

import click
import pytest

from adapters.cli.main import cli
from tests.helpers import completed_payment, customer, event_count, issued_invoice


def _sub(group: click.Group, name: str) -> click.Command:
    # click's contract for groups, lazy ones included (adapters/cli/registry.py): a command is
    # loaded when asked for, so ``group.commands`` alone lists only those loaded so far
    found = group.get_command(click.Context(group), name)
    assert found is not None, name
    return found


def _leaves(command: click.Command, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    if isinstance(command, click.Group):
        return [
            leaf
            for name in command.list_commands(click.Context(command))
            for leaf in _leaves(_sub(command, name), (*path, name))
        ]
    return [path]


def _command(path: tuple[str, ...]) -> click.Command:
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group)
        command = _sub(command, name)
    return command


LEAVES = _leaves(cli)


def test_the_walk_finds_every_command():
    # a guard for the walk itself: nested groups are descended into
    assert ("invoice", "line", "add") in LEAVES and ("balance",) in LEAVES
    assert len(LEAVES) > 60


@pytest.mark.parametrize("path", LEAVES, ids=[" ".join(p) for p in LEAVES])
def test_every_command_takes_json(path):
    options = [p for p in _command(path).params if isinstance(p, click.Option)]
    flags = [o for o in options if "--json" in o.opts]
    assert flags, f"tollbook {' '.join(path)} has no --json"
    assert flags[0].is_flag


@pytest.mark.parametrize("path", LEAVES, ids=[" ".join(p) for p in LEAVES])
def test_required_options_say_so_in_help(path):
    command = _command(path)
    with click.Context(command, info_name=" ".join(path)) as ctx:
        records = {
            param.name: record
            for param in command.get_params(ctx)
            if isinstance(param, click.Option) and (record := param.get_help_record(ctx))
        }
        for param in command.get_params(ctx):
            if isinstance(param, click.Option) and param.required:
                assert "[required]" in records[param.name][1], (path, param.name)


@pytest.mark.parametrize(
    ("path", "option"),
    [
        (("customer", "add"), "--name"),
        (("payment", "add"), "--amount"),
        (("package", "add"), "--price"),
        (("invoice", "void"), "--reason"),
        (("payment", "unallocate"), "--reason"),
        (("credit-note", "new"), "--reason"),
        (("export", "file"), "--from"),
        (("usage", "rerate"), "--rates"),
    ],
)
def test_options_a_command_cannot_do_without_are_declared_required(path, option):
    (param,) = [p for p in _command(path).params if option in getattr(p, "opts", ())]
    assert param.required


# ---------------------------------------------------------------- the documents printed


@pytest.fixture
def world(make_ledger):
    ledger = make_ledger()
    customer(ledger, "ACME", "GBP")
    ledger.define_package("t", name="Trunk", unit_price=D("10"), currency="GBP")
    issued = issued_invoice(ledger, "ACME", net="100.00")  # 120.00
    spare = issued_invoice(ledger, "ACME", net="10.00")
    draft = ledger.create_invoice("ACME", "t")
    paid = completed_payment(ledger, "ACME", "50.00")
    ledger.allocate(paid, [(issued, D("10.00"))], "t")
    pending = ledger.record_payment("ACME", "t", amount=D("30"))
    return {
        "ledger": ledger,
        "inv": issued,
        "spare": spare,
        "draft": str(draft),
        "paid": str(paid),
        "pending": str(pending),
    }


def _json(tollbook, *args: str):
    result = tollbook(*args, "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def test_invoice_changes_print_the_invoice(tollbook, world):
    draft = world["draft"]

    added = _json(
        tollbook, "invoice", "line", "add", draft, "--description", "X", "--unit-price", "2"
    )
    assert added["id"] == draft and [ln["description"] for ln in added["lines"]] == ["X"]

    edited = _json(tollbook, "invoice", "line", "edit", draft, "1", "--quantity", "3")
    assert edited["lines"][0]["quantity"] == "3" and edited["net"] == "6.00"

    dated = _json(tollbook, "invoice", "dates", draft, "--due", "2027-01-31")
    assert dated["due_date"] == "2027-01-31"

    removed = _json(tollbook, "invoice", "line", "remove", draft, "1")
    assert removed["lines"] == [] and removed["version"] > added["version"]

    voided = _json(tollbook, "invoice", "void", world["spare"], "--reason", "sent twice")
    assert (voided["number"], voided["status"]) == (world["spare"], "void")
    assert voided["void_reason"] == "sent twice"


def test_payment_changes_print_the_payment(tollbook, world):
    paid, pending, inv = world["paid"], world["pending"], world["inv"]

    allocated = _json(tollbook, "payment", "allocate", paid, f"{inv}=5")
    assert (allocated["id"], allocated["allocated"]) == (paid, "15.00")

    unallocated = _json(tollbook, "payment", "unallocate", paid, inv, "5", "--reason", "r")
    assert unallocated["allocated"] == "10.00"

    refunded = _json(tollbook, "payment", "refund", paid, "1")
    assert (refunded["refunded"], refunded["unallocated"]) == ("1.00", "39.00")

    completed = _json(tollbook, "payment", "complete", pending)
    assert (completed["id"], completed["status"]) == (pending, "completed")

    cancelled = _json(tollbook, "payment", "cancel", pending, "--reason", "bounced")
    assert cancelled["status"] == "cancelled"


def test_reference_data_changes_print_what_changed(tollbook, world):
    updated = _json(tollbook, "customer", "update", "ACME", "--email", "ap@acme.test")
    assert updated["account_number"] == "ACME" and updated["email"] == "ap@acme.test"

    assigned = _json(tollbook, "package", "assign", "ACME", "Trunk", "--start", "2026-01-01")
    (assignment,) = assigned["packages"]
    ended = _json(
        tollbook, "package", "end", "ACME", assignment["assignment_id"], "--end", "2026-06-30"
    )
    assert ended["packages"][0]["end_date"] == "2026-06-30"

    settings = _json(tollbook, "settings", "set", "company_name=Tolls Ltd")
    assert settings["company_name"] == "Tolls Ltd"

    scheduled = _json(tollbook, "schedule", "set", "ACME", "monthly:1")
    assert (scheduled["account"], scheduled["schedule"]) == ("ACME", "monthly:1")


def test_audit_export_and_export_file_print_what_they_wrote(tollbook, world, tmp_path):
    events = event_count(world["ledger"])

    audit = _json(tollbook, "audit", "export", "-o", str(tmp_path / "log.jsonl"))
    assert audit["events"] == events
    assert len((tmp_path / "log.jsonl").read_text().splitlines()) == events

    rows = _json(tollbook, "export", "file", "--from", "2026-01-01", "--to", "2027-12-31")
    assert isinstance(rows, list) and rows
    written = _json(
        tollbook,
        "export",
        "file",
        "--from",
        "2026-01-01",
        "--to",
        "2027-12-31",
        "--output",
        str(tmp_path / "docs.csv"),
    )
    assert (written["format"], written["rows"]) == ("csv", len(rows))

    refused = tollbook(
        "export", "file", "--from", "2026-01-01", "--to", "2027-12-31", "--format", "csv", "--json"
    )
    assert refused.code == 2 and refused.err.endswith("[invalid_input]\n")


def test_read_model_and_service_commands_print_json(tollbook, world, monkeypatch):
    rebuilt = _json(tollbook, "projections", "rebuild", "balances")
    assert rebuilt["read_models"] == ["balances"] and rebuilt["events"] > 0
    caught = _json(tollbook, "projections", "catch-up", "balances")
    assert caught["events"] == 0 and caught["head"] == rebuilt["head"]

    _json(tollbook, "apikey", "create", "finance-app")
    revoked = _json(tollbook, "apikey", "revoke", "finance-app")
    assert revoked["name"] == "finance-app" and revoked["revoked_at"]

    monkeypatch.setenv("TOLLBOOK_WEBHOOK_ALLOW_CIDRS", "127.0.0.1/32")  # not resolvable here
    hook = _json(tollbook, "webhook", "add", "http://127.0.0.1:9/tollbook")
    retried = _json(tollbook, "webhook", "retry", hook["id"])
    assert retried["queued_again"] == 0
    removed = _json(tollbook, "webhook", "remove", hook["id"])
    assert (removed["id"], removed["status"]) == (hook["id"], "removed")

    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse battery\n"))
    added = _json(tollbook, "user", "add", "fiona", "--role", "finance", "--password-stdin")
    assert (added["username"], added["role"]) == ("fiona", "finance")
    monkeypatch.setattr("sys.stdin", io.StringIO("staple battery horse\n"))
    changed = _json(tollbook, "user", "password", "fiona", "--password-stdin")
    assert changed["password_changed"] and changed["sessions_ended"]
    assert _json(tollbook, "user", "remove", "fiona")["removed"]


def test_a_refusal_with_json_is_still_one_line_on_stderr(tollbook, world):
    result = tollbook("invoice", "void", world["inv"], "--reason", "r", "--json")

    assert result.code == 1 and result.out == ""
    assert len(result.err.splitlines()) == 1 and result.err.startswith("error: ")
