"""Bulk actions on the invoice list: issue the selected drafts, e-mail the selected invoices,
or download their PDFs as one zip (docs/portal.md, "Bulk actions").

Each selected invoice is handled on its own: a refusal, a missing invoice or an unexpected
failure is reported on its row and the others go on. A re-post of the same form changes nothing
more: an invoice already issued is skipped, and a send re-uses the send request of the list
page the form came from (its ``batch``), which the ledger answers ``already-sent``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal
from uuid import UUID

import structlog
from fastapi import APIRouter, Request, Response

from adapters.config_error import ConfigError
from adapters.ledger.application import Ledger
from adapters.portal.web import (
    PREFIX,
    CheckedForm,
    PortalDep,
    PortalRoute,
    Viewer,
    actor_of,
    editing_session,
    error_page,
    render,
)
from domain import limits
from domain.errors import BillingError, NotFound

log = structlog.get_logger("tollbook.portal")
router = APIRouter(prefix=PREFIX, route_class=PortalRoute, include_in_schema=False)

Action = Literal["issue", "send", "zip"]
ACTIONS: dict[str, str] = {"issue": "Issue", "send": "Send by e-mail", "zip": "Download PDFs"}
#: the list page's token for one form: the send request key of every invoice it sends
BATCH = re.compile(r"^[0-9a-f]{32}$")
#: the file in a zip that names the invoices left out of it, and why
NOT_INCLUDED = "NOT-INCLUDED.txt"


@dataclass(frozen=True)
class Result:
    """What happened to one selected invoice."""

    ref: str  # as posted
    label: str  # the invoice's number, "draft <id>", or the posted value (shortened)
    outcome: str  # issued, refused, skipped, sent, already-sent, failed, included, not found
    detail: str = ""
    invoice_id: str | None = None


@router.post("/invoices/bulk")
def bulk(request: Request, portal: PortalDep, session: Viewer, form: CheckedForm) -> Response:
    action = form.get("action")
    if action not in ACTIONS:
        return error_page(request, 422, "Bulk action", "choose issue, send or download")
    if action != "zip":
        editing_session(session)  # auditors may download, never issue or send
    refs = list(dict.fromkeys(v for v in form.getlist("invoice") if isinstance(v, str)))
    if not refs:
        return error_page(request, 422, "Bulk action", "select at least one invoice")
    try:
        limits.check_count(
            len(refs), limits.MAX_BULK_INVOICES, what="invoices in one bulk action",
            field="invoice",
        )  # fmt: skip
    except BillingError as error:
        return error_page(request, 422, "Bulk action", f"{error}: select fewer and repeat")
    ledger = portal.services.ledger
    actor = actor_of(session)
    if action == "issue":
        results = _each(ledger, refs, lambda invoice_id: _issue(ledger, invoice_id, actor))
    elif action == "send":
        batch = form.get("batch")
        if not isinstance(batch, str) or not BATCH.match(batch):
            return error_page(request, 422, "Bulk action", "this form is out of date: reload")
        try:
            from adapters.mail.config import SmtpConfig

            SmtpConfig.from_env(os.environ)
        except ConfigError as error:
            return error_page(request, 503, "E-mail is not configured", str(error))
        key = f"portal-{batch}"
        results = _each(ledger, refs, lambda invoice_id: _send(ledger, invoice_id, actor, key))
    else:
        return _zip(request, ledger, refs)
    log.info("portal bulk action", action=action, actor=actor, invoices=len(results),
             outcomes=sorted({r.outcome for r in results}))  # fmt: skip
    return _results_page(request, str(action), results)


def _results_page(request: Request, action: str, results: list[Result]) -> Response:
    counts: dict[str, int] = {}
    for result in results:
        counts[result.outcome] = counts.get(result.outcome, 0) + 1
    return render(
        request,
        "bulk_result.html",
        {"action": ACTIONS[action], "results": results, "counts": counts},
    )


def _each(ledger: Ledger, refs: list[str], act: Callable[[UUID], Result]) -> list[Result]:
    """``act`` on every selected invoice; whatever one does never stops the next."""
    results = []
    for ref in refs:
        try:
            invoice_id = _invoice_id(ledger, ref)
        except LookupError as missing:
            results.append(Result(ref, _shown(ref), "not found", str(missing)))
            continue
        try:
            results.append(act(invoice_id))
        except Exception:  # ours, not the user's: logged; the other invoices go on
            log.exception("portal bulk action failed", aggregate_id=str(invoice_id))
            label = ledger.invoice(invoice_id).label
            results.append(Result(ref, label, "failed", "an unexpected error (logged)",
                                  str(invoice_id)))  # fmt: skip
    return results


def _invoice_id(ledger: Ledger, ref: str) -> UUID:
    """The invoice a checkbox names (its id); a value the list never hands out is not found."""
    try:
        invoice_id = UUID(ref)
    except ValueError:
        raise LookupError("not an invoice id") from None
    try:
        return ledger.invoice(invoice_id).id
    except NotFound:
        raise LookupError("no such invoice") from None


def _shown(ref: str) -> str:
    """A posted value fit to show on the page and in a zip's text file (one printable line)."""
    return "".join(c if c.isprintable() else "?" for c in ref[:40])


