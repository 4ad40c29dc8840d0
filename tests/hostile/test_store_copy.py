"""Hostile ``tollbook store copy --to`` targets and usage locations: each refused with a
specific code and exit, on one line, with no password echoed, the source left writable and
nothing written to it."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.usage.location import USAGE_VARIABLE
from tests.helpers import run_cli as run

RULE, CONFIG = 1, 5


@pytest.fixture
def source(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    url = f"sqlite:///{tmp_path}/ledger.sqlite"
    code, _, err = run(capsys, "--db", url, "customer", "add", "ACME", "--name", "Acme Ltd",
                       "--currency", "GBP")  # fmt: skip
    assert code == 0, err
    return url


@pytest.mark.parametrize(
    ("target", "exit_", "code", "words"),
    [
        ("memory://", RULE, "move_failed", "must be SQLite or PostgreSQL"),
        ("ftp://host/x", RULE, "move_failed", "unsupported database URL"),
        ("ftp://a\nb\x1b[31m", RULE, "move_failed", "must be SQLite or PostgreSQL"),
        ("{source}", RULE, "move_failed", "same store"),
        # nobody listens on port 1; the password must never be echoed
        ("postgresql://u:s3cret-pw@127.0.0.1:1/x", RULE, "move_failed", "cannot be reached"),
    ],
)
def test_a_hostile_target_is_refused_and_the_source_stays_writable(
    source: str,
    capsys: pytest.CaptureFixture[str],
    target: str,
    exit_: int,
    code: str,
    words: str,
) -> None:
    status, _, err = run(capsys, "--db", source, "store", "copy", "--to",
                         target.format(source=source))  # fmt: skip
    assert status == exit_, err
    assert err.startswith("error: ") and err.rstrip().endswith(f"[{code}]")
    assert words in err
    assert err.count("\n") == 1 and "\x1b" not in err
    assert "s3cret-pw" not in err
    _, out, _ = run(capsys, "--db", source, "store", "status")
    assert out.strip() == "writable"
    status, _, err = run(capsys, "--db", source, "customer", "add", "BETA", "--name", "Beta",
                         "--currency", "GBP")  # fmt: skip
    assert status == 0, err


def test_store_commands_on_a_memory_store_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, "--db", "memory://", "store", "status")
    assert status == CONFIG and err.rstrip().endswith("[config]")


@pytest.mark.parametrize("usage_url", ["memory://", "ftp://elsewhere/cdrs"])
def test_a_usage_location_that_is_no_sql_store_is_refused(
    source: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    usage_url: str,
) -> None:  # fmt: skip
    monkeypatch.setenv(USAGE_VARIABLE, usage_url)
    status, _, err = run(capsys, "--db", source, "bill", "--period", "2026-10")
    assert status == CONFIG, err
    assert USAGE_VARIABLE in err and err.rstrip().endswith("[config]")
