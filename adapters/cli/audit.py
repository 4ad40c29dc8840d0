"""``tollbook audit ...``: verify the hash chain of the event log; export a period for auditors."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, time, timedelta

import click

from adapters.audit import export_events, verify_store
from adapters.cli.context import date_arg, emit_json, json_option, passes_state, say, table
from adapters.cli.context import state as cli_state
from adapters.config import ConfigError, database_url
from adapters.ledger.application import Ledger
from adapters.store.chain import Finding
from adapters.store.database import Database
from adapters.store.read_models import TRACKING_TABLE
from domain.errors import InvalidDate


class TamperingFound(click.ClickException):
    """The chain does not match the stored events: exit 1 after naming each record."""

    exit_code = 1
    code = "tampering_found"


def _database() -> Database:
    try:
        return Database.from_url(cli_state().database_url or database_url())
    except ValueError as error:
        raise ConfigError(f"audit needs SQLite or PostgreSQL: {error}") from None


@click.group()
def audit() -> None:
    """Tamper evidence and export of the event log."""


@audit.command("verify")
@json_option
@passes_state
def verify(ledger: Ledger, actor: str, as_json: bool) -> None:
    """Walk every stored event and its chain link; name any record altered, removed or
    inserted behind the application's back. Exits 1 when one is found."""
    del actor
    db = _database()
    findings, last = verify_store(ledger, db)
    head = last.position if last else 0
    seen = _highest_tracked(db)
    if seen > head:
        # the read models saw events past the end of the log: its tail was cut off
        findings.append(_truncation(head, seen))
    docs = [f.__dict__ for f in findings]
    if as_json:
        emit_json({"head": head, "head_hash": last.hash if last else None, "findings": docs})
    elif findings:
        table(
            f"{len(findings)} records not as the application wrote them",
            ["position", "aggregate", "version", "problem", "detail"],
            [[f.position, f.aggregate_id, f.version or "", f.problem, f.detail] for f in findings],
        )
    if findings:
        raise TamperingFound("the event log was changed behind the application's back")
    if not as_json:
        where = f"up to position {head} (head hash {last.hash})" if last else "an empty log"
        say(f"verified {where}: intact")


def _highest_tracked(db: Database) -> int:
    try:
        with db.connect() as conn:
            row = conn.execute(f"SELECT MAX(position) FROM {TRACKING_TABLE}").fetchone()
    except Exception:  # no read models yet: nothing to compare with
        return 0
    return int(row[0] or 0)


def _truncation(head: int, seen: int) -> Finding:
    return Finding(seen, "?", None, f"removed: the log ends at {head}, read models saw {seen}")


def _moment(value: str | None, what: str, end: bool) -> datetime | None:
    """A date (whole day, UTC) or an ISO timestamp with zone."""
    if value is None:
        return None
    if len(value) == 10:
        day = date_arg(value, what)
        assert day is not None
        start = datetime.combine(day, time(0), tzinfo=UTC)
        return start + timedelta(days=1) if end else start
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidDate(f"{what} must be a date or an ISO timestamp: {value!r}") from None
    if moment.tzinfo is None:
        raise InvalidDate(f"{what} needs a time zone (append Z for UTC): {value!r}")
    return moment


@audit.command("export")
@click.option("--from", "start", help="First day (or ISO timestamp) of the period.")
@click.option("--to", "end", help="Last day of the period (inclusive), or an exclusive timestamp.")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="File (default: stdout).")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="With -o: print what was written as JSON (standard output is JSON Lines anyway).",
)
@passes_state
def export(
    ledger: Ledger,
    actor: str,
    start: str | None,
    end: str | None,
    output: str | None,
    as_json: bool,
) -> None:
    """Write the event log of a period as JSON Lines: position, aggregate, version, type,
    time, actor, reason, payload and chain hash of each event."""
    del actor
    begin, finish = _moment(start, "--from", False), _moment(end, "--to", True)
    if begin and finish and finish <= begin:
        raise InvalidDate("--to is before --from")
    db = _database()
    if output:
        with open(output, "w", encoding="utf-8") as out:
            count = export_events(ledger, db, out, begin, finish)
        if as_json:
            emit_json(
                {
                    "output": output,
                    "events": count,
                    "from": begin.isoformat() if begin else None,
                    "to": finish.isoformat() if finish else None,
                }
            )
        else:
            click.echo(f"exported {count} events to {output}", err=True)
    else:
        export_events(ledger, db, sys.stdout, begin, finish)
