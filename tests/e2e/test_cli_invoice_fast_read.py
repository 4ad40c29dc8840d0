"""``tollbook invoice show`` answers from the invoice documents read model with sqlite3 or psycopg
alone (adapters/store/stored_invoices.py) once the read model is at the log's head: the same
text and JSON as the ledger's path at every step of an invoice's life, the ledger's path
whenever the read model is behind, and without importing pydantic, eventsourcing or the
domain's models."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

import pytest

import adapters.store.stored_invoices as reader
from adapters.store.read_models import shape_of
from adapters.store.stored_invoices import stored_invoice_document
from projections.invoice_documents import InvoiceDocuments
from tests.e2e.conftest import Result
from tests.helpers import cli_result


def test_the_reader_knows_the_read_models_tables():
    [table] = InvoiceDocuments.tables
    assert (InvoiceDocuments.name, table.name, shape_of(InvoiceDocuments())) == (
        reader.READ_MODEL,
        reader.DOCUMENTS,
        reader.SHAPE,
    )


def _both_paths(tollbook, monkeypatch: pytest.MonkeyPatch, url: str, ref: str) -> dict[str, object]:
    """Catch the read models up, show ``ref`` through the read model and through the ledger,
    and check they print the same; returns the document."""
    assert tollbook("projections", "catch-up").code == 0
    assert stored_invoice_document(url, ref) is not None  # the read model answers
    fast: list[Result] = [tollbook("invoice", "show", ref, *flag) for flag in ((), ("--json",))]
    with monkeypatch.context() as patched:
        patched.setattr(reader, "stored_invoice_document", lambda *_: None)
        folded = [tollbook("invoice", "show", ref, *flag) for flag in ((), ("--json",))]
    assert [r.code for r in fast + folded] == [0, 0, 0, 0]
    assert fast[0].out == folded[0].out
    assert fast[1].out == folded[1].out
    return fast[1].json()


def test_the_read_model_prints_what_the_ledger_prints_through_an_invoices_life(
    store_url, tollbook, clock, monkeypatch
):
    def ok(*args: str) -> Result:
        result = tollbook(*args)
        assert result.code == 0, result.err
        return result

    ok("customer", "add", "ACME", "--name", "Acme Ltd", "--tax-rate", "20", "--terms", "14")
    draft = ok("invoice", "new", "ACME", "--memo", "Ünïcode \\ memo", "--json").json()["id"]
    assert _both_paths(tollbook, monkeypatch, store_url, draft)["status"] == "draft"
    ok("invoice", "line", "add", draft, "--description", "Calls", "--quantity", "3",
       "--unit-price", "0.3333", "--tax-rate", "17.5")  # fmt: skip
    ok("invoice", "line", "add", draft, "--description", "Line rental", "--unit-price", "12")
    ok("invoice", "line", "add", draft, "--description", "Gone", "--unit-price", "1")
    ok("invoice", "line", "remove", draft, "3")
    ok("invoice", "line", "edit", draft, "2", "--quantity", "2")
    ok("invoice", "discount", "add", draft, "--percent", "10")
    assert _both_paths(tollbook, monkeypatch, store_url, draft[:8].upper() + draft[8:])["lines"]

    number = ok("invoice", "issue", draft, "--json").json()["number"]
    # a write the read model has not seen yet: the ledger's path answers, and answers right
    assert stored_invoice_document(store_url, number) is None
    assert ok("invoice", "show", number, "--json").json()["number"] == number
    issued = _both_paths(tollbook, monkeypatch, store_url, number)
    assert issued["status"] == "issued" and stored_invoice_document(store_url, number)
    total = issued["total"]

    payment = ok("payment", "add", "ACME", "--amount", "5.00", "--completed", "--json")
    ok("payment", "allocate", payment.json()["id"], f"{number}=5.00")
    assert _both_paths(tollbook, monkeypatch, store_url, number)["status"] == "partly_paid"
    ok("credit-note", "new", number, "--reason", "goodwill", "--line", "Goodwill;1;1.00;20")
    assert _both_paths(tollbook, monkeypatch, store_url, number)["credited"] != "0.00"
    clock.advance(days=40)  # past the due date: the day's status comes at read time
    assert _both_paths(tollbook, monkeypatch, store_url, number)["status"] == "overdue"
    assert ok("invoice", "show", number, "--version", "3", "--json").json()["version"] == 3

    second = ok("invoice", "new", "ACME", "--json").json()["id"]
    ok("invoice", "line", "add", second, "--description", "x", "--unit-price", "7")
    other = ok("invoice", "issue", second, "--json").json()["number"]
    ok("invoice", "void", other, "--reason", "sent twice")
    assert _both_paths(tollbook, monkeypatch, store_url, other)["status"] == "void"
    assert _both_paths(tollbook, monkeypatch, store_url, number)["total"] == total
    assert tollbook("invoice", "show", "INV-NOPE").code != 0  # unknown: the ledger says so


def _issued_and_caught_up(tollbook) -> str:
    """An issued invoice's number, the read models caught up."""
    assert tollbook("customer", "add", "ACME", "--name", "Acme").code == 0
    invoice = tollbook("invoice", "new", "ACME", "--json").json()["id"]
    assert tollbook("invoice", "line", "add", invoice, "--description", "x",
                    "--unit-price", "2.5").code == 0  # fmt: skip
    number: str = tollbook("invoice", "issue", invoice, "--json").json()["number"]
    assert tollbook("projections", "catch-up").code == 0
    return number


