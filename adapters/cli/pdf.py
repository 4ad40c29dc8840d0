"""``tollbook invoice pdf`` and ``tollbook credit-note pdf``: documents to send, as PDF files.

Attached to the existing ``invoice`` and ``credit-note`` groups when this module is imported.
The PDF adapter (fpdf2, fontTools, Pillow) is imported inside the commands, so that every other
command starts without it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import click
import structlog
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from adapters.cli.context import (
    console,
    emit_json,
    json_option,
    passes_state,
    say,
    state,
    table,
    timestamp_arg,
)
from adapters.cli.invoices import credit_note, invoice
from adapters.config import build_ledger
from adapters.ledger.application import Ledger
from domain.errors import InvalidInput

if TYPE_CHECKING:
    from adapters.pdf.batch import Batch, Written

log = structlog.get_logger("tollbook.pdf")


def _target(output: Path | None, label: str) -> Path:
    from adapters.pdf.batch import file_name

    if output is None:
        return Path(file_name(label))
    if output.is_dir():
        return output / file_name(label)
    return output


def _report(written: Written, as_json: bool) -> None:
    if as_json:
        emit_json(
            {
                "document": written.label,
                "path": str(written.path),
                "sha256": written.sha256,
                "pages": written.pages,
            }
        )
    else:
        say(f"wrote {written.summary()}")


@invoice.command("pdf")
@click.argument("invoice_ref", required=False)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="File to write (default NUMBER.pdf here); with --all, the directory.",
)
@click.option("--as-of", help="The invoice as it stood at this moment (ISO 8601 with zone).")
@click.option("--all", "all_", is_flag=True, help="Every invoice of --period.")
@click.option("--period", help="With --all: the month whose invoices to render, e.g. 2026-10.")
@click.option("--drafts", is_flag=True, help="With --all: include drafts.")
@click.option(
    "-j",
    "--jobs",
    "--workers",
    "jobs",
    type=click.IntRange(1, 64),
    help="With --all: worker processes (default: cores; at most 64; 1 renders in this process).",
)
@json_option
@passes_state
def invoice_pdf(
    ledger: Ledger,
    actor: str,
    invoice_ref: str | None,
    output: Path | None,
    as_of: str | None,
    all_: bool,
    period: str | None,
    drafts: bool,
    jobs: int | None,
    as_json: bool,
) -> None:
    """Write the PDF of INVOICE_REF, or of every invoice of a month with --all."""
    del actor
    if all_:
        if invoice_ref or as_of:
            raise InvalidInput("--all renders a whole period: give no invoice and no --as-of")
        if not period or output is None:
            raise InvalidInput("--all needs --period MONTH and -o DIRECTORY")
        _render_period(ledger, period, output, drafts, jobs, as_json)
        return
    if not invoice_ref:
        raise InvalidInput("give an invoice number or id, or --all --period MONTH -o DIRECTORY")
    if period or drafts or jobs:
        raise InvalidInput("--period, --drafts and --jobs/--workers go with --all")
    from adapters.pdf.batch import Written, write_atomically
    from adapters.pdf.config import PdfConfig
    from adapters.pdf.render import render
    from adapters.pdf.sources import invoice_source

    config = PdfConfig.from_env()
    invoice_id = ledger.invoice_id(invoice_ref)
    document = invoice_source(ledger, invoice_id, at=timestamp_arg(as_of))
    rendered = render(document, config)
    label = document.reference if document.mark != "DRAFT" else f"draft-{invoice_id}"
    path = _target(output, label)
    digest = write_atomically(path, rendered.pdf)
    log.info(
        "pdf written", aggregate_id=str(invoice_id), path=str(path), sha256=digest, as_of=as_of
    )
    _report(Written(label, path, digest, rendered.page_count), as_json)


def _render_period(
    ledger: Ledger, period: str, directory: Path, drafts: bool, jobs: int | None, as_json: bool
) -> None:
    from adapters.pdf.batch import invoice_ids_for, render_all

    if directory.exists() and not directory.is_dir():
        raise InvalidInput(f"{directory} is not a directory")
    started = time.perf_counter()
    chosen = invoice_ids_for(ledger, period, drafts=drafts)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, disable=as_json or not console.is_terminal) as bar:
        task = bar.add_task(f"PDFs for {period}", total=len(chosen))
        batch = render_all(
            ledger,
            state().database_url,
            chosen,
            directory,
            jobs=jobs,
            open_ledger=build_ledger,
            done=lambda _: bar.advance(task),
        )
    written = batch.written
    log.info(
        "pdf batch written",
        period=period,
        documents=len(written),
        failed=len(batch.failed),
        directory=str(directory),
        seconds=round(time.perf_counter() - started, 2),
    )
    _report_batch(period, directory, batch, as_json)
    if batch.failed:
        first = batch.failed[0]
        raise SomeFailed(
            f"{len(batch.failed)} of {len(chosen)} PDFs failed (first: invoice"
            f" {first.invoice_id}: {first.error}); the other {len(written)} are written and"
            f" in {directory / 'SHA256SUMS'}"
        )


class SomeFailed(click.ClickException):
    """A batch wrote every PDF it could and failed some: exit 1."""

    exit_code = 1
    code = "some_failed"


def _report_batch(period: str, directory: Path, batch: Batch, as_json: bool) -> None:
    written = batch.written
    for failure in batch.failed:  # one line each on stderr, whatever the output format
        click.echo(f"failed: invoice {failure.invoice_id}: {failure.error}", err=True)
    if as_json:
        emit_json(
            [
                {"document": w.label, "path": str(w.path), "sha256": w.sha256, "pages": w.pages}
                for w in written
            ]
        )
        return
    table(
        f"PDFs for {period} in {directory}",
        ["document", "file", "pages", "sha256"],
        [[w.label, w.path.name, w.pages, w.sha256] for w in written],
    )
    say(f"{len(written)} PDFs; checksums in {directory / 'SHA256SUMS'} (sha256sum -c SHA256SUMS)")


@credit_note.command("pdf")
@click.argument("ref")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="File or directory to write (default NUMBER.pdf here).",
)
@json_option
@passes_state
def credit_note_pdf(
    ledger: Ledger, actor: str, ref: str, output: Path | None, as_json: bool
) -> None:
    """Write the PDF of credit note REF (number or id)."""
    from adapters.pdf.batch import Written, write_atomically
    from adapters.pdf.config import PdfConfig
    from adapters.pdf.render import render
    from adapters.pdf.sources import credit_note_source

    del actor
    document = credit_note_source(ledger, ref)
    rendered = render(document, PdfConfig.from_env())
    path = _target(output, document.reference)
    digest = write_atomically(path, rendered.pdf)
    log.info("pdf written", credit_note=document.reference, path=str(path), sha256=digest)
    _report(Written(document.reference, path, digest, rendered.page_count), as_json)
