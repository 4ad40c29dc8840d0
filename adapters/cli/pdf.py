"""``tollbook invoice pdf`` and ``tollbook credit-note pdf``: documents to send, as PDF files.

Attached to the existing ``invoice`` and ``credit-note`` groups when this module is imported.
The PDF adapter (fpdf2, fontTools, Pillow) is imported inside the commands, so that every other
command starts without it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
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
    table,
    timestamp_arg,
)
from adapters.cli.invoices import credit_note, invoice
from adapters.ledger.application import Ledger
from domain.errors import InvalidInput

if TYPE_CHECKING:
    from pyhanko.sign.signers import Signer

    from adapters.einvoice.verify import Verdict
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


def sign_option(command: Callable[..., None]) -> Callable[..., None]:
    """``--sign/--no-sign``: sign with the configured seller key (default: when one is)."""
    return click.option(
        "--sign/--no-sign",
        "sign",
        default=None,
        help="PAdES-sign with the seller's key (TOLLBOOK_SIGNING_*; default: when configured).",
    )(command)


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
    help="With --all: processes rendering, this one and N-1 workers (default: cores; at most 64).",
)
@click.option(
    "--factur-x",
    "factur_x",
    is_flag=True,
    help="An EN 16931 e-invoice: PDF/A-3 with the CII XML embedded (issued invoices).",
)
@sign_option
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
    factur_x: bool,
    sign: bool | None,
    as_json: bool,
) -> None:
    """Write the PDF of INVOICE_REF, or of every invoice of a month with --all."""
    del actor
    if all_:
        if invoice_ref or as_of or factur_x or sign:
            raise InvalidInput(
                "--all renders a whole period: give no invoice, --as-of, --factur-x or --sign"
            )
        if not period or output is None:
            raise InvalidInput("--all needs --period MONTH and -o DIRECTORY")
        _render_period(ledger, period, output, drafts, jobs, as_json)
        return
    if not invoice_ref:
        raise InvalidInput("give an invoice number or id, or --all --period MONTH -o DIRECTORY")
    if period or drafts or jobs:
        raise InvalidInput("--period, --drafts and --jobs/--workers go with --all")
    from adapters.einvoice.sources import invoice_facturx
    from adapters.pdf.batch import Written, write_atomically
    from adapters.pdf.config import PdfConfig
    from adapters.pdf.render import render
    from adapters.pdf.sources import invoice_source

    config = PdfConfig.from_env()
    signer = _signer(sign)  # a configuration error stops us before anything is rendered
    invoice_id = ledger.invoice_id(invoice_ref)
    at = timestamp_arg(as_of)
    if factur_x:
        made = invoice_facturx(ledger, invoice_id, config, at=at)
        document, pdf, pages = made.document, made.pdf, made.pages
    else:
        document = invoice_source(ledger, invoice_id, at=at)
        rendered = render(document, config)
        pdf, pages = rendered.pdf, rendered.page_count
    label = document.reference if document.mark != "DRAFT" else f"draft-{invoice_id}"
    path = _target(output, label)
    digest = write_atomically(path, _signed(pdf, signer, ledger))
    log.info(
        "pdf written",
        aggregate_id=str(invoice_id),
        path=str(path),
        sha256=digest,
        as_of=as_of,
        factur_x=factur_x,
        signed=signer is not None,
    )
    _report(Written(label, path, digest, pages), as_json)


def _signer(sign: bool | None) -> Signer | None:
    """The configured signer when the command signs; --sign without a key is an error."""
    from adapters.config_error import ConfigError
    from adapters.einvoice.signing import SigningConfig

    if sign is False:
        return None
    config = SigningConfig.from_env()
    if config is None:
        if sign:
            raise ConfigError(
                "--sign needs a signing key: set TOLLBOOK_SIGNING_PKCS12 (or"
                " TOLLBOOK_SIGNING_KEY and TOLLBOOK_SIGNING_CERT) and TOLLBOOK_SIGNING_PASSPHRASE"
            )
        return None
    return config.signer()


def _signed(pdf: bytes, signer: Signer | None, ledger: Ledger) -> bytes:
    """The PDF, PAdES-signed at the ledger's clock when there is a signer."""
    if signer is None:
        return pdf
    from adapters.einvoice.signing import sign

    return sign(pdf, signer, ledger.clock())


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
        batch = render_all(ledger, chosen, directory, jobs=jobs, done=lambda _: bar.advance(task))
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
@click.option(
    "--factur-x",
    "factur_x",
    is_flag=True,
    help="An EN 16931 e-invoice (type 381): PDF/A-3 with the CII XML embedded.",
)
@sign_option
@json_option
@passes_state
def credit_note_pdf(
    ledger: Ledger,
    actor: str,
    ref: str,
    output: Path | None,
    factur_x: bool,
    sign: bool | None,
    as_json: bool,
) -> None:
    """Write the PDF of credit note REF (number or id)."""
    from adapters.einvoice.sources import credit_note_facturx
    from adapters.pdf.batch import Written, write_atomically
    from adapters.pdf.config import PdfConfig
    from adapters.pdf.render import render
    from adapters.pdf.sources import credit_note_source

    del actor
    config = PdfConfig.from_env()
    signer = _signer(sign)
    if factur_x:
        made = credit_note_facturx(ledger, ref, config)
        document, pdf, pages = made.document, made.pdf, made.pages
    else:
        document = credit_note_source(ledger, ref)
        rendered = render(document, config)
        pdf, pages = rendered.pdf, rendered.page_count
    path = _target(output, document.reference)
    digest = write_atomically(path, _signed(pdf, signer, ledger))
    log.info(
        "pdf written",
        credit_note=document.reference,
        path=str(path),
        sha256=digest,
        factur_x=factur_x,
        signed=signer is not None,
    )
    _report(Written(document.reference, path, digest, pages), as_json)


