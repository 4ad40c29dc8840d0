"""The CDR reader's line numbers and COPY text (``_numbered``) against awkward files, through
``tollbook usage import`` on SQLite and PostgreSQL.

A backslash, ``\\N`` or a tab in a field, CRLF line ends, a last line without a newline, a
read chunk that mixes plain and quoted lines, and read chunks small enough to split a line
(or a CRLF) in two: each value is stored as the file had it, and every reject (and every
"first on line" of a duplicate) names the file's own line.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import pytest

from adapters.ledger.application import Ledger
from adapters.store.database import Database
from adapters.usage import cdr_csv
from tests.e2e.conftest import Result
from tests.helpers import event_count
from tests.integration.usage_helpers import HEADER, cdr, customers

Tollbook = Callable[..., Result]


@pytest.fixture
def ledger(make_ledger: Callable[[], Ledger]) -> Ledger:
    built = make_ledger()
    customers(built, [("ACME", "GBP", "UTC", "destination")])
    return built


def stored(url: str) -> dict[str, str]:
    with Database.from_url(url).connect() as conn:
        rows = conn.execute("SELECT call_id, destination FROM usage_cdrs").fetchall()
    return {call_id: destination for call_id, destination in rows}


def rejects(path: Path) -> list[tuple[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return [(row["line"], row["reason"]) for row in csv.DictReader(f)]


#: Every line plain (11 fields, no quote, no padding): the reader's one-join path, escaped.
ALL_PLAIN = [
    cdr("back", destination="UK\\Mobile"),  # line 2
    cdr("null", destination="\\N"),  # 3: COPY's NULL marker, as text
    cdr("trail", destination="UK\\"),  # 4: a backslash before COPY's delimiter
    cdr("who", account="WHO"),  # 5
    cdr("back", destination="other"),  # 6: the same call id again
    cdr("last", destination="L\\\\L"),  # 7
]
#: Plain and odd lines in one read chunk: the reader's line-by-line path.
MIXED = [
    cdr("back", destination="UK\\Mobile"),  # 2
    cdr("tab", destination="UK\tMobile"),  # 3: unprintable
    cdr("quoted", destination='"Korea, \\Rep"'),  # 4
    cdr("padded", destination="Pad\\ded").replace(",", " , "),  # 5
    cdr("who", account="WHO"),  # 6
    cdr("back", destination="other"),  # 7
    cdr("last", destination="L\\L"),  # 8
]
WANTED_PLAIN = {
    "back": "UK\\Mobile",
    "null": "\\N",
    "trail": "UK\\",
    "last": "L\\\\L",
}
REJECTS_PLAIN = [
    ("5", "unknown customer account 'WHO'"),
    ("6", "duplicate call id back with different content (first on line 2)"),
]
WANTED_MIXED = {
    "back": "UK\\Mobile",
    "quoted": "Korea, \\Rep",
    "padded": "Pad\\ded",
    "last": "L\\L",
}
REJECTS_MIXED = [
    ("3", "unprintable character U+0009 in destination (character 3)"),
    ("6", "unknown customer account 'WHO'"),
    ("7", "duplicate call id back with different content (first on line 2)"),
]
FILES = {
    "plain": (ALL_PLAIN, WANTED_PLAIN, REJECTS_PLAIN),
    "mixed": (MIXED, WANTED_MIXED, REJECTS_MIXED),
}


@pytest.mark.parametrize("chunk_bytes", [cdr_csv.CHUNK_BYTES, 7, 64])
@pytest.mark.parametrize("last_newline", [True, False], ids=["newline-at-end", "no-newline"])
@pytest.mark.parametrize("end", ["\n", "\r\n"], ids=["lf", "crlf"])
@pytest.mark.parametrize("kind", list(FILES))
def test_values_and_line_numbers_survive_backslashes_tabs_and_line_ends(
    ledger: Ledger,
    tollbook: Tollbook,
    store_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    kind: str,
    end: str,
    last_newline: bool,
    chunk_bytes: int,
) -> None:
    lines, wanted, wanted_rejects = FILES[kind]
    monkeypatch.setattr(cdr_csv, "CHUNK_BYTES", chunk_bytes)  # splits lines and CRLFs
    path = tmp_path / "cdrs.csv"
    path.write_bytes((end.join([HEADER, *lines]) + (end if last_newline else "")).encode())
    events = event_count(ledger)
    result = tollbook("usage", "import", str(path), "--json")
    assert result.code == 0, result.err
    (summary,) = result.json()
    assert (summary["inserted"], summary["rejected"]) == (len(wanted), len(wanted_rejects))
    assert stored(store_url) == wanted
    found = rejects(tmp_path / "cdrs.rejects.csv")
    assert [line for line, _ in found] == [line for line, _ in wanted_rejects]
    for (_, reason), (_, want) in zip(found, wanted_rejects, strict=True):
        assert want in reason
    assert event_count(ledger) == events


def test_a_line_number_past_a_thousand_blocks_of_plain_backslash_lines(
    ledger: Ledger, tollbook: Tollbook, store_url: str, tmp_path: Path
) -> None:
    """Many read chunks of plain lines, each with a backslash: the numbering carries on
    from chunk to chunk (a reject deep in the file names its own line)."""
    rows = [cdr(f"c{n}", destination=f"D\\{n}") for n in range(30_000)]
    rows[29_000] = cdr("c29000", account="WHO")  # line 29,002
    path = tmp_path / "big.csv"
    path.write_bytes(("\r\n".join([HEADER, *rows])).encode())
    result = tollbook("usage", "import", str(path), "--json")
    assert result.code == 0, result.err
    (summary,) = result.json()
    assert (summary["inserted"], summary["rejected"]) == (29_999, 1)
    assert [line for line, _ in rejects(tmp_path / "big.rejects.csv")] == ["29002"]
    assert stored(store_url)["c29999"] == "D\\29999"
