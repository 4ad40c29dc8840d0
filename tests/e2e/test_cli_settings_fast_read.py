"""``tollbook settings show`` answers from the stored events with sqlite3 or psycopg alone
(adapters/store/stored_settings.py): the same document, text and JSON, as the ledger's path, and
without importing pydantic, eventsourcing or the domain's models."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

import adapters.store.stored_settings as reader
from adapters.config import build_ledger
from adapters.store.stored_settings import DEFAULTS, SETTINGS_ROW_ID, stored_settings
from domain.settings import SETTINGS_ID, SellerSettings

CHANGES = [
    ("company_name=Tolls Ltd", "default_tax_rate=20.5", "default_currency=EUR"),
    ("address=1 Road\\nTown", "invoice_number_format=T{seq:04d}", "country=GB"),
    ("default_tax_rate=17.50", "default_payment_terms_days=14", "tax_rounding=per_invoice_rate"),
]


def test_defaults_and_id_are_the_models():
    assert SellerSettings().model_dump(mode="json") == DEFAULTS
    assert list(SellerSettings.model_fields) == list(DEFAULTS)
    assert SETTINGS_ID.hex == SETTINGS_ROW_ID


def test_fast_path_prints_what_the_ledger_path_prints(store_url, tollbook, monkeypatch):
    assert tollbook("customer", "add", "C1", "--name", "One").code == 0  # tables, no settings
    ledger = build_ledger(store_url)
    try:
        sqlite = store_url.startswith("sqlite")
        table = reader.SQLITE_EVENTS if sqlite else reader.POSTGRES_EVENTS
        assert ledger.recorder.events_table_name == table  # type: ignore[attr-defined]
    finally:
        ledger.close()
    assert stored_settings(store_url) == DEFAULTS
    for changes in CHANGES:
        assert tollbook("settings", "set", *changes).code == 0
    fast_json, fast_text = tollbook("settings", "show", "--json"), tollbook("settings", "show")
    assert fast_json.json()["address"] == "1 Road\nTown"
    assert stored_settings(store_url) == fast_json.json()

    monkeypatch.setattr(reader, "stored_settings", lambda *_: None)  # the ledger's path
    assert tollbook("settings", "show", "--json").out == fast_json.out
    assert tollbook("settings", "show").out == fast_text.out
    assert "Tolls Ltd" in fast_text.out


def test_fast_path_imports_neither_pydantic_nor_the_domain(store_url):
    probe = (
        "import json, sys\nfrom adapters.cli.main import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        "print('MODULES ' + json.dumps(sorted(sys.modules)), file=sys.stderr)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOLLBOOK_")}

    def modules(*args: str) -> tuple[str, set[str]]:
        done = subprocess.run(
            [sys.executable, "-c", probe, "--db", store_url, *args],
            capture_output=True, text=True, check=True, env=env,
        )  # fmt: skip
        line = next(li for li in done.stderr.splitlines() if li.startswith("MODULES "))
        return done.stdout, set(json.loads(line.removeprefix("MODULES ")))

    modules("settings", "set", "company_name=Fast Ltd")
    out, loaded = modules("settings", "show", "--json")
    assert json.loads(out)["company_name"] == "Fast Ltd"
    for library in ("pydantic", "eventsourcing", "domain.settings", "adapters.ledger.application"):
        assert library not in loaded, f"settings show imported {library}"


def test_an_unknown_event_or_field_leaves_the_answer_to_the_ledger(tmp_path):
    url = f"sqlite:///{tmp_path}/tollbook.sqlite"
    path = f"{tmp_path}/tollbook.sqlite"
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
    assert stored_settings(url) is None
    with sqlite3.connect(path) as db:
        db.execute(
            "UPDATE stored_events SET topic = ?, state = ?",
            ("domain.settings:AccountSettings.Renamed", json.dumps({"values": DEFAULTS}).encode()),
        )
    assert stored_settings(url) is None
    assert stored_settings(url, {"COMPRESSOR_TOPIC": "zlib"}) is None
    # the library's own variables name the store: the ledger's path
    assert stored_settings(None, {"PERSISTENCE_MODULE": "eventsourcing.sqlite"}) is None
    assert stored_settings("postgresql://postgres@127.0.0.1:1/nowhere") is None  # unreachable
