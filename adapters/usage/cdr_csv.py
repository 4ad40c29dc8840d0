"""The CDR file format: CSV (optionally gzip-compressed) as a softswitch exports it.

Columns (header required, names exact, any order; see docs/usage-billing.md):
``call_id, account, start_time, duration, billed_duration, dialled_number, destination_prefix,
destination, rate_per_minute, charge, currency``. One record per line.

Whatever the file holds, reading it takes bounded memory: bytes are decoded a chunk at a time
and split into lines here (never by a reader that would hold a whole line, however long), a
line over the length limit is skipped as it streams by (only its start is kept, for the
rejects file), and a line that is not UTF-8, holds an unprintable character or has broken
quoting is rejected on its own: the lines around it still import.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import io
import re
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from itertools import chain, repeat
from operator import itemgetter
from pathlib import Path
from typing import IO, Any, cast

from domain.errors import InvalidInput
from domain.usage import (
    CDR_END_EPOCH,
    CDR_FIRST_EPOCH,
    CDR_FIRST_YEAR,
    CDR_LAST_YEAR,
    CDR_MAX_CALL_ID,
    CDR_MAX_CHARGE,
    CDR_MAX_DESTINATION,
    CDR_MAX_DIALLED,
    CDR_MAX_PREFIX,
    CDR_MAX_RATE,
    CDR_MAX_SECONDS,
    CDR_RATE_PLACES,
    MICROS,
    row_hash,
)

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
#: reject(line number, reason, the row's fields as the file had them)
Reject = Callable[[int, str, list[str]], None]

#: Bytes read (and decompressed) at a time. Small enough that a chunk of one-byte lines
#: stays a few MB of Python strings, big enough that per-chunk work is noise.
CHUNK_BYTES = 1 << 18
ESCAPED_COMMA = "\\,"
#: Characters of a value quoted in a reason (the rejects file keeps more, see importer).
SHOWN_CHARS = 40

_TEXT_LIMITS = (
    ("call_id", CDR_MAX_CALL_ID),
    ("dialled_number", CDR_MAX_DIALLED),
    ("destination_prefix", CDR_MAX_PREFIX),
    ("destination", CDR_MAX_DESTINATION),
)
_PLAIN_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")


class CorruptUsageFile(InvalidInput):
    """The file as a whole cannot be trusted (bad gzip, truncated, wrong header, not UTF-8)."""

    code = "corrupt_file"


class RowRejected(ValueError):
    """One row is unusable; the reason goes to the rejects file."""


@dataclass(frozen=True)
class LineBatch:
    """Lines that passed the reader's checks (printable, within the length limit, not
    blank), as rows of PostgreSQL's COPY text format (see :func:`_line_batches`)."""

    copy_text: str
    count: int
    first_line: int
    last_line: int


@dataclass
class Reader:
    """Rows of a CDR file with their line numbers, the bytes read so far and the file digest.

    ``rows`` yields the records that are well-formed lines; lines that are not (too long, not
    UTF-8, unprintable characters, broken quoting) go to the ``reject`` given to open_cdrs."""

    rows: Iterator[tuple[int, list[str]]]
    order: tuple[int, ...]  # position of each of COLUMNS in the file's header
    header: list[str]
    bytes_read: Callable[[], int]
    sha256: Callable[[], str]
    blank_lines: Callable[[], int]
    #: the same lines as ``rows``, unsplit, a read chunk at a time (use one or the other)
    batches: Iterator[LineBatch]
    #: bytes of the file (as stored: compressed, for a gzip file) that the lines given out
    #: so far came from, to within a read
    position: Callable[[], int]


