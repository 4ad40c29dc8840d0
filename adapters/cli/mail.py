"""``tollbook invoice send`` and ``tollbook invoice retry-sends``: invoices by e-mail
(docs/email.md). Registered lazily in adapters/cli/registry.py."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import click

from adapters.cli.context import emit_json, json_option, passes_state, say
from adapters.ledger.application import Ledger

if TYPE_CHECKING:
    from adapters.mail.sending import Outcome, Prepared


def _doc(prepared: Prepared, status: str) -> dict[str, object]:
    delivery = prepared.delivery
    return {
        "status": status,
        "invoice_id": str(prepared.invoice_id),
        "send_id": str(delivery.send_id),
        "message_id": delivery.message_id,
        "from": prepared.message["From"],
        "to": list(delivery.recipients),
        "subject": prepared.subject,
        "attachment": delivery.attachment_name,
        "attachment_size": prepared.attachment_size,
        "attachment_sha256": delivery.attachment_sha256,
    }


def _report(outcome: Outcome, as_json: bool) -> None:
    doc = _doc(outcome.prepared, outcome.status) | {
        "refused": list(outcome.refused),
        "error": outcome.error,
        "retry_at": outcome.retry_at.isoformat() if outcome.retry_at else None,
    }
    if as_json:
        emit_json(doc)
    elif outcome.status == "failed":
        retry = f"; retry after {doc['retry_at']}" if outcome.retry_at else "; given up"
        say(f"[red]not sent[/red]: {outcome.error}{retry}")
    else:
        say(f"{outcome.status} {doc['message_id']} to {', '.join(doc['to'])}")  # type: ignore[arg-type]


@click.command("send")
@click.argument("invoice_ref")
@click.option(
    "--to", "to", help="Send to these addresses (comma-separated) instead of the customer's."
)
@click.option("--key", help="Names the send request: the same key never sends twice.")
@click.option(
    "--dry-run", is_flag=True, help="Show recipients, subject and attachment; send nothing."
)
@json_option
@passes_state
def invoice_send(
    ledger: Ledger, actor: str, invoice_ref: str, to: str | None, key: str | None,
    dry_run: bool, as_json: bool,
) -> None:  # fmt: skip
    """E-mail an issued invoice with its PDF attached (SMTP: TOLLBOOK_SMTP_*)."""
    from adapters.mail.config import SmtpConfig
    from adapters.mail.sending import prepare_invoice, send

    config = SmtpConfig.from_env(os.environ)
    prepared = prepare_invoice(ledger, invoice_ref, config, os.environ, to=to, key=key)
    if dry_run:
        doc = _doc(prepared, "dry-run")
        emit_json(doc) if as_json else say(
            f"would send to {', '.join(prepared.delivery.recipients)}: {prepared.subject!r},"
            f" {prepared.delivery.attachment_name} ({prepared.attachment_size} bytes)"
        )
        return
    outcome = send(ledger, prepared, config, actor)
    _report(outcome, as_json)
    if outcome.status == "failed":
        raise SystemExit(1)


@click.command("retry-sends")
@json_option
@passes_state
def invoice_retry_sends(ledger: Ledger, actor: str, as_json: bool) -> None:
    """Attempt again every failed invoice e-mail whose back-off has passed."""
    from adapters.mail.config import SmtpConfig
    from adapters.mail.sending import retry_due

    outcomes = retry_due(ledger, SmtpConfig.from_env(os.environ), os.environ, actor)
    if as_json:
        emit_json([_doc(o.prepared, o.status) | {"error": o.error} for o in outcomes])
        return
    for outcome in outcomes:
        _report(outcome, False)
    say(f"{len(outcomes)} send(s) retried")
