"""Hostile CDR files through ``tollbook usage import``, on SQLite and PostgreSQL.

A bad row never stops an import: it goes to the rejects file with its line and reason, and
the good rows around it are imported. A file that is hostile as a whole (a gzip bomb, more
rejects or blank lines than the caps allow) is refused with exit code 2 and one line, imports
nothing, and costs bounded memory and disk. A killed import's stage table is dropped by the
next import, whether that one succeeds or fails. Imports write no events, so every test also
checks that the event count did not move.
"""

from __future__ import annotations

import csv
import gzip
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from decimal import Decimal as D
from pathlib import Path

import pytest

from adapters.ledger.application import Ledger
from adapters.store.database import Database
from tests.e2e.conftest import Result
from tests.helpers import event_count
from tests.integration.usage_helpers import HEADER, cdr, customers, write_cdrs

Tollbook = Callable[..., Result]
GOOD_FIRST = cdr("good-1")
GOOD_LAST = cdr("good-2", account="PAR", currency="EUR")
#: Peak RSS any import may reach (the issue: "an import of any file stays under ~200 MB").
RSS_CAP_MB = 200
#: Default caps (adapters/usage/importer.py ImportLimits, docs/usage-billing.md).
MAX_LINE = 4096
MAX_REJECTS = 10_000


@pytest.fixture
def ledger(make_ledger: Callable[[], Ledger]) -> Ledger:
    built = make_ledger()
    customers(built, [("ACME", "GBP", "UTC", "destination"), ("PAR", "EUR", "UTC", "day")])
    return built


def stored_calls(url: str) -> list[str]:
    db = Database.from_url(url)
    with db.connect() as conn:
        exists = conn.execute(
            "SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema()"
            " AND tablename = 'usage_cdrs'"
            if db.dialect == "postgres"
            else "SELECT COUNT(*) FROM sqlite_master WHERE name = 'usage_cdrs'"
        ).fetchone()[0]
        if not exists:
            return []
        return [row[0] for row in conn.execute("SELECT call_id FROM usage_cdrs ORDER BY call_id")]


