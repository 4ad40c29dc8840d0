"""A deterministic zip of documents: the same files always give the same bytes.

Every entry carries a fixed timestamp (1980-01-01 00:00, zip's earliest), fixed permissions and
no extra fields, and entries are written in sorted name order, so two downloads of the same
invoices compare equal byte for byte and a checksum of the archive means something. PDFs are
already compressed: entries are stored, not deflated, which also keeps zlib's version out of
the bytes.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping

#: zip's earliest representable moment (MS-DOS dates start in 1980)
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
#: a regular file, rw-r--r--, in the upper 16 bits (as Unix zip writes it)
_FILE_MODE = 0o100644 << 16


def deterministic_zip(files: Mapping[str, bytes]) -> bytes:
    """A zip of ``files`` (name -> bytes), in sorted name order with fixed metadata."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name in sorted(files):
            entry = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            entry.external_attr = _FILE_MODE
            entry.create_system = 3  # Unix, whatever the host: the bytes must not vary
            archive.writestr(entry, files[name])
    return buffer.getvalue()
