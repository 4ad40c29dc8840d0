"""``tollbook usage ...`` (CDR import, re-rating) and ``tollbook bill`` (the billing run)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import click
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from adapters.cli.context import date_arg, emit_json, json_option, passes_state, say, state, table
from adapters.config import ConfigError, database_url
from adapters.ledger.application import Ledger
from adapters.store.database import Database
from adapters.usage.billing import BillingReport, InvoiceResult, run_billing
from adapters.usage.importer import LIMIT_RANGES, ImportLimits, import_cdrs
from adapters.usage.location import usage_database as usage_database_apart
from adapters.usage.location import usage_database_url
from adapters.usage.partitions import Month
from adapters.usage.purge import purge_usage
from adapters.usage.rating import load_rate_card, rerate
from domain.errors import InvalidInput
from domain.usage import Period

DEFAULT_LIMITS = ImportLimits()


def ledger_database() -> Database:
    url = state().database_url or database_url()
    try:
        return Database.from_url(url)
    except ValueError as error:
        raise ConfigError(str(error)) from None


def usage_database() -> Database:
    """Where the CDRs are: TOLLBOOK_USAGE_DATABASE_URL, else the ledger's store."""
    if usage_database_url() is None:
        return ledger_database()
    return usage_database_apart(ledger_database(), tenant=state().tenant)


