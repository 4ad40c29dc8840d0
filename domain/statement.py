"""What a statement of account's e-mail records: the period and currency it covered
(docs/statements.md, "By e-mail")."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from pydantic import Field

from domain import limits
from domain.delivery import Delivery, send_id_for
from domain.values import CurrencyCode, Frozen


class StatementPeriod(Frozen):
    """The days a statement covers (both included) and the currency of its PDF."""

    period_from: date
    period_to: date
    currency: CurrencyCode

    def check(self) -> StatementPeriod:
        limits.check_statement_period(self.period_from, self.period_to)
        return self

    def send_id(self, customer_id: UUID, key: str) -> UUID:
        """One send request per customer, period, currency and key: sending the same period
        again is the same request (answered ``already-sent``) unless a new key is given."""
        return send_id_for(
            customer_id, f"statement:{self.period_from}:{self.period_to}:{self.currency}:{key}"
        )


class StatementDelivery(Frozen):
    """A statement e-mail the SMTP server accepted."""

    period: StatementPeriod
    delivery: Delivery


class StatementFailure(Frozen):
    """A statement e-mail that did not go out: attempt ``attempt`` of its send request, and
    when ``retry-sends`` tries again (None: given up; docs/email.md, "Retries")."""

    period: StatementPeriod
    delivery: Delivery
    error: str
    attempt: int = Field(default=1, ge=1, le=100)
    retry_at: datetime | None = None
