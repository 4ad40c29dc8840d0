"""``tollbook invoice send`` and ``tollbook invoice retry-sends``: invoices by e-mail
(docs/email.md). Registered lazily in adapters/cli/registry.py."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from adapters.cli.context import emit_json, json_option, passes_state, say
from adapters.ledger.application import Ledger

if TYPE_CHECKING:
    from adapters.mail.sending import Outcome


def _report(outcome: Outcome, as_json: bool) -> None:
    from adapters.mail.sending import outcome_doc

    doc = outcome_doc(outcome)
    to = ", ".join(outcome.prepared.delivery.recipients)
    if as_json:
        emit_json(doc)
    elif outcome.status == "dry-run":
        say(
            f"would send from {doc['sender']} to {to}: {doc['subject']!r},"
            f" attachment {doc['attachment']} ({doc['attachment_size']} bytes)"
        )
    elif outcome.status == "failed":
        retry = f"; retry after {doc['retry_at']}" if outcome.retry_at else "; given up"
        say(f"[red]not sent[/red]: {outcome.error}{retry}")
    else:
        refused = f" (refused: {', '.join(outcome.refused)})" if outcome.refused else ""
        say(f"{outcome.status} {doc['message_id']} to {to}{refused}")


def _send_options(command: Callable[..., None]) -> Callable[..., None]:
    """What both send commands take: --to, --key, --dry-run, --json (and the ledger, actor)."""
    for option in reversed(
        (
            click.option(
                "--to", help="Send to these addresses (comma-separated), not the customer's."
            ),
            click.option("--key", help="Names the send request: the same key never sends twice."),
            click.option(
                "--dry-run",
                is_flag=True,
                help="Show recipients, subject, attachment; send nothing.",
            ),
            json_option,
        )
    ):
        command = option(command)
    return passes_state(command)


def finish_send(outcome: Outcome, as_json: bool) -> None:
    _report(outcome, as_json)
    if outcome.status == "failed":
        raise SystemExit(1)  # recorded as SendFailed; retry-sends tries again


@click.command("send")
@click.argument("invoice_ref")
@_send_options
def invoice_send(
    ledger: Ledger, actor: str, invoice_ref: str, to: str | None, key: str | None,
    dry_run: bool, as_json: bool,
) -> None:  # fmt: skip
    """E-mail an issued invoice with its PDF attached (SMTP: TOLLBOOK_SMTP_*)."""
    from adapters.mail.sending import request_send

    finish_send(
        request_send(ledger, invoice_ref, actor, os.environ, to=to, key=key, dry_run=dry_run),
        as_json,
    )


@click.command("send")
@click.argument("note_ref")
@_send_options
def credit_note_send(
    ledger: Ledger, actor: str, note_ref: str, to: str | None, key: str | None,
    dry_run: bool, as_json: bool,
) -> None:  # fmt: skip
    """E-mail a credit note with its PDF attached (SMTP: TOLLBOOK_SMTP_*)."""
    from adapters.mail.sending import request_send

    outcome = request_send(
        ledger, note_ref, actor, os.environ, to=to, key=key, dry_run=dry_run, kind="credit_note"
    )
    finish_send(outcome, as_json)


@click.command("retry-sends")
@json_option
@passes_state
def invoice_retry_sends(ledger: Ledger, actor: str, as_json: bool) -> None:
    """Attempt again every failed invoice, credit-note or statement e-mail whose back-off has
    passed."""
    from adapters.mail.config import SmtpConfig
    from adapters.mail.sending import outcome_doc, retry_due

    outcomes = retry_due(ledger, SmtpConfig.from_env(os.environ), os.environ, actor)
    if as_json:
        emit_json([outcome_doc(outcome) for outcome in outcomes])
        return
    for outcome in outcomes:
        _report(outcome, False)
    say(f"{len(outcomes)} send(s) retried")


@click.command("remind")
@click.option(
    "--dry-run", is_flag=True, help="Show the reminders that are due in a table; send nothing."
)
@click.option(
    "--as-of",
    help="Run as on this date (YYYY-MM-DD) for every customer: a day missed, or with --dry-run"
    " a day to come. Default: each customer's own today, in its time zone.",
)
@json_option
@passes_state
def invoice_remind(
    ledger: Ledger, actor: str, dry_run: bool, as_of: str | None, as_json: bool
) -> None:
    """Dunning run: e-mail each open invoice the reminder its customer's schedule has due."""
    from adapters.cli.context import date_arg, table
    from adapters.mail.reminders import run

    reminders = run(ledger, os.environ, actor, as_of=date_arg(as_of, "as-of date"), dry_run=dry_run)
    if as_json:
        emit_json([reminder.doc() for reminder in reminders])
    else:
        rows = [
            (r.number, r.account, r.stage, r.due_date, f"{r.outstanding} {r.currency}",
             ", ".join(r.recipients), r.status if r.status != "failed" else f"failed: {r.error}")
            for r in reminders
        ]  # fmt: skip
        title = "Reminders due (dry run: nothing sent)" if dry_run else "Reminders"
        if rows:
            columns = ("invoice", "customer", "stage", "due", "outstanding", "to", "status")
            table(title, columns, rows)
        say(f"{len(reminders)} reminder(s) {'due' if dry_run else 'processed'}")
    if any(r.status == "failed" for r in reminders):
        raise SystemExit(1)  # recorded as Invoice.ReminderFailed; the next run tries again
