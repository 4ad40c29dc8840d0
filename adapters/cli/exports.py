"""``tollbook export ...``: replay the ledger into Xero, Clear Books or FreshBooks; status;
dead-letter retries; reconcile (read the exported documents back); and a plain CSV/JSON file of
a period's documents."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
from rich.progress import Progress

from adapters.accounting.config import SYSTEMS, Connection, System, choose, load_connections
from adapters.accounting.errors import RemoteUnavailable
from adapters.accounting.exporter import Exporter, RunReport
from adapters.accounting.factory import build_exporter, client_for, policy_for
from adapters.accounting.flatfile import render, rows_for_period
from adapters.accounting.reconcile import (
    Checked,
    Kind,
    LedgerDocument,
    Reconciliation,
    ledger_status,
    reconcile,
)
from adapters.accounting.store import DeadLetter, ExportStore, ReconciliationLine, Settlement
from adapters.cli.context import (
    MAX_ID,
    NumericArgsCommand,
    console,
    date_arg,
    emit_json,
    json_option,
    say,
    state,
    table,
)
from adapters.cli.read_side import read_models, view_store
from adapters.cli.reports import DifferencesFound
from adapters.config import ConfigError, database_url
from adapters.ledger.application import Ledger
from adapters.store.database import Database
from domain.errors import InvalidInput, NotFound
from domain.export_resolution import Action
from projections.invoice_register import CREDIT_NOTES, REGISTER


@click.group()
def export() -> None:
    """Accounting exports: each connection follows the ledger and replays it exactly once."""


def _db_url() -> str:
    url = state().database_url or database_url()
    if url.startswith("memory:"):
        raise ConfigError("exports keep their positions in SQL: use a sqlite or postgresql store")
    return url


def _head(ledger: Ledger) -> int:
    return int(ledger.recorder.max_notification_id() or 0)


def _since(ledger: Ledger, value: str | None) -> int | None:
    """``--since`` is a log position (a number) or a date: events from that day on."""
    if value is None:
        return None
    if value.isdigit():
        return int(value)
    day = date_arg(value, "--since")
    assert day is not None
    previous = 0
    for position, event in ledger.all_events():
        if event.timestamp.date() >= day:
            return previous
        previous = position
    return previous


def _run_system(system: System) -> Callable[..., None]:
    @click.option("--connection", "name", help="Only this connection (default: all of them).")
    @click.option("--since", help="Start after this log position, or from this date (ISO).")
    @click.option("--dry-run", is_flag=True, help="Show what would be sent; send nothing.")
    @json_option
    def command(name: str | None, since: str | None, dry_run: bool, as_json: bool) -> None:
        ledger = state().ledger
        connections = choose(load_connections(), system, name)
        start = _since(ledger, since)
        reports = [_run_one(ledger, c, start, dry_run, as_json) for c in connections]
        if as_json:
            emit_json([_report_doc(r) for r in reports])
        stopped = [r for r in reports if r.stopped]
        if stopped:
            raise ConfigError(
                "; ".join(
                    f"{r.connection}: {r.stopped} (stopped at position {r.position};"
                    " run again to resume)"
                    for r in stopped
                )
            )

    command.__doc__ = f"Export the ledger's new events to {system} (exactly once)."
    return command


def _run_one(
    ledger: Ledger, connection: Connection, since: int | None, dry_run: bool, quiet: bool
) -> RunReport:
    head = _head(ledger)
    with Progress(console=console, disable=quiet or not console.is_terminal) as progress:
        task = progress.add_task(f"{connection.name}", total=head or None)
        exporter = build_exporter(
            ledger,
            _db_url(),
            connection,
            on_event=lambda position: progress.update(task, completed=position),
        )
        report = exporter.run(since, dry_run=dry_run)
    if not quiet:
        _print_report(report, dry_run)
    return report


def _print_report(report: RunReport, dry_run: bool) -> None:
    title = (
        f"{report.connection}: {'dry run ' if dry_run else ''}after position {report.started_after}"
    )
    rows = [(i.position, i.kind, i.label, i.outcome, i.detail) for i in report.items]
    table(title, ["position", "kind", "document", "outcome", "detail"], rows)
    summary = ", ".join(
        f"{report.count(o)} {o}"
        for o in ("exported", "would export", "dead", "parked", "noted")
        if report.count(o)
    )
    say(f"{report.connection}: {summary or 'nothing to export'}; position {report.position}")


def _report_doc(report: RunReport) -> dict[str, object]:
    return {
        "connection": report.connection,
        "started_after": report.started_after,
        "position": report.position,
        "stopped": report.stopped,
        "items": [
            {
                "position": i.position,
                "kind": i.kind,
                "label": i.label,
                "outcome": i.outcome,
                "detail": i.detail,
            }
            for i in report.items
        ],
    }


for _system in SYSTEMS:
    export.command(_system)(_run_system(_system))


@export.command("status")
@json_option
def status(as_json: bool) -> None:
    """Each connection's position and lag, dead letters, and reconciliation lines."""
    found = _export_status(state().ledger, ExportStore(Database.from_url(_db_url())))
    if as_json:
        emit_json(
            {
                "connections": found.connections,
                "dead_letters": [d.__dict__ for d in found.letters],
                "settled": [r.__dict__ for r in found.settled],
                "reconciliation": [line.__dict__ for line in found.lines],
            }
        )
        return
    _show_status(found)


