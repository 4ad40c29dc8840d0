"""What a command imports: ``tollbook --help`` none of the commands' modules, and a command only
what it uses (the HTTP service, PDFs and accounting SDKs never for a look at the settings).
Behaviour, not timing: bench/cli_start.py measures the time (docs/performance.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from adapters.cli.registry import COMMANDS

# The libraries only some commands need (serve, pdf, export, schedule, ...).
HEAVY = ("fastapi", "starlette", "uvicorn", "fpdf", "xero_python", "apscheduler", "httpx")

# Runs the console script's function in a child and prints the modules it imported, on stderr.
PROBE = """
import json, sys
from adapters.cli.main import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print("MODULES " + json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def imported(*args: str) -> tuple[str, set[str]]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "COLUMNS": "80"},
    )
    line = next(li for li in done.stderr.splitlines() if li.startswith("MODULES "))
    return done.stdout, set(json.loads(line.removeprefix("MODULES ")))


def test_help_imports_no_command_and_no_library_a_command_needs():
    out, modules = imported("--help")
    assert "settings" in out and "invoice" in out
    command_modules = {entry.target.partition(":")[0] for entry in COMMANDS.values()}
    assert not command_modules & modules
    for library in (*HEAVY, "pydantic", "eventsourcing", "psycopg", "rich", "structlog"):
        assert library not in modules, f"tollbook --help imported {library}"
    assert "adapters.ledger.application" not in modules


def test_settings_show_on_a_set_up_store_reads_the_events_without_the_domain(store_url):
    imported("--db", store_url, "settings", "show", "--json")  # sets a new store up
    out, modules = imported("--db", store_url, "settings", "show", "--json")
    assert json.loads(out)["default_currency"]
    # the settings events read as stored (adapters/store/stored_settings.py)
    for library in ("adapters.ledger.application", "domain.settings", "pydantic", "eventsourcing"):
        assert library not in modules, f"settings show --json imported {library}"
    for library in (*HEAVY, "adapters.pdf", "adapters.http", "adapters.accounting", "rich"):
        assert library not in modules, f"settings show --json imported {library}"
    if store_url.startswith("sqlite"):
        for library in ("psycopg", "psycopg_pool", "eventsourcing.postgres", "structlog"):
            assert library not in modules, f"settings show on SQLite imported {library}"


def test_invoice_show_reads_no_pdf_library(store_url, tollbook):
    assert tollbook("customer", "add", "ACME", "--name", "Acme").code == 0
    drafted = tollbook("invoice", "new", "ACME", "--json").json()
    invoice = drafted["id"]
    assert (
        tollbook("invoice", "line", "add", invoice, "--description", "x", "--unit-price", "1").code
        == 0
    )
    number = tollbook("invoice", "issue", invoice, "--json").json()["number"]
    out, modules = imported("--db", store_url, "invoice", "show", number)
    assert number in out
    for library in (*HEAVY, "adapters.pdf", "adapters.http", "adapters.accounting"):
        assert library not in modules, f"invoice show imported {library}"


@pytest.mark.parametrize("level", ["info", "warning"])
def test_structlog_is_configured_when_first_imported(level):
    """A module imported after start-up that logs with structlog writes as configured: the
    level from the environment, one line on stderr, nothing on stdout."""
    probe = """
import sys
from adapters.logging import configure_logging_on_import
configure_logging_on_import()
assert "structlog" not in sys.modules
import structlog
log = structlog.get_logger("late")
log.info("informed", n=1)
log.warning("warned", n=2)
"""
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "TOLLBOOK_LOG_LEVEL": level},
    )
    assert done.stdout == ""
    assert "warned" in done.stderr and "n=2" in done.stderr
    assert ("informed" in done.stderr) == (level == "info")


def _probe(code: str, level: str = "warning") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "TOLLBOOK_LOG_LEVEL": level, "TOLLBOOK_LOG_FORMAT": "json"},
    )


def test_settings_show_imports_no_logging_and_no_pool(store_url):
    imported("--db", store_url, "settings", "show")  # sets a new store up
    out, modules = imported("--db", store_url, "settings", "show")
    assert "default_currency" in out
    if store_url.startswith("sqlite"):  # psycopg imports logging itself
        assert "logging" not in modules
    assert "psycopg_pool" not in modules  # one connection, not a pool


@pytest.mark.parametrize("level", ["info", "warning"])
def test_standard_logging_is_routed_when_first_imported(level):
    """A library logger of the standard library, imported after start-up, writes through
    structlog at the level asked for: JSON lines on stderr, nothing on stdout."""
    probe = """
import sys
from adapters.logging import configure_logging_on_import
configure_logging_on_import()
assert "logging" not in sys.modules
import logging
logging.getLogger("tollbook.late").info("informed")
logging.getLogger("tollbook.late").warning("warned")
logging.getLogger("library").info("chatter")
"""
    done = _probe(probe, level)
    assert done.stdout == ""
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert [line["event"] for line in lines] == (
        ["informed", "warned"] if level == "info" else ["warned"]
    )


def test_a_warning_before_logging_is_imported_goes_through_the_handler():
    """Python's warnings are captured as they were when logging was routed at start: one JSON
    line, also for a warning shown before anything imported ``logging``."""
    probe = """
import sys, warnings
from adapters.logging import configure_logging_on_import
configure_logging_on_import()
assert "logging" not in sys.modules
warnings.warn("first", UserWarning)
assert "logging" in sys.modules
warnings.warn("second", UserWarning)
"""
    lines = [json.loads(line) for line in _probe(probe).stderr.splitlines()]
    assert len(lines) == 2
    assert "first" in lines[0]["event"] and "second" in lines[1]["event"]