class _Hashing(io.RawIOBase):
    """Passes bytes through while hashing them and counting how many went by."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw, self.digest, self.count = raw, hashlib.sha256(), 0

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        """Bytes read (a buffered reader above tells its own position from this)."""
        return self.count

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.raw.read(len(buffer))
        buffer[: len(data)] = data
        self.digest.update(data)
        self.count += len(data)
        return len(data)


@contextmanager
def open_cdrs(
    path: Path,
    *,
    reject: Reject,
    max_line_length: int,
    max_blank_lines: int,
) -> Iterator[Reader]:
    """Open a CDR file (gzip detected by its magic bytes) and check its header.

    A line longer than ``max_line_length`` characters is rejected without being held whole;
    more than ``max_blank_lines`` empty lines make the file corrupt (a file of nothing but
    line ends is no CDR export, and would otherwise be read to its end)."""
    try:
        raw = path.open("rb")
    except OSError as error:
        raise InvalidInput(f"cannot read {path}: {error.strerror}") from None
    with raw:
        gzipped = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        hashing = _Hashing(raw)
        buffered = io.BufferedReader(hashing, 1 << 20)
        binary: IO[bytes] = buffered
        if gzipped:
            binary = cast(IO[bytes], gzip.GzipFile(fileobj=binary, mode="rb"))
        chunks = _line_chunks(binary, max_line_length)
        with corrupt_file_errors(path):
            first: list[str] = []
            for first in chunks:
                if first:
                    break
        if not first:
            raise CorruptUsageFile(f"{path} is empty: expected a header row")
        header = _header(path, first[0], max_line_length)
        order = _header_order(path, [name.strip().lstrip("\ufeff") for name in header])
        blank = [0]

        def read(split: Callable[..., Iterator[Any]]) -> Iterator[Any]:
            with corrupt_file_errors(path):
                yield from split(
                    chain([first[1:]], chunks),
                    header,
                    max_line_length,
                    reject,
                    blank,
                    max_blank_lines,
                )
            if blank[0] > max_blank_lines:
                raise CorruptUsageFile(
                    f"{path} has more than {max_blank_lines} blank lines: not a CDR export"
                    " (raise --max-blank-lines if it is one): nothing was imported from it"
                )

        yield Reader(
            read(_records),
            order,
            header,
            lambda: hashing.count,
            hashing.digest.hexdigest,
            lambda: blank[0],
            read(_line_batches),
            buffered.tell,
        )


def _line_chunks(binary: IO[bytes], max_chars: int) -> Iterator[list[str]]:
    """The file's lines, a chunk at a time, without their line ends (LF or CRLF).

    Bytes that are not UTF-8 come through as lone surrogates (``surrogateescape``), which no
    valid line holds, so such a line is rejected by itself. A line longer than ``max_chars``
    comes as its first ``max_chars + 1`` characters: the rest is skipped as it is read."""
    decode = codecs.getincrementaldecoder("utf-8")("surrogateescape").decode
    carry, skipping = "", False
    while True:
        data = binary.read(CHUNK_BYTES)
        text = decode(data, not data)
        if skipping:
            end = text.find("\n")
            if end < 0:
                if data:
                    continue
                yield [carry]
                return
            text, skipping = text[end:], False
        text = carry + text
        if "\r" in text:
            text = text.replace("\r\n", "\n")
        lines = text.split("\n")
        carry = lines.pop()
        if not data:
            if carry:
                lines.append(carry)
            yield lines
            return
        if len(carry) > max_chars:
            carry, skipping = carry[: max_chars + 1], True
        yield lines


def _records(
    chunks: Iterator[list[str]],
    header: list[str],
    max_chars: int,
    reject: Reject,
    blank: list[int],
    max_blank: int,
) -> Iterator[tuple[int, list[str]]]:
    """Each line's fields, line 2 on; bad lines to ``reject``, empty lines counted in
    ``blank[0]`` (stopping at once one past ``max_blank``: the caller reports it)."""
    line_no = 1
    for lines in chunks:
        for line in lines:
            line_no += 1
            # the common line: printable, within the limit, no quotes: a plain split is CSV
            if line and line.isprintable() and '"' not in line and len(line) <= max_chars:
                yield line_no, line.split(",")
            elif not line:
                blank[0] += 1
                if blank[0] > max_blank:
                    return
            else:
                fields = _split_odd_line(line_no, line, header, max_chars, reject)
                if fields is not None:
                    yield line_no, fields


def _line_batches(
    chunks: Iterator[list[str]],
    header: list[str],
    max_chars: int,
    reject: Reject,
    blank: list[int],
    max_blank: int,
) -> Iterator[LineBatch]:
    """Each read chunk's lines, line 2 on (see :class:`LineBatch`); too long and unprintable
    lines to ``reject``, empty ones counted as :func:`_records` does.

    A plain line (11 fields, no quote, no space around a field) is a row
    ``line_no,field,...,field,\\N`` of the COPY text format with ``,`` as delimiter, its fields
    in the file's order; any other line that passed (quotes, another number of fields, spaces
    to strip) is ``line_no,\\N,...,\\N,line`` with its commas escaped: whoever reads it splits
    it (:func:`split_line`). A chunk of nothing but plain lines (the usual case) is checked and
    numbered without a Python loop of its own."""
    plain_commas = len(COLUMNS) - 1
    nulls = ",\\N" * len(COLUMNS)
    line_no = 1
    for lines in chunks:
        first, line_no = line_no + 1, line_no + len(lines)
        if not lines:
            continue
        if (
            all(lines)
            and max(map(len, lines)) <= max_chars
            and all(map(str.isprintable, lines))
            and list(map(str.count, lines, repeat(","))).count(plain_commas) == len(lines)
            and not any(map(str.__contains__, lines, repeat('"')))
            and not any(map(_padded, lines))
        ):
            text = _numbered(first, lines)
            if text.count("\\") != len(lines):  # a backslash of the file's: escape it
                text = _numbered(first, [line.replace("\\", "\\\\") for line in lines])
            yield LineBatch(text, len(lines), first, line_no)
            continue
        kept: list[str] = []
        first_kept = 0
        for number, line in enumerate(lines, first):
            if line and line.isprintable() and len(line) <= max_chars:
                first_kept = first_kept or number
                line = line.replace("\\", "\\\\")  # COPY's text format escapes its escape
                if line.count(",") == plain_commas and '"' not in line and not _padded(line):
                    kept.append(f"{number},{line},\\N")
                else:
                    kept.append(f"{number}{nulls},{line.replace(',', ESCAPED_COMMA)}")
            elif not line:
                blank[0] += 1
                if blank[0] > max_blank:
                    return
            else:
                _split_odd_line(number, line, header, max_chars, reject)  # rejects it
        if kept:
            yield LineBatch("\n".join(kept) + "\n", len(kept), first_kept, line_no)


def _numbered(first: int, lines: list[str]) -> str:
    """``line_no,line,\\N`` a line, numbered from ``first``: one join of the numbers, the
    lines and the separators (a ``str.format`` call a line cost twice as much)."""
    numbers = map(str, range(first, first + len(lines)))
    return "".join(chain.from_iterable(zip(numbers, repeat(","), lines, repeat(",\\N\n"))))


def _padded(line: str) -> bool:
    """A field with spaces to strip: such lines go to Python whole (SQL never strips)."""
    return line[:1] == " " or line[-1:] == " " or " ," in line or ", " in line


def split_line(line_no: int, line: str, header: list[str], reject: Reject) -> list[str] | None:
    """The fields of a line the reader passed on (printable, within the limit): a plain split,
    or CSV's reading of a line with quotes (rejected when its quoting is broken)."""
    if '"' not in line:
        return line.split(",")
    return _split_odd_line(line_no, line, header, len(line), reject)