@contextmanager
def progress_bar(label: str, *, bytes_: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A rich progress bar on a terminal; nothing when output is piped or captured."""
    if not sys.stderr.isatty():
        yield None
        return
    columns = [TextColumn(label), BarColumn()]
    columns.append(DownloadColumn() if bytes_ else TextColumn("{task.completed}/{task.total}"))
    with Progress(*columns, TimeRemainingColumn(), transient=True) as bar:
        task = bar.add_task(label, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


@click.group()
def usage() -> None:
    """Usage records (CDRs): import them, re-rate them, purge old months."""


@usage.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--rejects",
    type=click.Path(path_type=Path),
    help="Rejects file (one file only; default NAME.rejects.csv beside the input).",
)
@click.option(
    "--max-rejects",
    type=int,
    default=DEFAULT_LIMITS.max_rejects,
    show_default=True,
    help="Stop (importing nothing) when more rows than this are rejected; 0: any reject.",
)
@click.option(
    "--max-line-length",
    type=int,
    default=DEFAULT_LIMITS.max_line_length,
    show_default=True,
    help="Reject a line longer than this many characters.",
)
@click.option(
    "--max-blank-lines",
    type=int,
    default=DEFAULT_LIMITS.max_blank_lines,
    show_default=True,
    help="Refuse a file with more empty lines than this.",
)
@json_option
@passes_state
def import_(
    ledger: Ledger,
    actor: str,
    files: tuple[Path, ...],
    rejects: Path | None,
    max_rejects: int,
    max_line_length: int,
    max_blank_lines: int,
    as_json: bool,
) -> None:
    """Import CDR FILES (CSV, optionally gzip). Each file is all-or-nothing."""
    if rejects and len(files) > 1:
        raise InvalidInput("--rejects names one file: import one CDR file at a time with it")
    limits = _limits(
        max_rejects=max_rejects, max_line_length=max_line_length, max_blank_lines=max_blank_lines
    )
    db = usage_database()
    summaries = []
    for path in files:
        with progress_bar(f"importing {path.name}", bytes_=True) as progress:
            summaries.append(
                import_cdrs(ledger, db, path, rejects=rejects, progress=progress, limits=limits)
            )
    if as_json:
        emit_json([s.as_dict() for s in summaries])
        return
    table(
        "CDR import",
        ["file", "batch", "rows", "new", "already imported", "rejected"],
        [
            [Path(s.file).name, s.batch, s.rows, s.inserted, s.duplicates, s.rejected]
            for s in summaries
        ],
    )
    for s in summaries:
        if s.same_file_imported_before or (s.inserted == 0 and s.duplicates):
            say(f"{Path(s.file).name}: already imported, nothing new added")
        if s.rejects_file:
            say(f"{s.rejected} rejected rows (line and reason) in {s.rejects_file}")


@usage.command("purge")
@click.option(
    "--before",
    "before",
    required=True,
    metavar="YYYY-MM",
    help="Remove the CDRs of every month before this one (UTC months).",
)
@click.option("--force", is_flag=True, help="Remove them even when not billed yet.")
@json_option
@passes_state
def purge(ledger: Ledger, actor: str, before: str, force: bool, as_json: bool) -> None:
    """Remove old CDRs: whole months before --before (PostgreSQL drops their partitions).

    Refuses (exit 1, nothing removed) when some of that usage is not billed by an invoice
    yet, unless --force."""
    month = Month.parse(before)
    report = purge_usage(ledger, usage_database(), month, force=force)
    if as_json:
        emit_json(report.as_dict())
        return
    if not report.months:
        say(f"no CDRs before {report.before}: nothing removed")
        return
    table(
        f"CDRs removed (before {report.before})",
        ["month", "CDRs"],
        [[label, count] for label, count in report.months],
    )
    say(f"{report.rows} CDRs of {len(report.months)} months removed")
    for unbilled in report.unbilled:
        say(f"not billed, removed anyway (--force): {unbilled.account}, {unbilled.calls} calls")


@usage.command("rerate")
@click.option("--rates", "card_path", required=True, type=click.Path(path_type=Path))
@click.option("--period", help="A month, e.g. 2026-10.")
@click.option("--from", "start", help="Period start (with --to).")
@click.option("--to", "end", help="Period end, inclusive.")
@click.option("--customer", "customers", multiple=True, help="Only this account (repeatable).")
@click.option("--apply", is_flag=True, help="Apply it (default: what-if, nothing changes).")
@json_option
@passes_state
def rerate_(
    ledger: Ledger,
    actor: str,
    card_path: Path,
    period: str | None,
    start: str | None,
    end: str | None,
    customers: tuple[str, ...],
    apply: bool,
    as_json: bool,
) -> None:
    """Re-rate the period's CDRs from a rate card (--rates CSV). What-if unless --apply."""
    billing_period = _period(period, start, end)
    card = load_rate_card(card_path)
    results = rerate(
        ledger,
        usage_database(),
        card,
        billing_period,
        customers=customers,
        apply=apply,
        actor=actor,
    )
    rows = [
        [
            r.account,
            r.currency,
            r.calls,
            r.unmatched,
            Decimal(r.old_micros).scaleb(-6),
            Decimal(r.new_micros).scaleb(-6),
            r.difference,
            "yes" if r.invoiced else "no",
            r.action + (f" {r.document}" if r.document else ""),
        ]
        for r in results
    ]
    if as_json:
        columns = ["account", "currency", "calls", "unmatched", "old", "new", "difference"]
        emit_json([dict(zip([*columns, "invoiced", "action"], row, strict=True)) for row in rows])
        return
    title = f"Re-rating {billing_period.label}" + ("" if apply else " (what-if: nothing changed)")
    table(
        title,
        [
            "customer",
            "cur",
            "calls",
            "no rate",
            "switch",
            "rate card",
            "difference",
            "invoiced",
            "action",
        ],
        rows,
    )


@click.command()
@click.option("--period", help="A month, e.g. 2026-10.")
@click.option("--from", "start", help="Period start (with --to), e.g. 2026-10-01.")
@click.option("--to", "end", help="Period end, inclusive.")
@click.option("--customer", "customers", multiple=True, help="Only this account (repeatable).")
@click.option("--dry-run", is_flag=True, help="Preview what would be invoiced; write nothing.")
@click.option("--issue", is_flag=True, help="Issue the run's draft invoices too.")
@click.option("--bill-late", is_flag=True, help="Bill late CDRs as supplementary invoices.")
@click.option(
    "--allow-overlap",
    is_flag=True,
    help="Bill package and usage periods another invoice already bills (reported either way).",
)
@json_option
@passes_state
def bill(
    ledger: Ledger,
    actor: str,
    period: str | None,
    start: str | None,
    end: str | None,
    customers: tuple[str, ...],
    dry_run: bool,
    issue: bool,
    bill_late: bool,
    allow_overlap: bool,
    as_json: bool,
) -> None:
    """Billing run: one invoice per customer with usage or packages in the period."""
    billing_period = _bill_period(
        period, start, end, dry_run=dry_run, issue=issue, bill_late=bill_late
    )
    report = _run_bill(
        ledger,
        actor,
        billing_period,
        customers,
        dry_run=dry_run,
        issue=issue,
        bill_late=bill_late,
        allow_overlap=allow_overlap,
    )
    if as_json:
        _emit_bill(billing_period, report, dry_run=dry_run)
    else:
        _show_bill(billing_period, report, dry_run=dry_run, bill_late=bill_late)
    _refused(report)


def _bill_period(
    period: str | None,
    start: str | None,
    end: str | None,
    *,
    dry_run: bool,
    issue: bool,
    bill_late: bool,
) -> Period:
    """The period to bill, once the options are known to go together."""
    billing_period = _period(period, start, end)
    if dry_run and (issue or bill_late):
        raise InvalidInput(
            "--dry-run writes nothing: it cannot be combined with --issue or --bill-late"
        )
    return billing_period


def _run_bill(
    ledger: Ledger,
    actor: str,
    billing_period: Period,
    customers: tuple[str, ...],
    *,
    dry_run: bool,
    issue: bool,
    bill_late: bool,
    allow_overlap: bool,
) -> BillingReport:
    """The billing run, with a progress bar on a terminal (one tick per invoice)."""
    db, events = usage_database(), ledger_database()
    with progress_bar("billing", bytes_=False) as progress:
        done = 0

        def tick(_: InvoiceResult) -> None:
            nonlocal done
            done += 1
            if progress:
                progress(done, done)

        return run_billing(
            ledger,
            db,
            billing_period,
            customers=customers,
            dry_run=dry_run,
            issue=issue,
            bill_late=bill_late,
            actor=actor,
            on_invoice=tick,
            allow_overlap=allow_overlap,
            ledger_db=events,
        )


def _emit_bill(billing_period: Period, report: BillingReport, *, dry_run: bool) -> None:
    emit_json(
        {
            "period": billing_period.label,
            "dry_run": dry_run,
            "through_batch": report.through_batch,
            "invoices": [r.as_dict() for r in report.results],
        }
    )


def _show_bill(
    billing_period: Period, report: BillingReport, *, dry_run: bool, bill_late: bool
) -> None:
    """The run's invoices, the previews of a dry run, the counts, and what was refused."""
    title = f"Billing run {billing_period.label}" + (
        " (dry run: nothing written)" if dry_run else ""
    )
    table(
        title,
        ["customer", "invoice", "kind", "action", "state", "lines", "net", "total", "late calls"],
        [
            [
                r.account,
                r.number or str(r.invoice_id)[:8],
                r.kind,
                r.action,
                r.state,
                r.line_count,
                r.net,
                r.total,
                r.late_calls or "",
            ]
            for r in report.results
        ],
    )
    if dry_run:
        _show_previews(report)
    say(
        f"{report.count('created')} created, {report.count('exists')} already there,"
        f" {report.count('would create')} to create, {report.count('refused')} refused"
        + _skipped_counts(report)
        + _carried_counts(report)
    )
    if report.late_calls and not bill_late:
        say(
            f"{report.late_calls} late calls in already invoiced periods:"
            " bill them with --bill-late (a supplementary invoice)"
        )
    _show_overlaps(report)
    if report.refused:
        table(
            "Refused: not billed (the ledger's limits, docs/money.md)",
            ["customer", "invoice", "code", "reason"],
            [[r.account, str(r.invoice_id)[:8], r.code, r.reason] for r in report.refused],
        )


def _skipped_counts(report: BillingReport) -> str:
    """How many invoices were left out, everything on them billed by another (or "")."""
    skipped = report.count("skipped")
    return f", {skipped} skipped (billed by another invoice)" if skipped else ""


def _carried_counts(report: BillingReport) -> str:
    """How many periods were carried forward, as the tail of the counts line (or "")."""
    carried = report.count("carried forward") + report.count("would carry forward")
    if not carried:
        return ""
    return f", {carried} carried forward (below the minimum invoice amount)"


def _show_overlaps(report: BillingReport) -> None:
    """What other invoices already bill of the period, and whether the run billed it anyway."""
    if not report.overlapping:
        return
    table(
        "Overlaps: billed by another invoice (docs/usage-billing.md#never-bill-twice)",
        ["customer", "invoice", "kind", "line", "from", "to", "billed by", "this run"],
        [
            [
                r.account,
                str(r.invoice_id)[:8],
                o.kind,
                o.description,
                o.period_start,
                o.period_end,
                o.number or str(o.invoice_id)[:8],
                "billed anyway" if r.overlap_billed else "left off",
            ]
            for r in report.overlapping
            for o in r.overlaps
        ],
    )
    if not any(r.overlap_billed for r in report.overlapping):
        say("bill overlapping periods anyway with --allow-overlap")


def _show_previews(report: BillingReport) -> None:
    """The lines each invoice of a dry run would have."""
    for r in report.results:
        if r.action == "would create":
            table(
                f"{r.account}: {r.kind} preview ({r.currency})",
                ["description", "qty", "unit", "unit price", "tax %"],
                [
                    [li.description, li.quantity, li.unit, li.unit_price, li.tax_rate]
                    for li in r.lines
                ],
            )


class SomeRefused(click.ClickException):
    """A billing run billed every customer it could and refused some: exit 1."""

    exit_code = 1
    code = "some_refused"


def _refused(report: BillingReport) -> None:
    refused = report.refused
    if refused:
        accounts = ", ".join(r.account for r in refused[:5]) + (", ..." if len(refused) > 5 else "")
        raise SomeRefused(
            f"{len(refused)} of {len(report.results)} invoices refused ({accounts}): the"
            " others were billed; put the cause right and run again (nothing is billed twice)"
        )


def _limits(**values: int) -> ImportLimits:
    for name, value in values.items():
        low, high = LIMIT_RANGES[name]
        if not low <= value <= high:
            option = "--" + name.replace("_", "-")
            raise InvalidInput(f"{option} must be between {low} and {high}, got {value}")
    return ImportLimits(**values)


def _period(period: str | None, start: str | None, end: str | None) -> Period:
    if period and (start or end):
        raise InvalidInput("give --period or --from/--to, not both")
    if period:
        return Period.month(period)
    first, last = date_arg(start, "period start"), date_arg(end, "period end")
    if first is None or last is None:
        raise InvalidInput("give --period YYYY-MM, or both --from and --to")
    return Period(first, last)
