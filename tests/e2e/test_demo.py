"""``make demo`` (``tollbook demo``) shows what issue #20 asks of it: a discount, a minimum
commitment top-up, tiered usage, credit applied automatically, and an invoice e-mailed to a
local SMTP server the demo starts, with what that server received."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from adapters.cli.main import main


def _tollbook(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    try:
        main(list(args))
    except SystemExit as stop:
        assert not stop.code, capsys.readouterr().err
    return capsys.readouterr().out


def _flat(text: str) -> str:
    """The narration with table borders and runs of blanks folded, for phrases to be found."""
    return re.sub(r"\s+", " ", re.sub(r"[│┃┏┓┗┛┡┩└┘┳┻╇╋━─┼┬┴]", " ", text))


def test_the_demo_shows_every_pricing_rule_credit_and_an_emailed_invoice(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the demo writes its PDF and CDR files under ./var
    store = tmp_path / "var" / "demo.sqlite"
    out = _flat(_tollbook(capsys, "demo", "--db", str(store)))

    # a discount line on an invoice, taking its own tax back
    assert "Discount 50% on SIP Trunk 30ch (setup) 2026-10-01 – 2026-10-31 1 -125.0000 20" in out
    # the minimum commitment: 2.00 min x 0.015 = 0.03 and 5.00 min x 0.021 = 0.105 -> 0.11
    assert "Minimum commitment top-up (usage 0.14 of 5.00 EUR)" in out
    assert re.search(r"top-up \(usage 0\.14 of 5\.00 EUR\) [^ ]+ – [^ ]+ 1 4\.860 0 4\.86", out)
    # graduated tiers: 14 min = 10 at 0.015 + 4 at 0.010
    assert re.search(r"UK Mobile \(2 calls\), 0–10 min [^ ]+ – [^ ]+ 10\.00 0\.015 20 0\.15", out)
    assert re.search(r"UK Mobile, 10\+ min [^ ]+ – [^ ]+ 4\.00 0\.010 20 0\.04", out)
    # the credit note step says what it did (it printed nothing before)
    assert "CN-2026-000001 credits INV-2026-000002 20.00 EUR" in out
    assert "78.00 EUR left to pay" in out
    # automatic credit application on issue
    assert "INV-2026-000004: total 104.00, credit applied 104.00, outstanding 0.00 (paid)" in out
    # the e-mail, as the demo's own SMTP server received it
    received = re.search(r"attachment INV-2026-000001\.pdf \((\d+) bytes\)", out)
    assert received is not None
    assert "server received from billing@demo-carrier.example to accounts@acme-calls.example" in out
    assert "Subject: Invoice INV-2026-000001 from Northwind Voice Ltd" in out
    assert "recorded Invoice.Sent (sent)" in out
    pdf = tmp_path / "var" / "INV-2026-000001.pdf"
    assert int(received.group(1)) == len(pdf.read_bytes())
    written = re.search(r"sha256 ([0-9a-f]{64})", out)
    assert written is not None and written.group(1) == hashlib.sha256(pdf.read_bytes()).hexdigest()

    # what the demo left behind is an ordinary store the CLI reads
    listed = json.loads(
        _tollbook(capsys, "--db", f"sqlite:///{store}", "invoice", "list", "--json")
    )
    rows = listed["items"] if isinstance(listed, dict) else listed
    by_number = {row["number"]: row for row in rows if row.get("number")}
    assert by_number["INV-2026-000004"]["status"] == "paid"
