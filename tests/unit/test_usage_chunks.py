"""The PostgreSQL import's chunks: as big as the file calls for, told by how much of the file
the reader has read."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from adapters.usage import pg_stage
from adapters.usage.cdr_csv import open_cdrs

HEADER = (
    "call_id,account,start_time,duration,billed_duration,dialled_number,"
    "destination_prefix,destination,rate_per_minute,charge,currency\n"
)
LINE = "c{n:07d},ACME,2026-10-01T00:00:00Z,60,60,441234,44,UK,0.0123,0.0123,GBP\n"


def never(*_: object) -> None:
    raise AssertionError("no line is rejected here")


@pytest.mark.parametrize("gzipped", [False, True])
def test_the_reader_tells_how_far_into_the_file_its_lines_came_from(
    tmp_path: Path, gzipped: bool
) -> None:
    text = HEADER + "".join(LINE.format(n=n) for n in range(20_000))
    path = tmp_path / ("cdrs.csv.gz" if gzipped else "cdrs.csv")
    path.write_bytes(gzip.compress(text.encode()) if gzipped else text.encode())
    size = path.stat().st_size
    with open_cdrs(path, reject=never, max_line_length=4096, max_blank_lines=0) as reader:
        seen = []
        lines = 0
        for batch in reader.batches:
            lines += batch.count
            seen.append((lines, reader.position()))
    assert lines == 20_000
    positions = [position for _, position in seen]
    assert positions == sorted(positions) and 0 < positions[0] < size and positions[-1] == size
    if not gzipped:  # a plain file's position is exact to within a read, so is the estimate
        for count, position in seen:
            assert abs(count / (position / size) - 20_000) <= 20_000 * 0.05 + 3_000


def test_chunks_grow_with_the_file_within_their_bounds() -> None:
    sizes = [pg_stage.chunk_rows(lines) for lines in (100, 20_000, 200_000, 2_000_000, 10**8)]
    assert sizes == sorted(sizes)
    assert sizes[0] == pg_stage.MIN_CHUNK_ROWS and sizes[-1] == pg_stage.CHUNK_ROWS
    assert pg_stage.MIN_CHUNK_ROWS < sizes[2] < pg_stage.CHUNK_ROWS
    assert pg_stage.chunk_rows(None) == pg_stage.CHUNK_ROWS  # the file's length not known


def test_plain_lines_go_to_copy_numbered_by_their_line_in_the_file(tmp_path: Path) -> None:
    lines = [LINE.format(n=n) for n in range(3)]
    lines[1] = lines[1].replace("ACME", "AC\\ME")  # COPY's text format escapes its escape
    path = tmp_path / "cdrs.csv"
    path.write_text(HEADER + "".join(lines))
    with open_cdrs(path, reject=never, max_line_length=4096, max_blank_lines=0) as reader:
        batches = list(reader.batches)
    assert len(batches) == 1 and (batches[0].first_line, batches[0].last_line) == (2, 4)
    assert batches[0].copy_text.splitlines() == [
        f"2,{lines[0].strip()},\\N",
        f"3,{lines[1].strip().replace(chr(92), chr(92) * 2)},\\N",
        f"4,{lines[2].strip()},\\N",
    ]