def test_a_rebuild_gives_the_same_documents(store_url, tollbook):
    number = _issued_and_caught_up(tollbook)
    before = stored_invoice_document(store_url, number)
    assert before is not None and before["version"] == 3
    assert tollbook("projections", "rebuild", "invoice_documents").code == 0
    assert stored_invoice_document(store_url, number) == before


def test_the_fast_path_imports_neither_pydantic_nor_the_domain(store_url, tollbook):
    number = _issued_and_caught_up(tollbook)
    probe = (
        "import json, sys\nfrom adapters.cli.main import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        "print('MODULES ' + json.dumps(sorted(sys.modules)), file=sys.stderr)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOLLBOOK_")}
    for flag in ((), ("--json",)):
        done = subprocess.run(
            [sys.executable, "-c", probe, "--db", store_url, "invoice", "show", number, *flag],
            capture_output=True, text=True, check=True, env=env,
        )  # fmt: skip
        assert number in done.stdout
        line = next(li for li in done.stderr.splitlines() if li.startswith("MODULES "))
        loaded = set(json.loads(line.removeprefix("MODULES ")))
        for library in ("pydantic", "eventsourcing", "adapters.ledger", "projections"):
            assert library not in loaded, f"invoice show imported {library}"
        # only the domain's plain value modules (no model): the day's status and the amounts
        domain = {name for name in loaded if name.split(".")[0] == "domain"}
        assert domain <= {
            "domain", "domain.errors", "domain.invoice_status", "domain.decimal_text",
            "domain.currencies",
        }  # fmt: skip


def test_what_the_reader_cannot_rely_on_leaves_the_answer_to_the_ledger(tmp_path, capsys, clock):
    url = f"sqlite:///{tmp_path}/own.sqlite"

    def cli(*args: str) -> Result:
        return cli_result(capsys, ["--db", url, *args], clock)

    assert cli("customer", "add", "ACME", "--name", "Acme").code == 0
    invoice = cli("invoice", "new", "ACME", "--json").json()["id"]
    assert cli("projections", "catch-up").code == 0
    assert stored_invoice_document(url, invoice) is not None
    assert stored_invoice_document(url, invoice[:8]) is None  # an id prefix: the ledger's
    assert cli("invoice", "show", invoice[:8], "--json").json()["id"] == invoice
    assert stored_invoice_document(url, invoice, {"COMPRESSOR_TOPIC": "zlib"}) is None
    with sqlite3.connect(f"{tmp_path}/own.sqlite") as db:  # tables of another version
        db.execute(
            "UPDATE projection_tracking SET shape = 'other' WHERE name = ?", ["invoice_documents"]
        )
    assert stored_invoice_document(url, invoice) is None
    assert cli("invoice", "show", invoice, "--json").json()["status"] == "draft"