def _split_odd_line(
    line_no: int, line: str, header: list[str], max_chars: int, reject: Reject
) -> list[str] | None:
    """A line off the common path: quoted fields (fine), or a reason to reject it."""
    if len(line) > max_chars:
        reject(line_no, f"line longer than {max_chars} characters", [line[:max_chars]])
        return None
    if not line.isprintable():
        fields, (index, position, char) = _find_unprintable(line)
        name = header[index].strip() if index < len(header) else f"field {index + 1}"
        reject(line_no, _unprintable(char, name, position), fields)
        return None
    try:
        return next(csv.reader([line], strict=True))
    except csv.Error as error:
        reject(line_no, f"broken CSV quoting ({error})", line.split(","))
        return None


def _find_unprintable(line: str) -> tuple[list[str], tuple[int, int, str]]:
    """A line's fields and where its first unprintable character is: (field index, position
    in the field from 1, the character). Quoted fields are honoured where csv keeps them."""
    candidates = [line.split(",")]
    if '"' in line:
        with suppress(csv.Error):  # e.g. a carriage return in an unquoted field
            candidates.insert(0, next(csv.reader([line])))
    for fields in candidates:
        for index, field in enumerate(fields):
            for position, char in enumerate(field, 1):
                if not char.isprintable():
                    return fields, (index, position, char)
    raise AssertionError("a line that is not printable has an unprintable character")


def _unprintable(char: str, field: str, position: int) -> str:
    if "\udc80" <= char <= "\udcff":
        return f"not UTF-8: byte 0x{ord(char) - 0xDC00:02X} in {field} (character {position})"
    return f"unprintable character U+{ord(char):04X} in {field} (character {position})"


def _header(path: Path, line: str, max_chars: int) -> list[str]:
    if len(line) > max_chars:
        raise CorruptUsageFile(
            f"{path} has the wrong header (its first line is longer than {max_chars}"
            f" characters); expected the columns {','.join(COLUMNS)}: nothing was imported"
        )
    if any("\udc80" <= char <= "\udcff" for char in line):
        raise CorruptUsageFile(f"{path} is not UTF-8 text (header): nothing was imported from it")
    try:
        return next(csv.reader([line], strict=True))
    except csv.Error as error:
        raise CorruptUsageFile(f"{path} is not valid CSV ({error}): nothing was imported") from None


@contextmanager
def corrupt_file_errors(path: Path) -> Iterator[None]:
    try:
        yield
    except (gzip.BadGzipFile, EOFError, zlib.error) as error:
        raise CorruptUsageFile(
            f"{path} is not a readable gzip file ({error}): nothing was imported from it"
        ) from None


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


def shown(text: str) -> str:
    """A value quoted in a reason: its start only, so a reason stays one short line."""
    if len(text) <= SHOWN_CHARS:
        return repr(text)
    return f"{text[:SHOWN_CHARS]!r}... ({len(text)} characters)"


