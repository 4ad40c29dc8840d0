"""``audit verify`` on rows the application could never have written (raw SQL behind its back):
each is a finding naming the row and what is wrong with it, never a crash, on both stores."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from adapters.cli.main import cli
from tests.integration.billing import customer, execute, issued_invoice, paid


def _tables(store_url: str) -> tuple[str, str]:
    if store_url.startswith("sqlite"):
        return "stored_events", "rowid"
    return "tollbook_events", "notification_id"


def _verify(store_url: str) -> tuple[int, list[dict[str, object]]]:
    result = CliRunner().invoke(
        cli, ["--db", store_url, "audit", "verify", "--json"], catch_exceptions=False
    )
    document = json.loads(result.stdout.split("\nError")[0])
    return result.exit_code, document["findings"]


@pytest.fixture
def logged(ledger, store_url) -> int:
    """A few events on the log; returns how many."""
    customer(ledger, "ACME")
    issued_invoice(ledger, "ACME", "100.00")
    paid(ledger, "ACME", "50.00")
    (count,) = execute(store_url, f"SELECT COUNT(*) FROM {_tables(store_url)[0]}")[0]
    assert count >= 6
    return int(count)


def _problems(findings: list[dict[str, object]]) -> list[tuple[object, object, str]]:
    return [(f["position"], f["problem"], str(f["detail"])) for f in findings]


@pytest.mark.parametrize(
    ("column", "value", "detail"),
    [
        ("hash", "not-hex-at-all", "chain row: hash is not 64 hex digits: 'not-hex-at-all'"),
        ("hash", "AB" * 32, "chain row: hash is not 64 hex digits"),  # upper case: not ours
        ("hash", "ab" * 31, "chain row: hash is not 64 hex digits"),  # truncated
        ("originator_id", "not-a-uuid", "chain row: aggregate id is not a UUID: 'not-a-uuid'"),
    ],
)
def test_a_malformed_chain_row_is_a_finding(logged, store_url, column, value, detail):
    table, _ = _tables(store_url)
    execute(store_url, f"UPDATE {table}_chain SET {column} = ? WHERE position = 3", (value,))

    exit_code, findings = _verify(store_url)

    assert exit_code == 1
    assert [(p, problem) for p, problem, _ in _problems(findings)] == [(3, "malformed")]
    assert _problems(findings)[0][2].startswith(detail)


def test_a_non_uuid_aggregate_id_in_the_events_table_is_a_finding(logged, store_url):
    if not store_url.startswith("sqlite"):
        pytest.skip("PostgreSQL's uuid column cannot hold one")
    execute(store_url, "UPDATE stored_events SET originator_id = 'not-a-uuid' WHERE rowid = 2")

    exit_code, findings = _verify(store_url)

    assert exit_code == 1
    assert _problems(findings) == [
        (2, "malformed", "event: aggregate id is not a UUID: 'not-a-uuid'")
    ]


def test_a_non_integer_version_or_previous_position_is_a_finding(logged, store_url):
    if not store_url.startswith("sqlite"):
        pytest.skip("PostgreSQL's bigint column cannot hold one")
    execute(store_url, "UPDATE stored_events SET originator_version = 'v' WHERE rowid = 2")
    execute(store_url, "UPDATE stored_events_chain SET prev_position = 'x' WHERE position = 5")

    exit_code, findings = _verify(store_url)

    assert exit_code == 1
    assert _problems(findings) == [
        (2, "malformed", "event: version is not a whole number: 'v'"),
        (5, "malformed", "chain row: previous position is not a whole number: 'x'"),
    ]


def test_a_missing_state_and_topic_are_findings(logged, store_url):
    table, position = _tables(store_url)
    execute(store_url, f"UPDATE {table} SET state = NULL WHERE {position} = 2")
    execute(store_url, f"UPDATE {table} SET topic = NULL WHERE {position} = 4")

    exit_code, findings = _verify(store_url)

    assert exit_code == 1
    assert _problems(findings) == [
        (2, "malformed", "event: state is None"),
        (4, "malformed", "event: topic is None"),
    ]


def test_a_truncated_json_state_is_an_altered_record(logged, store_url):
    table, position = _tables(store_url)
    execute(store_url, f"UPDATE {table} SET state = ? WHERE {position} = 3", (b'{"amount": "1',))

    exit_code, findings = _verify(store_url)

    assert exit_code == 1
    assert _problems(findings) == [(3, "altered", "")]


def test_a_chain_row_removed_from_under_its_event_is_named_once(logged, store_url):
    table, _ = _tables(store_url)
    execute(store_url, f"DELETE FROM {table}_chain WHERE position = 3")

    exit_code, findings = _verify(store_url)

    assert exit_code == 1
    assert [(p, problem) for p, problem, _ in _problems(findings)] == [(3, "chain row removed")]


def test_the_walk_goes_on_after_a_malformed_row(logged, store_url):
    table, position = _tables(store_url)
    execute(store_url, f"UPDATE {table}_chain SET hash = 'zz' WHERE position = 2")
    execute(store_url, f"UPDATE {table} SET state = ? WHERE {position} = 5", (b"{}",))

    exit_code, findings = _verify(store_url)

    assert exit_code == 1
    assert [(p, problem) for p, problem, _ in _problems(findings)] == [
        (2, "malformed"),
        (5, "altered"),
    ]


def test_a_malformed_row_in_the_table_view_is_one_line_per_finding(logged, store_url):
    table, _ = _tables(store_url)
    execute(store_url, f"UPDATE {table}_chain SET hash = 'zz' WHERE position = 2")

    result = CliRunner().invoke(cli, ["--db", store_url, "audit", "verify"])

    assert result.exit_code == 1
    assert "malformed" in result.stdout and "hash is not 64 hex digits" in result.stdout


def test_audit_export_flags_a_row_it_cannot_read_and_goes_on(logged, store_url, tmp_path):
    table, position = _tables(store_url)
    execute(store_url, f"UPDATE {table} SET state = ? WHERE {position} = 3", (b'{"amount": "1',))
    target = tmp_path / "audit.jsonl"

    result = CliRunner().invoke(
        cli, ["--db", store_url, "audit", "export", "-o", str(target), "--json"]
    )

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["events"] == logged
    lines = [json.loads(line) for line in target.read_text().splitlines()]
    assert [line["position"] for line in lines] == list(range(1, logged + 1))
    flagged = [line for line in lines if "malformed" in line]
    assert [line["position"] for line in flagged] == [3]
    assert flagged[0]["malformed"].startswith("cannot be read as an event: JSONDecodeError")
    assert flagged[0]["chain_hash"] and all(
        "payload" in line for line in lines if line != flagged[0]
    )
