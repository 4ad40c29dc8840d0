"""What an invoice still owes and what status that gives it: the one place these rules live.

The invoice aggregate (``Invoice.outstanding``/``status``) and the invoice register read model
(projections/invoice_register.py) both answer with these functions, from the same four
figures, so a list and a single invoice can never disagree.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal, get_args

State = Literal["draft", "issued", "void"]
Status = Literal[
    "draft", "issued", "partly_paid", "partly_credited", "paid", "credited", "overdue", "void"
]
#: every status, in the order lists offer them (the CLI, the API and the portal check filters
#: against this one tuple)
STATUSES: tuple[Status, ...] = get_args(Status)


def outstanding(state: str, total: Decimal, credited: Decimal, paid: Decimal) -> Decimal:
    """Total less credit notes less allocated payments; nothing is owed on a draft or a void."""
    return total - credited - paid if state == "issued" else Decimal(0)


def status(
    state: str,
    owed: Decimal,
    paid: Decimal,
    credited: Decimal,
    due_date: date,
    today: date | None = None,
) -> Status:
    """``overdue`` only when a day is given (``today``): without one, the status of the figures.

    Settled with any payment is ``paid``, settled by credit notes alone ``credited``. An open
    invoice with a payment allocated is ``partly_paid``; one reduced only by credit notes is
    ``partly_credited`` (no money has arrived, so it never reads as paid).
    """
    if state != "issued":
        return "draft" if state == "draft" else "void"
    if owed == 0:
        return "paid" if paid else "credited"
    return on_day(
        "partly_paid" if paid else "partly_credited" if credited else "issued", due_date, today
    )


#: the statuses of an issued invoice with something still owed, before its due date passes
OPEN: frozenset[Status] = frozenset({"issued", "partly_paid", "partly_credited"})


def on_day(undated: Status, due_date: date, today: date | None) -> Status:
    """The status on ``today`` of an invoice whose status without a day is ``undated``: an open
    one is ``overdue`` once ``today`` is past its due date. The one rule for the part of a
    status that depends on the day: ``status`` ends with it, and a document stored without a
    day (the invoice documents read model) gets its day's status from it when it is read."""
    if today is not None and undated in OPEN and today > due_date:
        return "overdue"
    return undated