def _bare(text: str) -> str:
    """A number quoted in a reason, unquoted as it reads best; its start only."""
    return text if len(text) <= SHOWN_CHARS else f"{text[:SHOWN_CHARS]}... ({len(text)} characters)"


def parse_time(text: str) -> int:
    """ISO 8601 start time -> epoch seconds. No offset means UTC (switches export UTC)."""
    try:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        epoch = int(moment.timestamp())
    except (ValueError, OverflowError):
        raise RowRejected(f"unparseable start_time {shown(text)}") from None
    if not CDR_FIRST_EPOCH <= epoch < CDR_END_EPOCH:
        raise RowRejected(
            f"start_time {shown(text)} is outside the years {CDR_FIRST_YEAR}-{CDR_LAST_YEAR}"
        )
    return epoch


# The field checks below take text already stripped (parse_row strips every field once).


def _seconds(text: str, what: str) -> int:
    if text.isdigit() and text.isascii():
        # a long run of digits is over the limit whatever it says: no big int is built
        value = int(text) if len(text.lstrip("0")) < 10 else CDR_MAX_SECONDS + 1
        if value <= CDR_MAX_SECONDS:
            return value
        raise RowRejected(
            f"{what} {_bare(text)} is over the limit of {CDR_MAX_SECONDS} seconds (7 days)"
        )
    if text[:1] == "-" and text[1:].isdigit() and text[1:].isascii():
        raise RowRejected(f"negative {what} {_bare(text)}")
    raise RowRejected(f"{what} must be whole seconds, got {shown(text)}")


def _decimal(text: str, what: str, places: int, limit: Decimal) -> Decimal:
    """A plain decimal number (digits and one point: no sign, exponent, NaN or Infinity),
    at most ``places`` decimals as written and at most ``limit``."""
    if _PLAIN_NUMBER.fullmatch(text) is None:
        if text[:1] == "-" and _PLAIN_NUMBER.fullmatch(text[1:]):
            raise RowRejected(f"negative {what} {_bare(text)}")
        raise RowRejected(f"{what} is not a plain decimal number: {shown(text)}")
    point = text.find(".")
    if point >= 0 and len(text) - point - 1 > places:  # trailing zeros count, as written
        raise RowRejected(f"{what} {_bare(text)} has more than {places} decimals")
    value = Decimal(text)
    if value > limit:
        raise RowRejected(f"{what} {_bare(text)} is over the limit of {limit}")
    return value


def _too_long(fields: Mapping[str, str]) -> str:
    for name, limit in _TEXT_LIMITS:
        if len(fields[name]) > limit:
            return f"{name} longer than {limit} characters: {shown(fields[name])}"
    raise AssertionError("a field over its limit")


@cache
def _fields(order: tuple[int, ...]) -> Callable[[list[str]], tuple[str, ...]]:
    """Picks a record's fields in COLUMNS order, as the file's header has them."""
    return itemgetter(*order)


def parse_row(
    line_no: int, record: list[str], order: tuple[int, ...], currencies: Mapping[str, str]
) -> StageRow:
    """Validate one record against the CDR limits (domain/usage.py), the file's columns and
    the customers' currencies. Fields are printable already (the reader rejects the rest)."""
    if len(record) != len(COLUMNS):
        raise RowRejected(f"expected {len(COLUMNS)} fields, got {len(record)}")
    (call_id, account, start, duration, billed, dialled, prefix, destination, rate, charge,
     currency) = map(str.strip, _fields(order)(record))  # fmt: skip
    if not call_id:
        raise RowRejected("empty call_id")
    if (
        len(call_id) > CDR_MAX_CALL_ID
        or len(dialled) > CDR_MAX_DIALLED
        or len(prefix) > CDR_MAX_PREFIX
        or len(destination) > CDR_MAX_DESTINATION
    ):
        raise RowRejected(
            _too_long(
                {
                    "call_id": call_id,
                    "dialled_number": dialled,
                    "destination_prefix": prefix,
                    "destination": destination,
                }
            )
        )
    start_epoch = parse_time(start)
    duration_s = _seconds(duration, "duration")
    billed_s = _seconds(billed, "billed_duration")
    rate_value = _decimal(rate, "rate_per_minute", CDR_RATE_PLACES, CDR_MAX_RATE)
    charge_micros = int(_decimal(charge, "charge", MICROS, CDR_MAX_CHARGE).scaleb(MICROS))
    expected = currencies.get(account)
    if expected is None:
        raise RowRejected(f"unknown customer account {shown(account)}")
    if currency.upper() != expected:
        raise RowRejected(f"currency {shown(currency)} differs from the customer's {expected}")
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
