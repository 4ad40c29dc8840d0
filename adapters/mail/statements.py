"""Sending a statement of account by e-mail with its PDF attached (docs/statements.md).

The same message rules as invoices (adapters/mail/sending.py): the customer's billing
addresses unless others are given, jinja2 templates (``statement_subject.txt``,
``statement_body.txt``), a Message-ID derived from the send request's id. The request is the
customer, the period, the currency and a key (default: none), so sending the same period again
answers ``already-sent`` and sends nothing; ``Customer.StatementSent`` is recorded only after the
server accepted the message, ``Customer.StatementSendFailed`` when it did not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from uuid import UUID

import structlog

from adapters.einvoice.signing import sign_if_configured
from adapters.ledger.application import Ledger
from adapters.mail import templates
from adapters.mail.config import SmtpConfig
from adapters.mail.sending import BACKOFF, Outcome, Prepared, compose, recipients_for
from adapters.mail.smtp import SendError, deliver
from adapters.pdf.statement import render_statement, section_of
from adapters.queries import queries_for
from adapters.queries.statements import Section, Statement, statement
from domain import limits
from domain.customer import Customer
from domain.errors import InvalidInput
from domain.money import round_to_currency
from domain.statement import StatementDelivery, StatementFailure, StatementPeriod

log = structlog.get_logger("tollbook.mail")


def prepare_statement(
    ledger: Ledger,
    found: Statement,
    config: SmtpConfig,
    env: Mapping[str, str],
    *,
    currency: str | None = None,
    to: str | tuple[str, ...] | None = None,
    key: str | None = None,
    send_id: UUID | None = None,
) -> tuple[Prepared, StatementPeriod]:
    """The message of one statement send request (``send_id``: a failed request tried again,
    else the one ``key`` names); nothing is written."""
    section = section_of(ledger, found, currency)
    period = StatementPeriod(
        period_from=found.start, period_to=found.end, currency=section.currency
    ).check()
    if key is not None:
        limits.check_text(key, limits.IDEMPOTENCY_KEY, field="key")
        if not key.strip():
            raise InvalidInput("the send key is empty", field="key")
    customer = ledger.customer(found.customer_id)
    recipients = recipients_for(
        ledger,
        customer.id,
        found.customer_account,
        to,
        field="recipients",
        option="--recipients, or `recipients` over HTTP",
    )
    if send_id is None:
        send_id = period.send_id(customer.id, key or "")
    attachment_name, unsigned = render_statement(ledger, found, section.currency)
    pdf = sign_if_configured(unsigned, ledger.clock())
    settings = ledger.settings()
    values = _values(found, section, customer.profile_on(found.end).name, settings.company_name)
    subject, body = templates.render(templates.environment(env), "statement", values)
    delivery, message = compose(
        ledger, config, send_id, recipients, (subject, body), (attachment_name, pdf)
    )
    prepared = Prepared(customer.id, delivery, subject, message, len(pdf), "statement")
    return prepared, period


def _values(found: Statement, section: Section, customer: str, seller: str) -> dict[str, str]:
    """What the statement templates see (docs/statements.md, "By e-mail")."""
    cur = section.currency

    def money(value: object) -> str:
        return str(round_to_currency(value, cur))  # type: ignore[arg-type]

    return {
        "customer_name": customer,
        "customer_account": found.customer_account,
        "seller_name": seller,
        "period_from": found.start.isoformat(),
        "period_to": found.end.isoformat(),
        "currency": cur,
        "opening_balance": money(section.opening),
        "closing_balance": money(section.closing),
        "owed_on_invoices": money(section.owed),
        "credit_on_account": money(section.closing_credit),
    }


def send_statement(
    ledger: Ledger,
    prepared: Prepared,
    period: StatementPeriod,
    config: SmtpConfig,
    actor: str,
    attempt: int = 1,
) -> Outcome:
    """Hand the message to the server unless this request was already sent; record the result
    (a failure with when to try again, as invoices' sends: :data:`BACKOFF`)."""
    customer_id: UUID = prepared.document_id
    send_id = prepared.delivery.send_id
    bound = log.bind(aggregate_id=str(customer_id), send_id=str(send_id))
    if ledger.customer(customer_id).statement_send_state(send_id) == "sent":
        bound.info("statement send skipped: already sent")
        return Outcome(prepared, "already-sent")
    try:
        refused = deliver(config, prepared.message, prepared.delivery.recipients)
    except SendError as error:
        retry_at = ledger.clock() + BACKOFF[attempt - 1] if attempt <= len(BACKOFF) else None
        failure = StatementFailure(
            period=period,
            delivery=prepared.delivery,
            error=str(error),
            attempt=attempt,
            retry_at=retry_at,
        )
        ledger.record_statement_send_failed(customer_id, actor, failure)
        bound.warning("statement send failed", event_type="Customer.StatementSendFailed",
                      attempt=attempt, error=str(error), retry_at=retry_at)  # fmt: skip
        return Outcome(prepared, "failed", error=str(error), retry_at=retry_at)
    accepted = tuple(r for r in prepared.delivery.recipients if r not in refused)
    delivery = prepared.delivery.model_copy(update={"recipients": accepted, "refused": refused})
    ledger.record_statement_sent(
        customer_id, actor, StatementDelivery(period=period, delivery=delivery)
    )
    bound.info("statement sent", event_type="Customer.StatementSent", recipients=accepted,
               refused=refused)  # fmt: skip
    return Outcome(replace(prepared, delivery=delivery), "sent", refused=refused)


def request_statement_send(
    ledger: Ledger,
    found: Statement,
    actor: str,
    env: Mapping[str, str],
    *,
    currency: str | None = None,
    to: str | tuple[str, ...] | None = None,
    key: str | None = None,
    dry_run: bool = False,
) -> Outcome:
    """One statement send request from a person (CLI): prepared, then sent unless ``dry_run``."""
    config = SmtpConfig.from_env(env)
    prepared, period = prepare_statement(
        ledger, found, config, env, currency=currency, to=to, key=key
    )
    if dry_run:
        return Outcome(prepared, "dry-run")
    return send_statement(ledger, prepared, period, config, actor)


def retry_statement(
    ledger: Ledger,
    failed: Customer.StatementSendFailed,
    config: SmtpConfig,
    env: Mapping[str, str],
    actor: str,
) -> Outcome:
    """Attempt a failed statement send request again: the statement of the same period and
    currency, to the same addresses, with the same send id (so the same Message-ID)."""
    customer = ledger.customer(failed.originator_id)
    found = statement(
        queries_for(ledger),
        str(customer.id),
        customer.registered.account_number,
        failed.period_from,
        failed.period_to,
    )
    prepared, period = prepare_statement(
        ledger,
        found,
        config,
        env,
        currency=failed.currency,
        to=failed.recipients,
        send_id=failed.send_id,
    )
    return send_statement(ledger, prepared, period, config, actor, failed.attempt + 1)
