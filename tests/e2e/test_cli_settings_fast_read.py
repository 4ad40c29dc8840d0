"""``tollbook settings show`` on SQLite answers from the stored events with sqlite3 alone
(adapters/store/stored_settings.py): the same document, text and JSON, as the ledger's path, and
without importing pydantic, eventsourcing or the domain's models."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable

import pytest

from adapters.cli.main import main
from adapters.clock import SteppingClock
from adapters.store.stored_settings import DEFAULTS, SETTINGS_ROW_ID, stored_settings
from domain.settings import SETTINGS_ID, SellerSettings

CHANGES = [
    ("company_name=Tolls Ltd", "default_tax_rate=20.5", "default_currency=EUR"),
    ("address=1 Road\\nTown", "invoice_number_format=T{seq:04d}", "country=GB"),
    ("default_tax_rate=17.50", "default_payment_terms_days=14", "tax_rounding=per_invoice_rate"),
]


@pytest.fixture
def sqlite_url(tmp_path: object) -> str:
    return f"sqlite:///{tmp_path}/tollbook.sqlite"


def run(
    capsys: pytest.CaptureFixture[str], clock: SteppingClock, args: list[str]
) -> tuple[int, str]:
    capsys.readouterr()
    try:
        main(["--actor", "finance:test", *args], clock=clock)
        code = 0
    except SystemExit as stop:
        code = int(stop.code or 0)
    return code, capsys.readouterr().out


def test_defaults_and_id_are_the_models():
    assert SellerSettings().model_dump(mode="json") == DEFAULTS
    assert list(SellerSettings.model_fields) == list(DEFAULTS)
    assert SETTINGS_ID.hex == SETTINGS_ROW_ID


def test_fast_path_prints_what_the_ledger_path_prints(
    sqlite_url: str,
    clock: SteppingClock,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
):
    shown: Callable[..., tuple[int, str]] = lambda *a: run(capsys, clock, ["--db", sqlite_url, *a])  # noqa: E731
    assert shown("customer", "add", "C1", "--name", "One")[0] == 0  # the tables, no settings
    assert stored_settings(sqlite_url) == DEFAULTS
    for changes in CHANGES:
        assert shown("settings", "set", *changes)[0] == 0
    fast_json, fast_text = shown("settings", "show", "--json")[1], shown("settings", "show")[1]
    assert json.loads(fast_json)["address"] == "1 Road\nTown"
    assert stored_settings(sqlite_url) == json.loads(fast_json)

    # the library's own variables name the same store: the ledger's path answers
    path = sqlite_url.removeprefix("sqlite:///")
    monkeypatch.delenv("TOLLBOOK_DATABASE_URL", raising=False)
    monkeypatch.setenv("PERSISTENCE_MODULE", "eventsourcing.sqlite")
    monkeypatch.setenv("SQLITE_DBNAME", path)
    monkeypatch.setenv("APPLICATION_RECORDER_TOPIC", "adapters.store.chain:ChainedSQLiteRecorder")
    assert stored_settings(None) is None
    assert run(capsys, clock, ["settings", "show", "--json"]) == (0, fast_json)
    assert run(capsys, clock, ["settings", "show"]) == (0, fast_text)


def test_fast_path_imports_neither_pydantic_nor_the_domain(sqlite_url: str):
    probe = (
        "import json, sys\nfrom adapters.cli.main import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        "print('MODULES ' + json.dumps(sorted(sys.modules)), file=sys.stderr)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOLLBOOK_")}

    def modules(*args: str) -> tuple[str, set[str]]:
        done = subprocess.run(
            [sys.executable, "-c", probe, "--db", sqlite_url, *args],
            capture_output=True, text=True, check=True, env=env,
        )  # fmt: skip
        line = next(li for li in done.stderr.splitlines() if li.startswith("MODULES "))
        return done.stdout, set(json.loads(line.removeprefix("MODULES ")))

    modules("settings", "set", "company_name=Fast Ltd")
    out, loaded = modules("settings", "show", "--json")
    assert json.loads(out)["company_name"] == "Fast Ltd"
    for library in ("pydantic", "eventsourcing", "domain.settings", "adapters.ledger.application"):
        assert library not in loaded, f"settings show on SQLite imported {library}"


def test_an_unknown_event_or_field_leaves_the_answer_to_the_ledger(sqlite_url: str):
    path = sqlite_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE stored_events (originator_id TEXT, originator_version INTEGER,"
            " topic TEXT, state BLOB, PRIMARY KEY (originator_id, originator_version))"
        )
        initialised = {"values": {**DEFAULTS, "added_later": "x"}}
        db.execute(
            "INSERT INTO stored_events VALUES (?, 1, ?, ?)",
            (SETTINGS_ROW_ID, "domain.settings:AccountSettings.Initialised",
             json.dumps(initialised).encode()),
        )  # fmt: skip
    assert stored_settings(sqlite_url) is None
    with sqlite3.connect(path) as db:
        db.execute(
            "UPDATE stored_events SET topic = ?, state = ?",
            ("domain.settings:AccountSettings.Renamed", json.dumps({"values": DEFAULTS}).encode()),
        )
    assert stored_settings(sqlite_url) is None
    assert stored_settings(sqlite_url, {"COMPRESSOR_TOPIC": "zlib"}) is None
