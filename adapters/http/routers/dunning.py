"""``/dunning``: the dunning run over HTTP (docs/dunning.md), what ``tollbook invoice remind``
and the scheduler's daily job do."""

from __future__ import annotations

import os
from typing import Any

from fastapi import Response

from adapters.config_error import ConfigError
from adapters.http.deps import Svc, Writer
from adapters.http.documents import DunningRunDoc, answers
from adapters.http.problems import Problem
from adapters.http.routing import Router
from adapters.http.schemas import DunningRun

router = Router(prefix="/dunning", tags=["dunning"])


@router.post("/run", **answers(DunningRunDoc))
def run_dunning(body: DunningRun, svc: Svc, key: Writer, response: Response) -> dict[str, Any]:
    """E-mail each open invoice the reminder its customer's schedule has due on ``as_of``
    (default: each customer's own today, in its time zone; a day not yet begun in any time
    zone only with ``dry_run``; a customer for whom ``as_of`` has not begun yet gets
    nothing, ``not-yet``), recorded as ``Invoice.ReminderSent``
    or ``Invoice.ReminderFailed``. A stage already sent is never sent again, so a repeated
    run sends nothing new. Any failure answers 202 (recorded; the next run tries again); a
    reminder due without SMTP configuration (TOLLBOOK_SMTP_*) is a 503
    ``mail_not_configured``."""
    from adapters.mail.reminders import run

    try:
        reminders = run(svc.ledger, os.environ, key.name, as_of=body.as_of, dry_run=body.dry_run)
    except ConfigError as error:  # the deployment's fault, not the request's
        raise Problem(503, "mail_not_configured", str(error)) from None
    docs = [reminder.doc() for reminder in reminders]
    failed = sum(1 for d in docs if d["status"] in ("failed", "no-address"))
    response.status_code = 202 if failed else 200
    return {
        "as_of": (body.as_of or svc.ledger.today()).isoformat(),
        "dry_run": body.dry_run,
        "sent": sum(1 for d in docs if d["status"] == "sent"),
        "not_sent": failed,
        "reminders": docs,
    }
