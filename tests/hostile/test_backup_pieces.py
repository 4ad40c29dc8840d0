"""Hostile backup pieces and targets: every one refused with the step and the piece named,
exit 1 ``[restore_failed]`` (or ``[backup_refused]``), and nothing written to the target.

The pieces are made once from a small ledger on SQLite; each test copies them, damages the
copy as an attacker (or an unlucky disk) would, and restores into the test's empty store on
SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from adapters.backup.manifest import read_manifest
from adapters.ledger.application import Ledger
from tests import backup_support
from tests.backup_support import Run, event_rows, rewrite_manifest, small_ledger_pieces
from tests.e2e.conftest import Result
from tests.integration.billing import customer, execute, issued_invoice, paid

tollbook_at = backup_support.tollbook_at


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pieces")
    small_ledger_pieces(folder / "ours", "ACME")
    small_ledger_pieces(folder / "theirs", "OTHER")
    return folder


@pytest.fixture
def pieces(made: Path, tmp_path: Path) -> Path:
    """A copy of the pieces to damage: ours/{full,inc-1,inc-2}, theirs/{...}."""
    copy = tmp_path / "pieces"
    shutil.copytree(made, copy, ignore=shutil.ignore_patterns("source.sqlite*"))
    return copy


def _refusal(result: Result) -> dict[str, Any]:
    assert result.code == 1, result.out
    assert "[restore_failed]" in result.err
    verdict = result.json()
    assert verdict["verdict"] == "FAILED"
    step: dict[str, Any] = next(s for s in verdict["steps"] if s["status"] == "failed")
    assert verdict["failed_step"] == step["name"]
    return step


@pytest.fixture
def refused(tollbook_at: Run, tmp_path: Path) -> Callable[..., dict[str, Any]]:
    """Restore pieces that cannot prove themselves; assert the refusal, and that the target
    was never even opened (a SQLite file not made): the failed step. Such pieces are refused
    before any database is touched, so one kind of store shows it for both."""

    def restore(*paths: Path | str) -> dict[str, Any]:
        target = tmp_path / "target.sqlite"
        result = tollbook_at(f"sqlite:///{target}", "restore", *map(str, paths), "--json")
        assert not target.exists()
        return _refusal(result)

    return restore


@pytest.fixture
def refused_by_store(
    tollbook: Callable[..., Result], store_url: str
) -> Callable[..., dict[str, Any]]:
    """Restore into the test's store (SQLite and PostgreSQL); assert the refusal and that no
    event was written: the failed step."""

    def restore(*paths: Path | str) -> dict[str, Any]:
        before = event_rows(store_url)
        result = tollbook("restore", *(str(p) for p in paths), "--json", "--quiet")
        assert event_rows(store_url) == before
        return _refusal(result)

    return restore


def test_a_manifest_that_is_not_json_is_refused_naming_the_piece(pieces, refused):
    (pieces / "ours/inc-1/manifest.json").write_text('{"format": "tollbook-backup/1", ')
    step = refused(pieces / "ours/full", pieces / "ours/inc-1")
    assert step["name"] == "manifests"
    assert step["detail"].startswith(f"piece 2 ({pieces / 'ours/inc-1'}): manifest is not JSON")


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (lambda m: m.update(format="other/9"), "not a tollbook backup manifest"),
        (lambda m: m.update(chain_head="Z" * 64), "chain_head"),
        (lambda m: m.update(last_position=-1), "last_position"),
        (lambda m: m.update(schema_version=10_000), "schema_version"),
        (lambda m: m.update(kind="incremental"), "a full backup has no base"),
        (lambda m: m.update(extra="field"), "extra"),
        (lambda m: m["event_counts"].update({"Invoice.Issued": 99}), "do not add up"),
        (lambda m: m.update(created_at="2026-10-01T09:00:00"), "time zone"),
    ],
)
def test_a_manifest_that_tollbook_could_not_have_written_is_refused(pieces, refused, change, said):
    path = pieces / "ours/full/manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))
    step = refused(pieces / "ours/full")
    assert step["name"] == "manifests"
    assert "piece 1" in step["detail"] and said in step["detail"]


def test_a_huge_manifest_is_refused_unread(pieces, refused):
    (pieces / "ours/full/manifest.json").write_bytes(b" " * (1024 * 1024 + 1))
    step = refused(pieces / "ours/full")
    assert "manifest larger than 1,048,576 bytes" in step["detail"]


@pytest.mark.parametrize("name", ["../../../etc/passwd", "/etc/passwd", "sub/events.jsonl", ".x.y"])
def test_a_file_name_that_leaves_the_piece_is_refused(pieces, refused, name):
    path = pieces / "ours/full/manifest.json"
    manifest = json.loads(path.read_text())
    manifest["files"][0]["name"] = name
    path.write_text(json.dumps(manifest))
    step = refused(pieces / "ours/full")
    assert step["name"] == "manifests"
    assert "files.0.name" in step["detail"]


def test_a_file_that_is_a_link_out_of_the_piece_is_refused(pieces, refused, tmp_path):
    outside = tmp_path / "secret.txt"
    outside.write_text("not yours\n")
    target = pieces / "ours/full/table.api_keys.jsonl"
    target.unlink()
    os.symlink(outside, target)
    step = refused(pieces / "ours/full")
    assert step["detail"].endswith("table.api_keys.jsonl is missing or is not a plain file")


def test_a_piece_with_a_missing_file_is_refused(pieces, refused):
    (pieces / "ours/full/usage_cdrs.jsonl").unlink()
    step = refused(pieces / "ours/full")
    assert "usage_cdrs.jsonl is missing" in step["detail"]


def test_a_manifest_that_smuggles_in_the_events_table_is_refused(pieces, refused):
    full = pieces / "ours/full"
    shutil.copy(full / "events.jsonl", full / "table.stored_events.jsonl")

    def smuggle(manifest: dict[str, Any]) -> None:
        manifest["tables"].append("stored_events")
        manifest["files"].append(
            {"name": "table.stored_events.jsonl", "sha256": "0" * 64, "bytes": 0, "lines": 0}
        )

    rewrite_manifest(full, smuggle)
    step = refused(full)
    assert step["detail"].endswith("a backup never carries table stored_events")


def test_an_increment_of_another_ledger_is_refused(pieces, refused):
    step = refused(pieces / "ours/full", pieces / "theirs/inc-1")
    assert step["name"] == "chain"
    assert f"piece 2 ({pieces / 'theirs/inc-1'}) does not continue piece 1" in step["detail"]


@pytest.mark.parametrize(
    ("order", "step_name", "said"),
    [
        (["inc-1", "inc-2"], "manifests", "piece 1 ({}/inc-1) is an increment"),
        (["full", "inc-2", "inc-1"], "chain", "piece 2 ({}/inc-2) does not continue piece 1"),
        (["full", "full"], "manifests", "piece 2 ({}/full) is a full backup"),
        (["full", "inc-1", "inc-1"], "chain", "piece 3 ({}/inc-1) does not continue piece 2"),
    ],
)
def test_pieces_in_the_wrong_order_are_refused(pieces, refused, order, step_name, said):
    step = refused(*(pieces / "ours" / name for name in order))
    assert step["name"] == step_name
    assert said.format(pieces / "ours") in step["detail"]


def test_a_truncated_file_is_refused_by_its_checksum(pieces, refused):
    events = pieces / "ours/inc-1/events.jsonl"
    events.write_bytes(events.read_bytes()[:-40])
    step = refused(pieces / "ours/full", pieces / "ours/inc-1")
    assert step["name"] == "checksums"
    assert "piece 2" in step["detail"] and "events.jsonl has" in step["detail"]
    assert "cut short" in step["detail"]


def test_a_truncated_file_with_its_checksum_fixed_up_is_refused_by_the_chain(pieces, refused):
    events = pieces / "ours/inc-2/events.jsonl"
    data = events.read_bytes()
    events.write_bytes(data[:-40])  # the last line cut off mid-way
    rewrite_manifest(pieces / "ours/inc-2", lambda manifest: None)
    step = refused(*(pieces / "ours" / name for name in ("full", "inc-1", "inc-2")))
    assert step["name"] == "chain"
    assert "piece 3" in step["detail"] and "is cut off" in step["detail"]

    lines = data.splitlines(keepends=True)
    events.write_bytes(b"".join(lines[:-1]))  # the last event left out, on a line boundary
    rewrite_manifest(pieces / "ours/inc-2", lambda manifest: None)
    step = refused(*(pieces / "ours" / name for name in ("full", "inc-1", "inc-2")))
    assert "piece 3" in step["detail"] and "events were removed from its end" in step["detail"]


def test_a_table_file_naming_a_column_the_database_lacks_writes_nothing(pieces, refused_by_store):
    table = pieces / "ours/full/table.api_keys.jsonl"
    lines = table.read_text().splitlines()
    lines[0] = json.dumps({"table": "api_keys", "columns": ["name; DROP TABLE api_keys"]})
    table.write_text("\n".join(lines) + "\n")
    rewrite_manifest(pieces / "ours/full", lambda manifest: None)
    step = refused_by_store(pieces / "ours/full")
    assert step["name"] == "load"
    assert "which this database does not have" in step["detail"]


def test_a_restore_into_a_database_that_holds_events_is_refused(
    pieces, refused_by_store, ledger: Ledger
):
    customer(ledger, "LIVE")
    step = refused_by_store(pieces / "ours/full")
    assert step["name"] == "target"
    assert "the target database is not empty" in step["detail"]
    assert ledger.customer("LIVE").id  # still there, and alone


def test_a_restore_into_a_database_with_only_an_api_key_is_refused(
    pieces, refused_by_store, tollbook
):
    assert tollbook("apikey", "create", "finance-app", "--scope", "read").code == 0
    step = refused_by_store(pieces / "ours/full")
    assert step["detail"].startswith("the target database is not empty (api_keys has rows)")


def test_too_many_pieces_are_refused(pieces, refused):
    step = refused(*([pieces / "ours/full"] * 1001))
    assert "1001 pieces: at most 1000" in step["detail"]


def test_a_backup_since_a_piece_of_another_ledger_is_refused(pieces, tollbook, ledger, tmp_path):
    customer(ledger, "ACME")
    issued_invoice(ledger, "ACME", "100.00")
    paid(ledger, "ACME", "10.00")
    since = pieces / "theirs/full/manifest.json"
    result = tollbook("backup", "-o", str(tmp_path / "next"), "--since", str(since))
    assert result.code == 1
    assert "[backup_refused]" in result.err
    assert "the base piece does not belong to this ledger" in result.err
    assert not (tmp_path / "next").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".next")]


def test_a_backup_into_a_folder_that_holds_files_is_refused(tollbook, tmp_path: Path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    result = tollbook("backup", "-o", str(tmp_path / "taken"))
    assert result.code == 1
    assert "is not an empty folder" in result.err and "[backup_refused]" in result.err
    assert [p.name for p in (tmp_path / "taken").iterdir()] == ["keep.txt"]


def test_a_restore_of_nothing_is_a_usage_error(tollbook_at: Run, tmp_path: Path) -> None:
    result = tollbook_at(f"sqlite:///{tmp_path}/target.sqlite", "restore")
    assert result.code == 2
    assert "[usage]" in result.err


def test_pieces_chained_with_an_audit_key_are_refused_without_it(
    refused, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("TOLLBOOK_AUDIT_KEY", "k" * 32)
    small_ledger_pieces(tmp_path / "keyed", "ACME")
    monkeypatch.setenv("TOLLBOOK_AUDIT_KEY", "another key entirely")
    step = refused(tmp_path / "keyed/full")
    assert step["name"] == "manifests"
    assert "signature does not match" in step["detail"]
    monkeypatch.delenv("TOLLBOOK_AUDIT_KEY")
    step = refused(tmp_path / "keyed/full")
    assert step["name"] == "manifests"
    assert "made with TOLLBOOK_AUDIT_KEY set" in step["detail"]


def test_with_an_audit_key_a_table_file_rewritten_with_its_checksum_is_refused(
    refused, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("TOLLBOOK_AUDIT_KEY", "k" * 32)
    small_ledger_pieces(tmp_path / "keyed", "ACME")
    imports = tmp_path / "keyed/full/table.usage_imports.jsonl"
    imports.write_text(imports.read_text() + '[9,"forged.csv","x","2026",0,0,0,0]\n')
    rewrite_manifest(tmp_path / "keyed/full", lambda manifest: None)  # checksums made to match
    step = refused(tmp_path / "keyed/full")
    assert step["name"] == "manifests"
    assert step["detail"].startswith(
        f"piece 1 ({tmp_path / 'keyed/full'}): its manifest's signature"
    )


def test_a_backup_of_a_store_whose_chain_is_broken_is_refused(
    tollbook, ledger: Ledger, store_url: str, tmp_path: Path
):
    customer(ledger, "ACME")
    issued_invoice(ledger, "ACME", "100.00")
    table, position = (
        ("stored_events", "rowid")
        if store_url.startswith("sqlite")
        else ("tollbook_events", "notification_id")
    )
    execute(store_url, f"UPDATE {table} SET topic = topic || ' ' WHERE {position} = 2")
    result = tollbook("backup", "-o", str(tmp_path / "b"))
    assert result.code == 1
    assert "[backup_refused]" in result.err
    assert "the store's hash chain is broken: position 2" in result.err
    assert not (tmp_path / "b").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".b.")]


def test_a_backup_since_a_manifest_that_is_not_one_is_bad_input(tollbook, tmp_path: Path):
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "manifest.json").write_text("[1, 2, 3]")
    result = tollbook("backup", "-o", str(tmp_path / "next"), "--since", str(tmp_path / "base"))
    assert result.code == 2
    assert "--since" in result.err and "not a tollbook backup manifest" in result.err
    assert "[invalid_input]" in result.err
    assert not (tmp_path / "next").exists()


def test_a_store_in_memory_has_nothing_to_back_up_or_restore_into(
    tollbook_at: Run, made: Path, tmp_path: Path
):
    for args in (["backup", "-o", str(tmp_path / "b")], ["restore", str(made / "ours/full")]):
        result = tollbook_at("memory://", *args)
        assert result.code == 5
        assert "backups need SQLite or PostgreSQL" in result.err and "[config]" in result.err
    assert not (tmp_path / "b").exists()


def test_a_backup_of_a_log_whose_tail_was_cut_off_is_refused(
    tollbook, ledger: Ledger, store_url: str, tmp_path: Path
):
    customer(ledger, "ACME")
    issued_invoice(ledger, "ACME", "100.00")
    assert tollbook("balance").code == 0  # the read models catch up to the end of the log
    events, position = (
        ("stored_events", "rowid")
        if store_url.startswith("sqlite")
        else ("tollbook_events", "notification_id")
    )
    (head,) = execute(store_url, f"SELECT MAX({position}) FROM {events}")[0]
    execute(store_url, f"DELETE FROM {events} WHERE {position} = ?", (head,))
    execute(store_url, f"DELETE FROM {events}_chain WHERE position = ?", (head,))
    result = tollbook("backup", "-o", str(tmp_path / "b"))
    assert result.code == 1
    assert f"the read models saw position {head}" in result.err
    assert "[backup_refused]" in result.err
    assert not (tmp_path / "b").exists()


def test_verify_only_proves_the_pieces_and_opens_no_database(
    tollbook_at: Run, pieces: Path, tmp_path: Path
):
    target = tmp_path / "never.sqlite"
    ours = [str(pieces / "ours" / name) for name in ("full", "inc-1", "inc-2")]
    result = tollbook_at(f"sqlite:///{target}", "restore", "--verify-only", *ours, "--json")
    assert result.code == 0, result.out
    verdict = result.json()
    assert [s["name"] for s in verdict["steps"]] == ["manifests", "checksums", "chain", "usage"]
    assert verdict["verdict"] == "OK"
    assert verdict["chain_head"] == read_manifest(pieces / "ours/inc-2").chain_head
    broken = tollbook_at(
        f"sqlite:///{target}", "restore", "--verify-only", ours[0], ours[2], "--json"
    )
    assert broken.code == 1 and "[restore_failed]" in broken.err
    assert broken.json()["failed_step"] == "chain"
    assert not target.exists()
