"""A fresh, empty store for every simulated history, beside the test's own store.

The ``store_url`` fixture gives one SQLite file or one PostgreSQL schema per test; a state
machine runs many histories in one test, and each must start from nothing. SQLite: another
file in the same folder; PostgreSQL: another schema, named after the fixture's, dropped when
the history ends.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from pathlib import Path

import psycopg

from tests.conftest import PG_ADMIN_URL


def fresh_store(base_url: str, n: int) -> tuple[str, Callable[[], None]]:
    """(url of store number ``n``, a function that removes it)."""
    if base_url.startswith("sqlite:///"):
        path = Path(base_url.removeprefix("sqlite:///"))
        file = path.with_name(f"{path.stem}-sim{n}{path.suffix}")

        def remove_file() -> None:
            for extra in ("", "-wal", "-shm", "-journal"):
                with contextlib.suppress(FileNotFoundError):
                    Path(f"{file}{extra}").unlink()

        return f"sqlite:///{file}", remove_file
    found = re.search(r"schema=([A-Za-z0-9_]+)", base_url)
    assert found, f"no schema in {base_url}"
    schema = f"{found.group(1)}_s{n}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')

    def drop_schema() -> None:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

    return base_url.replace(f"schema={found.group(1)}", f"schema={schema}"), drop_schema
