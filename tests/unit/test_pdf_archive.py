"""The zip of PDFs the portal's bulk download sends: the same files give the same bytes."""

from __future__ import annotations

import io
import zipfile

from adapters.pdf.archive import FIXED_TIME, deterministic_zip


def test_the_same_files_in_any_order_give_the_same_bytes_with_fixed_metadata():
    files = {"INV-2.pdf": b"%PDF-2", "INV-10.pdf": b"%PDF-10", "draft-0a1b2c3d.pdf": b"%PDF-d"}
    made = deterministic_zip(files)

    assert made == deterministic_zip(dict(reversed(list(files.items()))))
    archive = zipfile.ZipFile(io.BytesIO(made))
    assert archive.namelist() == sorted(files)
    for info in archive.infolist():
        assert (info.date_time, info.compress_type) == (FIXED_TIME, zipfile.ZIP_STORED)
        assert (info.external_attr >> 16, info.extra) == (0o100644, b"")
        assert archive.read(info) == files[info.filename]
    assert deterministic_zip({**files, "INV-3.pdf": b"x"}) != made
