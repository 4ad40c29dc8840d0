"""``tollbook usage import`` and ``tollbook bill`` through the command line."""

from __future__ import annotations

import json
import uuid

import pytest

from adapters.cli.main import main
from tests.integration.usage_helpers import cdr, customers, write_cdrs


def run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        main(list(argv))
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def db_url(make_ledger, store_url):
    customers(make_ledger(), [("ACME", "GBP", "UTC", "destination")])
    return store_url


def test_import_then_bill_from_the_command_line(db_url, tmp_path, capsys):
    path = write_cdrs(tmp_path / "oct.csv", [cdr("a1"), cdr("a2", account="WHO")])
    code, out, _ = run(capsys, "--db", db_url, "usage", "import", str(path))
    assert code == 0 and "1 rejected rows" in out and "oct.rejects.csv" in out
    code, out, _ = run(capsys, "--db", db_url, "usage", "import", str(path))
    assert code == 0 and "already imported, nothing new added" in out

    code, out, _ = run(capsys, "--db", db_url, "bill", "--period", "2026-10", "--dry-run")
    assert code == 0 and "dry run: nothing written" in out
    assert "Calls to UK Mobile (1 call)" in out and "0 created" in out

    code, out, _ = run(capsys, "--db", db_url, "bill", "--period", "2026-10", "--issue", "--json")
    document = json.loads(out)
    assert code == 0 and [(i["action"], i["state"], i["total"]) for i in document["invoices"]] == [
        ("created", "issued", "0.01")
    ]
    code, out, _ = run(capsys, "--db", db_url, "bill", "--from", "2026-10-01", "--to", "2026-10-31")
    assert code == 0 and "0 created, 1 already there" in out


def test_a_corrupt_file_and_bad_options_are_refused_with_a_clear_error(db_url, tmp_path, capsys):
    broken = tmp_path / "broken.csv.gz"
    broken.write_bytes(b"\x1f\x8b\x08\x00garbage")
    code, _, err = run(capsys, "--db", db_url, "usage", "import", str(broken))
    assert code == 2 and "not a readable gzip file" in err and "[corrupt_file]" in err
    code, _, err = run(
        capsys, "--db", db_url, "bill", "--period", "2026-10", "--from", "2026-10-01"
    )
    assert code == 2 and "not both" in err
    code, _, err = run(capsys, "--db", db_url, "bill", "--period", "October")
    assert code == 2 and "period must be a month like 2026-10" in err
    code, _, err = run(capsys, "--db", "memory://", "bill", "--period", "2026-10")
    assert code == 5 and "no SQL database" in err


def test_a_usage_database_apart_makes_its_schema_as_a_store_does(
    tmp_path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``TOLLBOOK_USAGE_DATABASE_URL=postgresql://…?schema=usage`` on a fresh node, as
    docs/scaling.md shows it: the schema is made on first use, like a ledger's."""
    from tests.conftest import PG_ADMIN_URL, _pg_connect

    if "?" in PG_ADMIN_URL:
        pytest.skip("the test database's URL carries a query")
    schema = f"u_{uuid.uuid4().hex[:12]}"
    _pg_connect().close()  # skips without PostgreSQL
    ledger = f"sqlite:///{tmp_path}/ledger.sqlite"
    monkeypatch.setenv("TOLLBOOK_USAGE_DATABASE_URL", f"{PG_ADMIN_URL}?schema={schema}")
    try:
        code, _, err = run(capsys, "--db", ledger, "customer", "add", "ACME", "--name", "Acme",
                           "--currency", "GBP")  # fmt: skip
        assert code == 0, err
        path = write_cdrs(tmp_path / "oct.csv", [cdr("a1"), cdr("a2")])
        code, out, err = run(capsys, "--db", ledger, "usage", "import", str(path), "--json")
        assert code == 0, err
        assert json.loads(out)[0]["inserted"] == 2
        with _pg_connect() as conn:
            row = conn.execute(f'SELECT COUNT(*) FROM "{schema}".usage_cdrs').fetchone()
        assert row is not None and row[0] == 2
    finally:
        with _pg_connect() as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