@dataclass(frozen=True)
class _ExportStatus:
    connections: list[dict[str, Any]]
    letters: list[DeadLetter]
    settled: list[Settlement]
    lines: list[ReconciliationLine]


def _export_status(ledger: Ledger, store: ExportStore) -> _ExportStatus:
    """Every connection (configured or with a position) against the log's head, and the
    store's dead letters, settlements and reconciliation lines."""
    head = _head(ledger)
    positions = store.positions()
    configured = load_connections()
    letters = store.dead_letters()
    settled = store.settlements()
    lines = store.reconciliation()
    connections = []
    for name in sorted(set(configured) | set(positions)):
        system = configured[name].system if name in configured else positions[name][0]
        position = positions.get(name, (system, 0, ""))[1]
        connections.append(
            {
                "connection": name,
                "system": system,
                "position": position,
                "head": head,
                "lag": head - position,
                "dead": sum(1 for d in letters if d.connection == name and d.status == "dead"),
                "parked": sum(1 for d in letters if d.connection == name and d.status == "parked"),
                "settled": sum(1 for r in settled if r.connection == name),
                "reconciliation": sum(1 for line in lines if line.connection == name),
                "last_run": positions.get(name, (system, 0, ""))[2],
            }
        )
    return _ExportStatus(connections, letters, settled, lines)


def _show_status(found: _ExportStatus) -> None:
    """One table of connections, then one of each kind of line there is."""
    columns = [
        "connection",
        "system",
        "position",
        "head",
        "lag",
        "dead",
        "parked",
        "settled",
        "reconciliation",
        "last_run",
    ]
    table("Export connections", columns, [[c[k] for k in columns] for c in found.connections])
    if found.letters:
        table(
            "Dead letters (tollbook export retry|resolve|skip ID)",
            ["id", "connection", "status", "kind", "document", "attempts", "error"],
            [
                (d.id, d.connection, d.status, d.kind, d.label, d.attempts, d.error)
                for d in found.letters
            ],
        )
    if found.settled:
        _show_settled(found.settled)
    if found.lines:
        _show_reconciliation(found.lines)


def _show_settled(settled: list[Settlement]) -> None:
    table(
        "Dead letters settled by a person",
        ["id", "connection", "action", "kind", "document", "by", "at", "remote id", "reason"],
        [
            (
                r.letter_id,
                r.connection,
                r.action,
                r.kind,
                r.label,
                r.actor,
                r.settled_at,
                r.remote_id,
                r.reason,
            )
            for r in settled
        ],
    )


def _show_reconciliation(lines: list[ReconciliationLine]) -> None:
    table(
        "Reconciliation",
        ["connection", "kind", "document", "currency", "ledger", "remote", "difference", "note"],
        [
            (
                r.connection,
                r.kind,
                r.label,
                r.currency,
                r.ledger_total,
                r.remote_total,
                r.difference,
                r.note,
            )
            for r in lines
        ],
    )


