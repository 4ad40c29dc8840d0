"""The CDR file format: CSV (optionally gzip-compressed) as a softswitch exports it.

Columns (header required, names exact, any order; see docs/usage-billing.md):
``call_id, account, start_time, duration, billed_duration, dialled_number, destination_prefix,
destination, rate_per_minute, charge, currency``. Rows are read one at a time, so memory stays
flat whatever the file size.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from operator import itemgetter
from pathlib import Path
from typing import IO, cast

from domain.errors import InvalidInput
from domain.usage import MICROS, row_hash

COLUMNS = (
    "call_id",
    "account",
    "start_time",
    "duration",
    "billed_duration",
    "dialled_number",
    "destination_prefix",
    "destination",
    "rate_per_minute",
    "charge",
    "currency",
)

#: One stage row: line number, then the usage_cdrs columns in schema.CDR_COLUMNS order.
StageRow = tuple[int, str, str, int, int, int, str, str, str, str, int, str, int]


class CorruptUsageFile(InvalidInput):
    """The file as a whole cannot be trusted (bad gzip, truncated, wrong header, not UTF-8)."""

    code = "corrupt_file"


class RowRejected(ValueError):
    """One row is unusable; the reason goes to the rejects file."""


@dataclass
class Reader:
    """Rows of a CDR file with their line numbers, the bytes read so far and the file digest."""

    rows: Iterator[tuple[int, list[str]]]
    order: tuple[int, ...]  # position of each of COLUMNS in the file's header
    header: list[str]
    bytes_read: Callable[[], int]
    sha256: Callable[[], str]


class _Hashing(io.RawIOBase):
    """Passes bytes through while hashing them and counting how many went by."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw, self.digest, self.count = raw, hashlib.sha256(), 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.raw.read(len(buffer))
        buffer[: len(data)] = data
        self.digest.update(data)
        self.count += len(data)
        return len(data)


@contextmanager
def open_cdrs(path: Path) -> Iterator[Reader]:
    """Open a CDR file (gzip detected by its magic bytes) and check its header."""
    try:
        raw = path.open("rb")
    except OSError as error:
        raise InvalidInput(f"cannot read {path}: {error.strerror}") from None
    with raw:
        gzipped = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        hashing = _Hashing(raw)
        binary: IO[bytes] = io.BufferedReader(hashing, 1 << 20)
        if gzipped:
            binary = cast(IO[bytes], gzip.GzipFile(fileobj=binary, mode="rb"))
        text = io.TextIOWrapper(binary, encoding="utf-8", newline="")
        reader = csv.reader(text)
        with corrupt_file_errors(path):
            header = next(reader, None)
        if header is None:
            raise CorruptUsageFile(f"{path} is empty: expected a header row")
        order = _header_order(path, [name.strip().lstrip("\ufeff") for name in header])

        def rows() -> Iterator[tuple[int, list[str]]]:
            with corrupt_file_errors(path):
                for record in reader:
                    yield reader.line_num, record

        yield Reader(rows(), order, header, lambda: hashing.count, hashing.digest.hexdigest)


@contextmanager
def corrupt_file_errors(path: Path) -> Iterator[None]:
    try:
        yield
    except (gzip.BadGzipFile, EOFError, zlib.error) as error:
        raise CorruptUsageFile(
            f"{path} is not a readable gzip file ({error}): nothing was imported from it"
        ) from None
    except UnicodeDecodeError as error:
        raise CorruptUsageFile(
            f"{path} is not UTF-8 text (byte {error.start}): nothing was imported from it"
        ) from None
    except csv.Error as error:
        raise CorruptUsageFile(f"{path} is not valid CSV ({error}): nothing was imported") from None


def _header_order(path: Path, header: list[str]) -> tuple[int, ...]:
    missing = [name for name in COLUMNS if name not in header]
    unknown = [name for name in header if name not in COLUMNS]
    if missing or unknown or len(header) != len(COLUMNS):
        problems = []
        if missing:
            problems.append(f"missing {', '.join(missing)}")
        if unknown:
            problems.append(f"unknown {', '.join(unknown)}")
        if not problems:
            problems.append("a column appears twice")
        raise CorruptUsageFile(
            f"{path} has the wrong header ({'; '.join(problems)}); expected the columns"
            f" {','.join(COLUMNS)}: nothing was imported from it"
        )
    return tuple(header.index(name) for name in COLUMNS)


def parse_time(text: str) -> int:
    """ISO 8601 start time -> epoch seconds. No offset means UTC (switches export UTC)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise RowRejected(f"unparseable start_time {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


# The field checks below take text already stripped (parse_row strips every field once).


def _seconds(text: str, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise RowRejected(f"{what} must be whole seconds, got {text!r}") from None
    if value < 0:
        raise RowRejected(f"negative {what} {value}")
    return value


def _decimal(text: str, what: str, places: int) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise RowRejected(f"{what} is not a number: {text!r}") from None
    if not value.is_finite():
        raise RowRejected(f"{what} is not a number: {text!r}")
    if value < 0:
        raise RowRejected(f"negative {what} {text}")
    # more than ``places`` decimals (trailing zeros count, as written): the exponent says
    if value.as_tuple().exponent < -places:  # type: ignore[operator]  # finite: an int
        raise RowRejected(f"{what} {text} has more than {places} decimals")
    return value


@cache
def _fields(order: tuple[int, ...]) -> Callable[[list[str]], tuple[str, ...]]:
    """Picks a record's fields in COLUMNS order, as the file's header has them."""
    return itemgetter(*order)


def parse_row(
    line_no: int, record: list[str], order: tuple[int, ...], currencies: Mapping[str, str]
) -> StageRow:
    """Validate one record against the file's columns and the customers' currencies."""
    if len(record) != len(COLUMNS):
        raise RowRejected(f"expected {len(COLUMNS)} fields, got {len(record)}")
    (call_id, account, start, duration, billed, dialled, prefix, destination, rate, charge,
     currency) = map(str.strip, _fields(order)(record))  # fmt: skip
    if not call_id:
        raise RowRejected("empty call_id")
    start_epoch = parse_time(start)
    duration_s = _seconds(duration, "duration")
    billed_s = _seconds(billed, "billed_duration")
    rate_value = _decimal(rate, "rate_per_minute", 8)
    charge_micros = int(_decimal(charge, "charge", MICROS).scaleb(MICROS))
    expected = currencies.get(account)
    if expected is None:
        raise RowRejected(f"unknown customer account {account!r}")
    if currency.upper() != expected:
        raise RowRejected(f"currency {currency!r} differs from the customer's {expected}")
    return (
        line_no,
        call_id,
        account,
        start_epoch,
        duration_s,
        billed_s,
        dialled,
        prefix,
        destination,
        str(rate_value),
        charge_micros,
        expected,
        row_hash(call_id, account, start_epoch, billed_s, charge_micros),
    )


def record_of(row: tuple[object, ...]) -> list[str]:
    """A stored CDR (schema.CDR_COLUMNS order) written back in the file's column order."""
    (call_id, account, start_epoch, duration, billed, dialled, prefix, destination, rate,
     charge_micros, currency) = row[:11]  # fmt: skip
    assert isinstance(start_epoch, int) and isinstance(charge_micros, int | Decimal)
    start = datetime.fromtimestamp(start_epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    charge = str(Decimal(int(charge_micros)).scaleb(-MICROS))
    values = (call_id, account, start, duration, billed, dialled, prefix, destination, rate,
              charge, currency)  # fmt: skip
    return [str(value) for value in values]