class VerificationFailed(click.ClickException):
    """verify-pdf: the signature is broken or the content is not the ledger's: exit 1."""

    exit_code = 1
    code = "verification_failed"


class Unsigned(click.ClickException):
    """verify-pdf: the content is the ledger's but the file carries no signature: exit 6."""

    exit_code = 6
    code = "unsigned"


@invoice.command("verify-pdf")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@json_option
@passes_state
def verify_pdf(ledger: Ledger, actor: str, file: Path, as_json: bool) -> None:
    """Check a PDF's signature and that it is the ledger's invoice or credit note."""
    from adapters.einvoice.signing import SigningConfig
    from adapters.einvoice.verify import MAX_FILE_BYTES, verify
    from adapters.pdf.config import PdfConfig

    del actor
    data = _read_limited(file, MAX_FILE_BYTES)
    config = SigningConfig.from_env()
    seller = config.certificate() if config is not None else None
    verdict = verify(data, ledger, PdfConfig.from_env(), seller)
    log.info("pdf verified", file=str(file), outcome=verdict.outcome)
    if as_json:
        emit_json(verdict_doc(verdict))
    else:
        for line in verdict_lines(verdict):
            say(line)
    if verdict.outcome == "failed":
        raise VerificationFailed(f"{file}: verification failed")
    if verdict.outcome == "unsigned":
        raise Unsigned(f"{file}: unsigned (the content is the ledger's)")


def _read_limited(file: Path, limit: int) -> bytes:
    try:
        with file.open("rb") as handle:
            data = handle.read(limit + 1)
    except FileNotFoundError:
        raise InvalidInput(f"{file} does not exist", field="file") from None
    except OSError as error:
        raise InvalidInput(f"{file} cannot be read: {error.strerror}", field="file") from None
    return data


def verdict_doc(verdict: Verdict) -> dict[str, object]:
    sig, led = verdict.signature, verdict.ledger
    return {
        "verdict": verdict.outcome,
        "factur_x": verdict.factur_x,
        "signature": {
            "status": sig.status,
            "signer": sig.signer or None,
            "certificate_sha256": sig.fingerprint or None,
            "seller_certificate": sig.seller_certificate,
            "signed_at": sig.signed_at.isoformat() if sig.signed_at else None,
            "problem": sig.problem or None,
        },
        "ledger": {
            "status": led.status,
            "document": led.kind or None,
            "number": led.number or None,
            "as_of": led.as_of.isoformat() if led.as_of else None,
            "problem": led.problem or None,
        },
    }


def verdict_lines(verdict: Verdict) -> list[str]:
    sig, led = verdict.signature, verdict.ledger
    if sig.status == "unsigned":
        signature = "signature: unsigned (the file carries no signature)"
    elif sig.status == "broken":
        signature = f"signature: BROKEN — {sig.problem}"
    else:
        whose = {
            True: "the seller's configured certificate",
            False: "NOT the seller's configured certificate",
            None: "no seller certificate configured to compare",
        }[sig.seller_certificate]
        signature = (
            f"signature: intact, signed by {sig.signer} (certificate SHA-256"
            f" {sig.fingerprint}; {whose})"
        )
    name = f"{led.kind.replace('_', ' ')} {led.number}".strip()
    ledger_line = {
        "current": f"ledger: matches {name} as it stands now",
        "earlier": f"ledger: matches {name} as it stood at {led.as_of}, not as it stands now",
        "mismatch": f"ledger: DOES NOT match {name}: {led.problem}",
        "unknown": f"ledger: unknown document: {led.problem}",
    }[led.status]
    kind = "Factur-X e-invoice" if verdict.factur_x else "PDF"
    return [f"{kind}: {verdict.outcome}", signature, ledger_line]
