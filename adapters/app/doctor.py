"""``tollbook doctor``: checks a deployment from the command line and says how to fix what is
wrong (docs/operations.md, "tollbook doctor").

Each check answers ``ok``, ``warn`` (works, but look), ``fail`` (something will not work) or
``skip`` (not configured here), with what it found and, unless ok, how to fix it. Nothing is
written, nothing is migrated, and nothing leaves the machine except the connections the
deployment itself makes (its database, its NATS server); accounting credentials are checked
for presence, never tried against the internet.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from adapters.accounting.config import Connection, load_connections
from adapters.config_error import ConfigError
from adapters.store.database import Database
from adapters.store.migrations.runner import applied, migrations
from adapters.store.settings import postgres_connect
from projections.runner import describe_error

Status = Literal["ok", "warn", "fail", "skip"]

#: seconds a connection (database, NATS) is given before the check fails
CONNECT_TIMEOUT = 5.0
#: clock skew against the database: a warning beyond the first, a failure beyond the second
SKEW_WARN_SECONDS = 1.0
SKEW_FAIL_SECONDS = 30.0
NATS_DEFAULT_PORT = 4222
#: what each accounting system needs to authenticate (docs/exports.md)
REQUIRED_CREDENTIALS: dict[str, tuple[str, ...]] = {
    "xero": ("tenant_id", "client_id", "client_secret"),
    "freshbooks": ("account_id", "access_token"),
    "clearbooks": ("api_key",),
}
SMTP_KEYS = ("TOLLBOOK_SMTP_HOST", "TOLLBOOK_SMTP_PORT", "TOLLBOOK_SMTP_USER",
             "TOLLBOOK_SMTP_PASSWORD", "TOLLBOOK_SMTP_FROM", "TOLLBOOK_SMTP_TLS")  # fmt: skip
SMTP_TLS_MODES = ("none", "starttls", "tls")  # as adapters/mail/config.py reads them


@dataclass(frozen=True)
class Finding:
    check: str
    status: Status
    detail: str
    fix: str = ""

    def doc(self) -> dict[str, str]:
        return asdict(self)


def ok(check: str, detail: str) -> Finding:
    return Finding(check, "ok", detail)


def fail(check: str, detail: str, fix: str) -> Finding:
    return Finding(check, "fail", detail, fix)


def skip(check: str, detail: str) -> Finding:
    return Finding(check, "skip", detail)


def examine(
    url: str,
    environ: Mapping[str, str] | None = None,
    local_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> list[Finding]:
    """Every check, in order; one that cannot run says why instead of stopping the others."""
    env = os.environ if environ is None else environ
    db = Database.from_url(url)
    reachable = database(db)
    findings = [reachable]
    if reachable.status == "ok":
        findings += [schema(db), clock_skew(db, local_clock)]
    else:
        findings += [
            skip("schema", "no database to read (see database)"),
            skip("clock", "no database to read (see database)"),
        ]
    return [*findings, fonts(env), smtp(env), accounting(env), nats(env)]


def database(db: Database) -> Finding:
    if db.dialect == "sqlite":
        path = Path(db.env["SQLITE_DBNAME"])
        if not path.is_file():
            return Finding(
                "database",
                "warn",
                f"SQLite file {path} does not exist yet",
                "it is created on first use; check TOLLBOOK_DATABASE_URL if you expected one",
            )
    try:
        with _connection(db) as conn:
            conn.execute("SELECT 1").fetchone()
    except Exception as error:
        return fail(
            "database",
            f"cannot connect: {describe_error(error)}"[:300],
            "check TOLLBOOK_DATABASE_URL (host, port, user, password, database), that the"
            " server runs and that this machine may connect to it",
        )
    where = db.env.get("SQLITE_DBNAME") or _pg_where(db)
    return ok("database", f"{db.dialect}: {where} answers")


def schema(db: Database) -> Finding:
    try:
        done = {a.version for a in applied(db)}
    except Exception as error:
        return fail("schema", describe_error(error)[:300], "check the database user's rights")
    known = {m.version for m in migrations()}
    pending, unknown = sorted(known - done), sorted(done - known)
    if unknown:
        return fail(
            "schema",
            f"the database has migration steps {unknown} this version does not know",
            "a newer tollbook migrated it: run that version (or newer) here",
        )
    if pending:
        return fail(
            "schema",
            f"migration steps {pending} pending (at version {max(done, default=0)})",
            "run `tollbook migrate` (in a quiet hour on a large database)",
        )
    return ok("schema", f"up to date at version {max(done)}")


def clock_skew(db: Database, local_clock: Callable[[], datetime]) -> Finding:
    if db.dialect == "sqlite":
        return skip("clock", "SQLite: the database is a file on this machine, with its clock")
    try:
        with _connection(db) as conn:
            before = local_clock()
            database_now = conn.execute("SELECT now()").fetchone()[0]
            after = local_clock()
    except Exception as error:
        return fail("clock", describe_error(error)[:300], "check the database connection")
    local = before + (after - before) / 2
    skew = (local - database_now).total_seconds()
    detail = f"this machine is {skew:+.3f} s from the database's clock"
    if abs(skew) > SKEW_FAIL_SECONDS:
        return fail("clock", detail, "synchronise both machines' clocks (NTP, chrony)")
    if abs(skew) > SKEW_WARN_SECONDS:
        return Finding("clock", "warn", detail, "synchronise the clocks (NTP, chrony)")
    return ok("clock", detail)


def fonts(env: Mapping[str, str]) -> Finding:
    from adapters.pdf.fonts import FontSet

    try:
        found = FontSet.from_env(env)
    except ConfigError as error:
        return fail(
            "pdf fonts",
            str(error).partition(":")[0],
            "run `make system-deps` (fonts-dejavu-core, fonts-droid-fallback) or set"
            " TOLLBOOK_PDF_FONT, TOLLBOOK_PDF_FONT_BOLD, TOLLBOOK_PDF_FALLBACK_FONTS",
        )
    names = f"{found.regular.name}, {found.bold.name}"
    return ok("pdf fonts", f"{names} and {len(found.fallbacks)} fallback font(s) found")


def smtp(env: Mapping[str, str]) -> Finding:
    given = [key for key in SMTP_KEYS if env.get(key, "").strip()]
    if not given:
        return skip("smtp", "not configured (no TOLLBOOK_SMTP_* settings)")
    host = env.get("TOLLBOOK_SMTP_HOST", "").strip()
    port = env.get("TOLLBOOK_SMTP_PORT", "25").strip() or "25"
    if not host:
        return fail("smtp", f"{', '.join(given)} set but no host", "set TOLLBOOK_SMTP_HOST")
    if not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
        return fail(
            "smtp", f"port {port[:20]!r} is not a port", "set TOLLBOOK_SMTP_PORT to 1-65535"
        )
    if env.get("TOLLBOOK_SMTP_USER") and not env.get("TOLLBOOK_SMTP_PASSWORD"):
        return fail("smtp", "a user but no password", "set TOLLBOOK_SMTP_PASSWORD")
    tls = env.get("TOLLBOOK_SMTP_TLS", "starttls").strip().lower() or "starttls"
    if tls not in SMTP_TLS_MODES:
        return fail(
            "smtp",
            f"TLS mode {tls[:20]!r} unknown",
            "set TOLLBOOK_SMTP_TLS to none, starttls or tls",
        )
    return ok("smtp", f"{host}:{port} configured (not contacted)")


def accounting(env: Mapping[str, str]) -> Finding:
    if not env.get("TOLLBOOK_CONNECTIONS", "").strip():
        return skip("accounting", "no connections configured (TOLLBOOK_CONNECTIONS)")
    try:
        connections = load_connections(env)
    except ConfigError as error:
        return fail(
            "accounting", str(error)[:300], "correct the connections file (docs/exports.md)"
        )
    missing = [f"{c.name}.{name}" for c in connections.values() for name in _missing_credentials(c)]
    if missing:
        return fail(
            "accounting",
            f"credentials missing: {', '.join(missing)}",
            "add them to the connections file (or `env:VARIABLE` and set it; docs/exports.md)",
        )
    names = ", ".join(f"{c.name} ({c.system})" for c in connections.values())
    return ok("accounting", f"credentials present for {names or 'no connection'} (not contacted)")


def _missing_credentials(connection: Connection) -> list[str]:
    missing = []
    for name in REQUIRED_CREDENTIALS[connection.system]:
        value = getattr(connection, name)
        text = value.get_secret_value() if hasattr(value, "get_secret_value") else value
        if not str(text).strip():
            missing.append(name)
    return missing


def nats(env: Mapping[str, str]) -> Finding:
    urls = [u.strip() for u in env.get("TOLLBOOK_NATS_URL", "").split(",") if u.strip()]
    if not urls:
        return skip("nats", "not configured (TOLLBOOK_NATS_URL)")
    problems = []
    for url in urls:
        problem = _nats_problem(url)
        if problem:
            problems.append(f"{url[:80]}: {problem}")
    if problems:
        return fail(
            "nats",
            "; ".join(problems),
            "check TOLLBOOK_NATS_URL (nats://host:4222) and that nats-server runs and is reachable",
        )
    return ok("nats", f"{len(urls)} server(s) answer with INFO")


def _nats_problem(url: str) -> str | None:
    """None when a NATS server answers at ``url`` (it greets every client with an ``INFO``
    line before anything is sent), else what went wrong."""
    try:
        parts = urlsplit(url if "://" in url else f"nats://{url}")
        host, port = parts.hostname, parts.port or NATS_DEFAULT_PORT
    except ValueError as error:
        return f"not a URL ({error})"
    if parts.scheme not in ("nats", "tls") or not host or len(host) > 253:
        return "not a nats://host:port URL"
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT) as conn:
            greeting = conn.makefile("rb").readline(4096)
    except UnicodeError:  # a host name no resolver takes (a label over 63 characters)
        return "not a host name"
    except OSError as error:
        return f"cannot connect ({error.strerror or error})"
    if not greeting.startswith(b"INFO "):
        return f"not a NATS server (it said {greeting[:40]!r})"
    return None


def _pg_where(db: Database) -> str:
    env = db.env
    return (
        f"{env.get('POSTGRES_HOST', '')}:{env.get('POSTGRES_PORT', '5432')}"
        f"/{env.get('POSTGRES_DBNAME', '')} schema {env.get('POSTGRES_SCHEMA') or 'public'}"
    )


@contextmanager
def _connection(db: Database) -> Iterator[Any]:
    """A short-lived connection of the check's own, with a connect time-out (PostgreSQL)."""
    if db.dialect == "sqlite":
        conn: Any = db.sqlite_connection()
    else:
        options = f"-c search_path={db.schema}" if db.schema else ""
        conn = postgres_connect(
            db.env, connect_timeout=int(CONNECT_TIMEOUT), autocommit=True, options=options
        )
    try:
        yield conn
    finally:
        conn.close()