def _exporter_of(letter_id: int) -> Exporter:
    """The exporter of the connection that holds dead letter ``letter_id``."""
    store = ExportStore(Database.from_url(_db_url()))
    letter = store.dead_letter_by_id(letter_id)
    configured = load_connections()
    if letter is None:
        raise NotFound(f"no dead letter #{letter_id}")
    if letter.connection not in configured:
        raise ConfigError(f"connection {letter.connection!r} is no longer configured")
    return build_exporter(state().ledger, _db_url(), configured[letter.connection])


def _finish(report: RunReport, as_json: bool) -> None:
    if as_json:
        emit_json(_report_doc(report))
    else:
        _print_report(report, False)
    if report.stopped:
        raise ConfigError(f"{report.connection}: {report.stopped}; try again later")


@export.command("retry", cls=NumericArgsCommand)
@click.argument("letter_id", type=click.IntRange(1, MAX_ID))
@json_option
def retry(letter_id: int, as_json: bool) -> None:
    """Re-send dead letter LETTER_ID (after fixing its cause), then what was parked behind it."""
    _finish(_exporter_of(letter_id).retry(letter_id), as_json)


def _settle_command(action: Action) -> Callable[..., None]:
    @click.argument("letter_id", type=click.IntRange(1, MAX_ID))
    @click.option("--reason", required=True, help="What was done and why (kept for audit).")
    @json_option
    def command(letter_id: int, reason: str, as_json: bool, **extra: str | None) -> None:
        exporter = _exporter_of(letter_id)
        remote_id = (extra.get("remote_id") or "").strip()
        report = exporter.settle(letter_id, action, reason, state().actor, remote_id)
        _finish(report, as_json)

    return command


_resolve = _settle_command("resolved")
_resolve.__doc__ = (
    "Mark dead letter LETTER_ID as put right by hand in the accounting system, with a reason;"
    " then send what was parked behind it."
)
_resolve = click.option(
    "--remote-id",
    default=None,
    help="The remote id of the document made by hand, so later payments and credits find it.",
)(_resolve)
export.command("resolve")(_resolve)

_skip = _settle_command("skipped")
_skip.__doc__ = (
    "Never export dead letter LETTER_ID (with a reason); then send what was parked behind it."
)
export.command("skip")(_skip)


@export.command("reconcile")
@click.argument("connection_name", metavar="CONNECTION")
@json_option
def reconcile_command(connection_name: str, as_json: bool) -> None:
    """Read back every invoice and credit note exported to CONNECTION and compare its total,
    amount due and status with the ledger's; exit 1 when any differs."""
    configured = load_connections()
    if connection_name not in configured:
        known = ", ".join(sorted(configured)) or "none configured"
        raise ConfigError(f"no connection named {connection_name!r} (known: {known})")
    connection = configured[connection_name]
    client = client_for(connection, policy_for(connection))
    store = ExportStore(Database.from_url(_db_url()))
    store.ensure_tables()
    exported: list[tuple[Kind, str, str]] = [
        ("invoice" if kind == "invoice" else "credit_note", local_id, remote_id)
        for (kind, local_id), remote_id in sorted(store.remote_ids(connection_name).items())
        if kind in ("invoice", "credit_note") and remote_id
    ]
    try:
        result = reconcile(
            connection_name, connection.system, client, exported, _ledger_documents()
        )
    except RemoteUnavailable as error:  # down, or our credentials refused: nothing to compare
        raise ConfigError(
            f"{connection_name}: {connection.system} unavailable ({error}); nothing was compared,"
            " try again later"
        ) from None
    if as_json:
        emit_json(_reconciliation_doc(result))
    else:
        _print_reconciliation(result)
    if result.differing:
        raise DifferencesFound(
            f"{len(result.differing)} of {len(result.checked)} documents in {connection_name}"
            " differ from the ledger"
        )