def _label(ledger: Ledger, invoice_id: UUID) -> str:
    invoice = ledger.invoice(invoice_id)
    return invoice.number or f"Draft {str(invoice.id)[:8]}"


def _issue(ledger: Ledger, invoice_id: UUID, actor: str) -> Result:
    invoice = ledger.invoice(invoice_id)
    ref = str(invoice_id)
    if invoice.state != "draft":
        return Result(ref, _label(ledger, invoice_id), "skipped",
                      f"not a draft: {invoice.state}", ref)  # fmt: skip
    try:
        number = ledger.issue_invoice(invoice_id, actor)
    except BillingError as error:
        now = ledger.invoice(invoice_id)
        if now.state != "draft":  # issued by someone else meanwhile (a double post)
            return Result(ref, _label(ledger, invoice_id), "skipped",
                          f"not a draft: {now.state}", ref)  # fmt: skip
        return Result(ref, _label(ledger, invoice_id), "refused", str(error), ref)
    return Result(ref, number, "issued", f"issued as {number}", ref)


def _send(ledger: Ledger, invoice_id: UUID, actor: str, key: str) -> Result:
    from adapters.mail.sending import request_send

    ref = str(invoice_id)
    try:
        outcome = request_send(ledger, invoice_id, actor, os.environ, key=key)
    except BillingError as error:
        return Result(ref, _label(ledger, invoice_id), "refused", str(error), ref)
    to = ", ".join(outcome.prepared.delivery.recipients)
    if outcome.status == "failed":
        at = outcome.retry_at
        retry = f"; tried again from {at:%Y-%m-%d %H:%M} UTC" if at else "; given up"
        detail = f"not sent: {outcome.error}{retry}"
    elif outcome.status == "already-sent":
        detail = "this request was sent already: nothing sent again"
    else:
        refused = f" (refused: {', '.join(outcome.refused)})" if outcome.refused else ""
        detail = f"to {to}{refused}"
    return Result(ref, _label(ledger, invoice_id), outcome.status, detail, ref)


def _zip(request: Request, ledger: Ledger, refs: list[str]) -> Response:
    """One zip of the selected invoices' PDFs, the bytes ``invoice pdf`` writes; the invoices
    left out (not found, failed) are named in NOT-INCLUDED.txt inside it."""
    from adapters.app.einvoices import invoice_download
    from adapters.pdf.archive import deterministic_zip
    from adapters.pdf.batch import file_name

    files: dict[str, bytes] = {}
    results = []

    def add(invoice_id: UUID) -> Result:
        label = _label(ledger, invoice_id)
        name = file_name(ledger.invoice(invoice_id).number or f"draft-{str(invoice_id)[:8]}")
        files[name] = invoice_download(ledger, str(invoice_id)).content
        return Result(str(invoice_id), label, "included", name, str(invoice_id))

    results = _each(ledger, refs, add)
    if not files:
        return _results_page(request, "zip", results)
    left_out = [r for r in results if r.outcome != "included"]
    if left_out:
        files[NOT_INCLUDED] = "".join(
            f"{r.label}\t{r.outcome}: {r.detail}\r\n" for r in left_out
        ).encode()
    log.info("portal bulk action", action="zip", invoices=len(results), left_out=len(left_out))
    return Response(
        deterministic_zip(files),
        media_type="application/zip",
        headers={"Content-Disposition": 'attachment; filename="invoices.zip"'},
    )