def read_rejects(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def cdr_file(path: Path, *lines: bytes | str) -> Path:
    """HEADER, the good first row, ``lines`` as given (bytes raw), the good last row."""
    body = [HEADER, GOOD_FIRST, *lines, GOOD_LAST]
    path.write_bytes(b"\n".join(x if isinstance(x, bytes) else x.encode() for x in body) + b"\n")
    return path


def one_line(result: Result) -> str:
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    return lines[0]


# ------------------------------------------------------------------ one bad row at a time

LONG = "x" * 10_000
# (id, the hostile line(s), the reason each is rejected with, in order)
HOSTILE_ROWS: list[tuple[str, list[bytes | str], list[str]]] = [
    # numbers beyond the limits, or not plain numbers (they overflowed the columns before)
    (
        "duration-over-a-week",
        [cdr("h", duration=604_801)],
        ["duration 604801 is over the limit of 604800 seconds"],
    ),
    (
        "duration-overflows-integer",
        [cdr("h", duration=99999999999999999999)],
        ["duration 99999999999999999999 is over the limit"],
    ),
    (
        "billed-overflows-bigint",
        [cdr("h", billed=2**70)],
        ["billed_duration 1180591620717411303424 is over the limit"],
    ),
    ("duration-negative", [cdr("h", duration=-5)], ["negative duration -5"]),
    (
        "duration-exponent",
        [cdr("h").replace(",60,60,", ",1e3,60,")],
        ["duration must be whole seconds, got '1e3'"],
    ),
    (
        "duration-superscript",
        [cdr("h").replace(",60,60,", ",²,60,")],
        ["duration must be whole seconds, got '²'"],
    ),
    (
        "duration-arabic-digits",
        [cdr("h").replace(",60,60,", ",٣٠,60,")],
        ["duration must be whole seconds, got '٣٠'"],
    ),
    (
        "duration-plus-sign",
        [cdr("h").replace(",60,60,", ",+60,60,")],
        ["duration must be whole seconds, got '+60'"],
    ),
    (
        "duration-underscores",
        [cdr("h").replace(",60,60,", ",1_000,60,")],
        ["duration must be whole seconds, got '1_000'"],
    ),
    (
        "duration-decimal",
        [cdr("h").replace(",60,60,", ",60.5,60,")],
        ["duration must be whole seconds, got '60.5'"],
    ),
    (
        "charge-over-limit",
        [cdr("h", charge="1000000.000001")],
        ["charge 1000000.000001 is over the limit of 1000000"],
    ),
    (
        "charge-overflows-bigint",
        [cdr("h", charge="99999999999999999999999")],
        ["charge 99999999999999999999999 is over the limit"],
    ),
    (
        "charge-exponent",
        [cdr("h", charge="1e20")],
        ["charge is not a plain decimal number: '1e20'"],
    ),
    ("charge-nan", [cdr("h", charge="NaN")], ["charge is not a plain decimal number: 'NaN'"]),
    (
        "charge-infinity",
        [cdr("h", charge="Infinity")],
        ["charge is not a plain decimal number: 'Infinity'"],
    ),
    ("charge-negative", [cdr("h", charge="-0.01")], ["negative charge -0.01"]),
    (
        "charge-seven-decimals",
        [cdr("h", charge="0.0000001")],
        ["charge 0.0000001 has more than 6 decimals"],
    ),
    (
        "charge-thousands-comma",
        [cdr("h", charge='"1,000.00"')],
        ["charge is not a plain decimal number: '1,000.00'"],
    ),
    (
        "rate-exponent-400",
        [cdr("h", rate="1e400")],
        ["rate_per_minute is not a plain decimal number: '1e400'"],
    ),
    (
        "rate-over-limit",
        [cdr("h", rate="10000000")],
        ["rate_per_minute 10000000 is over the limit of 1000000"],
    ),
    (
        "rate-nine-decimals",
        [cdr("h", rate="0.123456789")],
        ["rate_per_minute 0.123456789 has more than 8 decimals"],
    ),
    # characters no field may hold
    (
        "nul-in-destination",
        [cdr("h", destination="UK\x00Mobile")],
        ["unprintable character U+0000 in destination (character 3)"],
    ),
    ("nul-in-call-id", [cdr("h\x00")], ["unprintable character U+0000 in call_id (character 2)"]),
    (
        "ansi-escape",
        [cdr("h", destination="\x1b[31mUK")],
        ["unprintable character U+001B in destination (character 1)"],
    ),
    (
        "right-to-left-override",
        [cdr("h", destination="UK\u202eeliboM")],
        ["unprintable character U+202E in destination (character 3)"],
    ),
    (
        "zero-width-space",
        [cdr("h", account="AC\u200bME")],
        ["unprintable character U+200B in account (character 3)"],
    ),
    (
        "byte-order-mark-in-a-row",
        [cdr("\ufeffh")],
        ["unprintable character U+FEFF in call_id (character 1)"],
    ),
    (
        "tab-in-dialled-number",
        [cdr("h", dialled="4477\t00")],
        ["unprintable character U+0009 in dialled_number (character 5)"],
    ),
    (
        "carriage-return-mid-line",
        [cdr("h", destination="UK\rMobile")],
        ["unprintable character U+000D in destination (character 3)"],
    ),
    (
        "line-separator",
        [cdr("h", destination="UK\u2028Mobile")],
        ["unprintable character U+2028 in destination (character 3)"],
    ),
    # bytes that are not UTF-8: that row alone
    (
        "latin-1-byte",
        [cdr("h", destination="M\xe9xico").encode("latin-1")],
        ["not UTF-8: byte 0xE9 in destination (character 2)"],
    ),
    (
        "overlong-utf8",
        [cdr("h", destination="UK").encode().replace(b"UK", b"U\xc0\xafK")],
        ["not UTF-8: byte 0xC0 in destination (character 2)"],
    ),
    (
        "utf8-surrogate",
        [cdr("h", destination="UK").encode().replace(b"UK", b"U\xed\xa0\x80K")],
        ["not UTF-8: byte 0xED in destination (character 2)"],
    ),
    (
        "truncated-utf8",
        [cdr("h", destination="UK").encode().replace(b"UK", b"UK\xe2\x82")],
        ["not UTF-8: byte 0xE2 in destination (character 3)"],
    ),
    # fields over their column's limit, and lines over the line limit
    ("call-id-129", [cdr("c" * 129)], ["call_id longer than 128 characters"]),
    (
        "destination-101",
        [cdr("h", destination="D" * 101)],
        ["destination longer than 100 characters"],
    ),
    ("dialled-65", [cdr("h", dialled="4" * 65)], ["dialled_number longer than 64 characters"]),
    ("prefix-33", [cdr("h", prefix="4" * 33)], ["destination_prefix longer than 32 characters"]),
    (
        "line-over-the-limit",
        [cdr("h", destination=LONG)],
        [f"line longer than {MAX_LINE} characters"],
    ),
    ("account-10k", [cdr("h", account=LONG)], [f"line longer than {MAX_LINE} characters"]),
    # timestamps
    ("time-words", [cdr("h", start="yesterday")], ["unparseable start_time 'yesterday'"]),
    (
        "time-month-13",
        [cdr("h", start="2026-13-01T00:00:00Z")],
        ["unparseable start_time '2026-13-01T00:00:00Z'"],
    ),
    (
        "time-1999",
        [cdr("h", start="1999-12-31T23:59:59Z")],
        ["start_time '1999-12-31T23:59:59Z' is outside the years 2000-2099"],
    ),
    ("time-2100", [cdr("h", start="2100-01-01T00:00:00Z")], ["is outside the years 2000-2099"]),
    (
        "time-year-9999-offset",
        [cdr("h", start="9999-12-31T23:59:59-23:59")],
        ["is outside the years 2000-2099"],
    ),
    (
        "time-year-1-offset",
        [cdr("h", start="0001-01-01T00:00:00+05:00")],
        ["is outside the years 2000-2099"],
    ),
    ("time-epoch-number", [cdr("h", start="1791370800")], ["unparseable start_time '1791370800'"]),
    # shape
    ("too-many-fields", [cdr("h") + ",extra"], ["expected 11 fields, got 12"]),
    ("too-few-fields", ["h,ACME,2026-10-05T10:00:00Z"], ["expected 11 fields, got 3"]),
    ("only-commas", ["," * 10], ["empty call_id"]),
    ("whitespace-only", ["   "], ["expected 11 fields, got 1"]),
    ("four-thousand-commas", ["," * 4000], ["expected 11 fields, got 4001"]),
    ("unterminated-quote", ['"h,' + cdr("h")[2:]], ["broken CSV quoting (unexpected end of data)"]),
    ("text-after-quote", ['"h"x,' + cdr("h")[2:]], ["broken CSV quoting"]),
    # a quoted field cannot span lines: both halves are rejected, the rows around them load
    (
        "newline-in-quoted-field",
        [cdr("h", destination='"UK'), 'Mobile",0.0123,0.0123,GBP'],
        ["broken CSV quoting (unexpected end of data)", "expected 11 fields, got 4"],
    ),
    # whom and in what
    ("unknown-account", [cdr("h", account="WHO")], ["unknown customer account 'WHO'"]),
    (
        "other-currency",
        [cdr("h", currency="USD")],
        ["currency 'USD' differs from the customer's GBP"],
    ),
    ("empty-call-id", [cdr(" ")], ["empty call_id"]),
]


@pytest.mark.parametrize(
    ("lines", "reasons"),
    [pytest.param(lines, reasons, id=name) for name, lines, reasons in HOSTILE_ROWS],
)
def test_a_hostile_row_is_rejected_with_its_reason_and_the_good_rows_are_imported(
    ledger: Ledger,
    tollbook: Tollbook,
    store_url: str,
    tmp_path: Path,
    lines: list[bytes | str],
    reasons: list[str],
) -> None:
    events = event_count(ledger)
    path = cdr_file(tmp_path / "cdrs.csv", *lines)
    result = tollbook("usage", "import", str(path), "--json")
    assert result.code == 0, result.err
    (summary,) = result.json()
    assert (summary["inserted"], summary["rejected"]) == (2, len(reasons))
    rejects = read_rejects(tmp_path / "cdrs.rejects.csv")
    assert [row["line"] for row in rejects] == [str(3 + n) for n in range(len(reasons))]
    for row, reason in zip(rejects, reasons, strict=True):
        assert reason in row["reason"]
        assert len(row["reason"]) < 200  # a value is quoted by its start only
        kept = [value or "" for value in row.values()]  # a short row leaves columns empty
        assert all(len(value) <= 203 for value in kept)  # 200 characters kept, and "..."
        assert all(value.isprintable() for value in kept)  # escaped, never raw
    assert stored_calls(store_url) == ["good-1", "good-2"]
    assert event_count(ledger) == events


def test_every_hostile_row_at_once_is_rejected_and_the_good_rows_are_imported(
    ledger: Ledger, tollbook: Tollbook, store_url: str, tmp_path: Path
) -> None:
    """All of them in one file, between good rows (PostgreSQL once failed the whole COPY)."""
    events = event_count(ledger)
    hostile = [line for _, lines, _ in HOSTILE_ROWS for line in lines]
    goods = [cdr(f"g{n}") for n in range(len(hostile))]
    path = cdr_file(
        tmp_path / "all.csv", *(x for pair in zip(goods, hostile, strict=True) for x in pair)
    )
    result = tollbook("usage", "import", str(path), "--json")
    assert result.code == 0, result.err
    (summary,) = result.json()
    reasons = [reason for _, _, reasons in HOSTILE_ROWS for reason in reasons]
    assert (summary["inserted"], summary["rejected"]) == (len(goods) + 2, len(reasons))
    assert len(read_rejects(tmp_path / "all.rejects.csv")) == len(reasons)
    assert sorted(stored_calls(store_url)) == sorted(
        ["good-1", "good-2", *(f"g{n}" for n in range(len(goods)))]
    )
    assert event_count(ledger) == events


ODD_BUT_VALID = {
    # what a real export may hold and the limits must not refuse
    "quoted-comma": cdr("v", destination='"Korea, Republic of"'),
    "quoted-everything": ",".join(f'"{field}"' for field in cdr("v").split(",")),
    "leading-zeros": cdr("v", charge="000.0123").replace(",60,60,", ",0000000060,60,"),
    "point-first-and-last": cdr("v", charge=".5", rate="5."),
    "limits-exactly": cdr(
        "c" * 128,
        duration=604_800,
        billed=604_800,
        charge="1000000.000000",
        rate="1000000.00000000",
        destination="D" * 100,
        dialled="4" * 64,
        prefix="4" * 32,
    ),
    "first-second": cdr("v", start="2000-01-01T00:00:00Z"),
    "last-second": cdr("v", start="2099-12-31T23:59:59Z"),
    "offset-time": cdr("v", start="2026-10-05T12:00:00+02:00"),
    "accents-and-scripts": cdr("v", destination="Côte d’Ivoire / 日本 / Россия"),
    "padded-fields": cdr("v").replace(",", " , "),
    "crlf-line": cdr("v") + "\r",
}


@pytest.mark.parametrize("case", list(ODD_BUT_VALID))
def test_an_odd_but_valid_row_is_imported(
    ledger: Ledger, tollbook: Tollbook, store_url: str, tmp_path: Path, case: str
) -> None:
    result = tollbook("usage", "import", str(cdr_file(tmp_path / "ok.csv", ODD_BUT_VALID[case])))
    assert result.code == 0, result.err
    assert not (tmp_path / "ok.rejects.csv").exists()
    assert len(stored_calls(store_url)) == 3


def test_blank_lines_within_the_cap_are_skipped_not_rejected(
    ledger: Ledger, tollbook: Tollbook, store_url: str, tmp_path: Path
) -> None:
    path = cdr_file(tmp_path / "gaps.csv", "", "", "\r", "")
    result = tollbook("usage", "import", str(path), "--json")
    assert result.code == 0, result.err
    (summary,) = result.json()
    assert (summary["inserted"], summary["rejected"], summary["blank_lines"]) == (2, 0, 4)
    assert not (tmp_path / "gaps.rejects.csv").exists()
    assert stored_calls(store_url) == ["good-1", "good-2"]


# ------------------------------------------------------------- files refused as a whole

BAD = cdr("bad", account="WHO")
#: id -> (file, extra options, the error's code, rows left in the rejects file or -1: none)
Refused = tuple[Path, list[str], str, int]
REFUSED: dict[str, Callable[[Path], Refused]] = {
    "more-rejects-than-allowed": lambda tmp: (
        cdr_file(tmp / "a.csv", *[BAD] * 6),
        ["--max-rejects", "5"],
        "too_many_rejects",
        6,
    ),
    "no-reject-allowed": lambda tmp: (
        cdr_file(tmp / "a.csv", BAD),
        ["--max-rejects", "0"],
        "too_many_rejects",
        1,
    ),
    "default-reject-cap": lambda tmp: (
        cdr_file(tmp / "a.csv", *["x"] * (MAX_REJECTS + 1)),
        [],
        "too_many_rejects",
        MAX_REJECTS + 1,
    ),
    "blank-lines-over-the-cap": lambda tmp: (
        cdr_file(tmp / "a.csv", *[""] * 4),
        ["--max-blank-lines", "3"],
        "corrupt_file",
        -1,
    ),
    "default-blank-cap": lambda tmp: (
        cdr_file(tmp / "a.csv", *[""] * 1001),
        [],
        "corrupt_file",
        -1,
    ),
    "header-over-the-line-limit": lambda tmp: (
        write(tmp / "a.csv", HEADER.encode() + b"," + b"h" * 5000 + b"\n"),
        [],
        "corrupt_file",
        -1,
    ),
    "utf16-file": lambda tmp: (
        write(tmp / "a.csv", (HEADER + "\n" + GOOD_FIRST).encode("utf-16")),
        [],
        "corrupt_file",
        -1,
    ),
    "random-bytes": lambda tmp: (
        write(tmp / "a.csv", bytes(range(256)) * 64),
        [],
        "corrupt_file",
        -1,
    ),
    "nul-in-header": lambda tmp: (
        write(tmp / "a.csv", HEADER.replace("account", "acc\x00ount").encode() + b"\n"),
        [],
        "corrupt_file",
        -1,
    ),
    "gzip-cut-short": lambda tmp: (
        write(tmp / "a.csv.gz", gzip.compress((HEADER + "\n" + GOOD_FIRST + "\n").encode())[:-12]),
        [],
        "corrupt_file",
        -1,
    ),
    "line-limit-below-range": lambda tmp: (
        cdr_file(tmp / "a.csv"),
        ["--max-line-length", "10"],
        "invalid_input",
        -1,
    ),
    "negative-reject-cap": lambda tmp: (
        cdr_file(tmp / "a.csv"),
        ["--max-rejects", "-1"],
        "invalid_input",
        -1,
    ),
    "missing-file": lambda tmp: (tmp / "nowhere.csv", [], "invalid_input", -1),
}


def write(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


@pytest.mark.parametrize("case", list(REFUSED))
def test_a_hostile_file_is_refused_whole_with_one_line_and_imports_nothing(
    ledger: Ledger, tollbook: Tollbook, store_url: str, tmp_path: Path, case: str
) -> None:
    events = event_count(ledger)
    path, options, code, kept = REFUSED[case](tmp_path)
    result = tollbook("usage", "import", str(path), *options)
    assert result.code == 2
    assert one_line(result).startswith("error: ") and one_line(result).endswith(f"[{code}]")
    assert stored_calls(store_url) == []
    rejects = path.with_name("a.rejects.csv")
    if kept < 0:
        assert not rejects.exists()
    else:  # kept for a person to see why; the last row is the one over the cap
        assert len(read_rejects(rejects)) == kept
        assert str(rejects) in result.err
    assert event_count(ledger) == events


# ------------------------------------------------------------ bombs, in a real process


# A child's peak RSS counts the pages of the process that forked it (a pytest worker grows to
# hundreds of MB over a run), so the import is started from this small Python process, whose
# own children's peak is then the import's alone.
_MEASURE = (
    "import os, resource, subprocess, sys;"
    "code = subprocess.run(sys.argv[2:], stdout=subprocess.DEVNULL,"
    " stderr=open(sys.argv[1], 'wb')).returncode;"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, code)"
)


def run_import(url: str, path: Path, *options: str) -> tuple[int, str, float]:
    """``tollbook usage import`` in a process of its own: (exit code, stderr, peak RSS MB)."""
    script = Path(sys.executable).with_name("tollbook")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "adapters.cli.main"]
    err = path.with_name("stderr.txt")
    measured = subprocess.run(
        [
            sys.executable,
            "-c",
            _MEASURE,
            str(err),
            *command,
            "--db",
            url,
            "usage",
            "import",
            str(path),
            *options,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    peak_kib, code = measured.stdout.split()
    return int(code), err.read_text(), int(peak_kib) / 1024


def gzip_bomb(path: Path, pattern: bytes, gib: float = 1.0) -> Path:
    """A gzip file that inflates to ``gib`` GiB of ``pattern`` after the header: one member
    of 1 MiB compressed once and repeated (a valid multi-member gzip), so it takes no time
    to make."""
    member = gzip.compress(pattern * ((1 << 20) // len(pattern)), compresslevel=9)
    with path.open("wb") as out:
        out.write(gzip.compress((HEADER + "\n").encode()))
        for _ in range(int(gib * 1024)):
            out.write(member)
    return path


BOMBS = {
    # (pattern repeated to 1 GiB, the error's code, the most the rejects file may hold,
    #  measured in a process of its own: peak RSS too (a process start costs seconds here))
    "newlines": (b"\n", "corrupt_file", 0, True),
    "long-lines": (b"A" * 8191 + b"\n", "too_many_rejects", 3_000_000, True),
    "crlf": (b"\r\n", "corrupt_file", 0, False),
    "one-byte-rows": (b"x\n", "too_many_rejects", 1_000_000, False),
    "commas": (b"," * 10 + b"\n", "too_many_rejects", 2_000_000, False),
    "nul-rows": (b"\x00" * 100 + b"\n", "too_many_rejects", 6_000_000, False),
}


@pytest.mark.parametrize("bomb", list(BOMBS))
def test_a_gzip_bomb_is_refused_with_bounded_memory_and_disk(
    ledger: Ledger, tollbook: Tollbook, store_url: str, tmp_path: Path, bomb: str
) -> None:
    pattern, code, rejects_cap, own_process = BOMBS[bomb]
    events = event_count(ledger)
    path = gzip_bomb(tmp_path / "bomb.csv.gz", pattern)
    assert path.stat().st_size < 4_000_000  # a few MB that inflate to 1 GiB
    if own_process:
        exit_code, err, rss = run_import(store_url, path)
        assert rss < RSS_CAP_MB, f"peak RSS {rss:.0f} MB"
    else:
        result = tollbook("usage", "import", str(path))
        exit_code, err = result.code, result.err
    assert exit_code == 2, err
    assert err.strip().endswith(f"[{code}]") and len(err.strip().splitlines()) == 1
    rejects = tmp_path / "bomb.rejects.csv"
    assert (rejects.stat().st_size if rejects.exists() else 0) <= rejects_cap
    assert stored_calls(store_url) == []
    assert event_count(ledger) == events


def test_a_300_mb_line_is_rejected_alone_with_bounded_memory(
    ledger: Ledger, store_url: str, tmp_path: Path
) -> None:
    events = event_count(ledger)
    path = tmp_path / "huge.csv"
    with path.open("wb") as out:  # written a MiB at a time: the test holds no 300 MB either
        out.write(f"{HEADER}\n{GOOD_FIRST}\nhuge,ACME,".encode())
        block = b"9" * (1 << 20)
        for _ in range(300):
            out.write(block)
        out.write(f"\n{GOOD_LAST}\n".encode())
    exit_code, err, rss = run_import(store_url, path)
    assert exit_code == 0, err
    assert rss < RSS_CAP_MB, f"peak RSS {rss:.0f} MB"
    (reject,) = read_rejects(tmp_path / "huge.rejects.csv")
    assert (reject["line"], reject["reason"]) == ("3", f"line longer than {MAX_LINE} characters")
    assert (tmp_path / "huge.rejects.csv").stat().st_size < 1000
    assert stored_calls(store_url) == ["good-1", "good-2"]
    assert event_count(ledger) == events


def test_a_huge_gzipped_line_at_the_end_without_a_newline_is_rejected_alone(
    ledger: Ledger, tollbook: Tollbook, store_url: str, tmp_path: Path
) -> None:
    events = event_count(ledger)
    path = tmp_path / "tail.csv.gz"
    with gzip.open(path, "wb", compresslevel=1) as out:
        out.write(f"{HEADER}\n{GOOD_FIRST}\n{GOOD_LAST}\n".encode())
        out.write(b"\xff" * (64 << 20))  # 64 MiB, not UTF-8 either, and no line end
    result = tollbook("usage", "import", str(path), "--json")
    assert result.code == 0, result.err
    (reject,) = read_rejects(tmp_path / "tail.rejects.csv")
    assert (reject["line"], reject["reason"]) == ("4", f"line longer than {MAX_LINE} characters")
    assert reject["call_id"].startswith("\\xff\\xff") and len(reject["call_id"]) == 203
    assert stored_calls(store_url) == ["good-1", "good-2"]
    assert event_count(ledger) == events


# ------------------------------------------------------------ a killed import's stage


def stage_tables(url: str) -> list[str]:
    with Database.from_url(url).connect() as conn:
        return [
            name
            for (name,) in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
                " AND tablename LIKE 'usage\\_stage\\_%'"
            )
        ]


def leave_a_stage(url: str) -> str:
    """What a killed import leaves: an unlogged stage table, committed, with rows."""
    name = "usage_stage_0123456789abcdef0123456789abcdef"
    with Database.from_url(url).connect() as conn:
        conn.execute(f"CREATE UNLOGGED TABLE {name} (line_no BIGINT PRIMARY KEY, call_id TEXT)")
        conn.execute(f"INSERT INTO {name} VALUES (2, 'ghost')")
    return name


NEXT_IMPORTS = {
    # the import that follows the killed one: (file lines, options, exit code)
    "succeeds": ([GOOD_FIRST], [], 0),
    "has-a-corrupt-header": (None, [], 2),
    "has-too-many-rejects": ([BAD, BAD], ["--max-rejects", "1"], 2),
    "has-too-many-blank-lines": (["", ""], ["--max-blank-lines", "1"], 2),
}


@pytest.mark.parametrize("then", list(NEXT_IMPORTS))
def test_the_next_import_drops_a_killed_imports_stage_whether_it_succeeds_or_fails(
    ledger: Ledger, tollbook: Tollbook, store_url: str, tmp_path: Path, then: str
) -> None:
    if not store_url.startswith("postgresql"):
        pytest.skip("SQLite stages in a temporary table, gone with its connection")
    assert tollbook("usage", "import", str(cdr_file(tmp_path / "first.csv"))).code == 0
    name = leave_a_stage(store_url)
    assert stage_tables(store_url) == [name]
    events = event_count(ledger)
    lines, options, code = NEXT_IMPORTS[then]
    path = (
        write(tmp_path / "next.csv", b"who,what\n")
        if lines is None
        else cdr_file(tmp_path / "next.csv", *lines)
    )
    assert tollbook("usage", "import", str(path), *options).code == code
    assert stage_tables(store_url) == []
    assert event_count(ledger) == events


def test_an_import_killed_mid_file_leaves_a_stage_the_next_import_drops(
    ledger: Ledger, tollbook: Tollbook, store_url: str, tmp_path: Path
) -> None:
    if not store_url.startswith("postgresql"):
        pytest.skip("SQLite stages in a temporary table, gone with its connection")
    big = tmp_path / "big.csv"
    with big.open("w") as out:
        out.write(HEADER + "\n")
        out.writelines(cdr(f"k{n}") + "\n" for n in range(600_000))
    script = Path(sys.executable).with_name("tollbook")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "adapters.cli.main"]
    process = subprocess.Popen(
        [*command, "--db", store_url, "usage", "import", str(big)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not stage_tables(store_url) and process.poll() is None:
            assert time.monotonic() < deadline, "the import never staged"
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert process.returncode == -signal.SIGKILL, "the import finished before it was killed"
    left = stage_tables(store_url)
    assert len(left) == 1
    events = event_count(ledger)
    result = tollbook("usage", "import", str(write(tmp_path / "bad.csv", b"\n")))
    assert result.code == 2 and "[corrupt_file]" in result.err  # fails, and still cleans up
    assert stage_tables(store_url) == []
    assert stored_calls(store_url) == []  # the killed import committed nothing
    assert event_count(ledger) == events


# ------------------------------------------- one account's CDRs all in the same second

SAME_SECOND = 20_000


def same_second(call: int, charge: str = "0.0123") -> str:
    """A CDR of ACME starting at the same second as every other one of the file."""
    return cdr(f"same-{call:05d}", charge=charge)


def test_a_file_of_one_accounts_cdrs_in_one_second_imports_again_and_again(
    ledger: Ledger, tollbook: Tollbook, store_url: str, tmp_path: Path
) -> None:
    """A busy trunk, or a clumsy file: 20,000 CDRs of one account with the same start time.
    Imported; imported again (every row a duplicate, skipped); then a file in which some
    rows differ from the stored ones (each rejected on its line) and a new call id appears
    twice with different content (the second rejected). Judging repeats looks each stored
    row up by its call id, not among every CDR of that account and second (which made this
    quadratic: minutes on PostgreSQL)."""
    events = event_count(ledger)
    rows = [same_second(n) for n in range(SAME_SECOND)]
    first = write_cdrs(tmp_path / "first.csv", rows)
    result = tollbook("usage", "import", str(first), "--json")
    assert result.code == 0, result.err
    (summary,) = result.json()
    assert (summary["inserted"], summary["duplicates"], summary["rejected"]) == (SAME_SECOND, 0, 0)

    again = write_cdrs(tmp_path / "again.csv", rows)
    result = tollbook("usage", "import", str(again), "--json")
    assert result.code == 0, result.err
    (summary,) = result.json()
    assert (summary["inserted"], summary["duplicates"], summary["rejected"]) == (0, SAME_SECOND, 0)
    assert summary["same_file_imported_before"] is True
    assert not (tmp_path / "again.rejects.csv").exists()

    changed = {7: "0.0124", 9_999: "1.5", SAME_SECOND - 1: "0.0001"}
    third = [same_second(n, changed.get(n, "0.0123")) for n in range(SAME_SECOND)]
    third[12_345:12_345] = [cdr("same-new-1"), cdr("same-new-1", charge="9.99")]
    result = tollbook("usage", "import", str(write_cdrs(tmp_path / "third.csv", third)), "--json")
    assert result.code == 0, result.err
    (summary,) = result.json()
    assert (summary["inserted"], summary["duplicates"], summary["rejected"]) == (
        1,
        SAME_SECOND - len(changed),
        len(changed) + 1,
    )
    # the header is line 1: row n of the file is on line n + 2 (after the two new ones are
    # put in at row 12,345, the rows from there are two lines further down)
    new_line = 12_345 + 2
    lines = {n: n + 2 + (2 if n >= 12_345 else 0) for n in changed}
    expected = [
        (str(lines[n]), f"call id same-{n:05d} was already imported with different content")
        for n in sorted(changed)
    ]
    expected.insert(
        2,
        (
            str(new_line + 1),
            f"duplicate call id same-new-1 with different content (first on line {new_line})",
        ),
    )
    rejects = read_rejects(tmp_path / "third.rejects.csv")
    assert [(row["line"], row["reason"]) for row in rejects] == expected
    charges = [D(row["charge"]) for row in rejects]  # as stored: six places
    assert charges == [D("0.0124"), D("1.5"), D("9.99"), D("0.0001")]
    stored = stored_calls(store_url)
    assert len(stored) == SAME_SECOND + 1 and "same-new-1" in stored
    assert event_count(ledger) == events