def _ledger_documents() -> dict[str, LedgerDocument]:
    """Invoices and credit notes as the invoice register read model holds them (caught up)."""
    store = view_store(read_models(["invoice_register"]))
    documents = {
        row["invoice_id"]: LedgerDocument(
            "invoice",
            row["invoice_id"],
            row["number"] or "",
            row["currency"],
            row["total"],
            row["outstanding"],
            ledger_status(row["state"], row["outstanding"]),
            row["due_date"],
        )
        for row in store.select(REGISTER)
    }
    # A credit note is applied to its invoice when issued: nothing of it is left to use.
    documents.update(
        (
            row["credit_note_id"],
            LedgerDocument(
                "credit_note",
                row["credit_note_id"],
                row["number"],
                row["currency"],
                row["total"],
                Decimal(0),
                "paid",
            ),
        )
        for row in store.select(CREDIT_NOTES)
    )
    return documents


def _reconciliation_doc(result: Reconciliation) -> dict[str, object]:
    return {
        "connection": result.connection,
        "system": result.system,
        "checked": len(result.checked),
        "differing": len(result.differing),
        "documents": [
            {
                "kind": c.kind,
                "number": c.number,
                "remote_id": c.remote_id,
                "currency": c.currency,
                "ledger_total": _text(c.ledger_total),
                "remote_total": _text(c.remote_total),
                "ledger_amount_due": _text(c.ledger_due),
                "remote_amount_due": _text(c.remote_due),
                "ledger_status": c.ledger_status,
                "remote_status": c.remote_status,
                "ledger_due_date": _text(c.ledger_due_date),
                "remote_due_date": _text(c.remote_due_date),
                "differences": list(c.differences),
            }
            for c in result.checked
        ],
    }


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _print_reconciliation(result: Reconciliation) -> None:
    table(
        f"{result.connection}: the ledger against {result.system} (ledger / remote if they differ)",
        ["document", "kind", "currency", "total", "amount due", "status", "due", "differs in"],
        [
            (
                c.number,
                c.kind,
                c.currency,
                _pair(c.ledger_total, c.remote_total),
                _pair(c.ledger_due, c.remote_due),
                _pair(c.ledger_status, c.remote_status),
                _due(c),
                ", ".join(c.differences) or "-",
            )
            for c in result.checked
        ],
    )
    say(
        f"{result.connection}: {len(result.checked)} documents read back,"
        f" {len(result.differing)} differ from the ledger"
    )


def _due(checked: Checked) -> str:
    """An invoice's due date, and the remote's where it differs (a system that does not read
    it back: the ledger's alone)."""
    if checked.remote_due_date is None:
        return _text(checked.ledger_due_date) or ""
    return _pair(checked.ledger_due_date, checked.remote_due_date)


def _pair(ledger: object, remote: object) -> str:
    if ledger == remote:
        return _text(ledger) or ""
    return f"{_text(ledger) or '-'} / {_text(remote) or '-'}"


@export.command("file")
@click.option("--from", "start", required=True, help="First day (ISO date), inclusive.")
@click.option("--to", "end", required=True, help="Last day (ISO date), inclusive.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "json"]),
    help="csv (the default) or json; --json without --output means json.",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file (default: standard output).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Standard output as JSON: the rows, or with --output what was written.",
)
def file(start: str, end: str, fmt: str | None, output: Path | None, as_json: bool) -> None:
    """Invoices, credit notes and completed payments of a period, as CSV or JSON."""
    first, last = date_arg(start, "--from"), date_arg(end, "--to")
    assert first is not None and last is not None
    if last < first:
        raise InvalidInput(f"--to {last} is before --from {first}")
    if as_json and output is None and fmt == "csv":
        raise InvalidInput("--json writes JSON to standard output: --format csv needs --output")
    fmt = fmt or ("json" if as_json and output is None else "csv")
    rows = rows_for_period(state().ledger, first, last)
    text = render(rows, fmt)
    if output is None:
        click.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    if as_json:
        emit_json(
            {
                "output": str(output),
                "format": fmt,
                "rows": len(rows),
                "from": first.isoformat(),
                "to": last.isoformat(),
            }
        )
    else:
        say(f"wrote {output}")
