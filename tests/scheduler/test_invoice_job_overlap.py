"""A scheduled run meets a period another invoice already bills: it leaves it off, says so in
its log, and is not held back (the period is done; a person decides about the overlap)."""

from __future__ import annotations

from datetime import date

from structlog.testing import capture_logs

from adapters.ledger.folds import LogFolds
from adapters.logging import configure_logging
from scheduler.jobs import bill_customer
from tests.scheduler.conftest import scheduled_customer


def test_a_scheduled_run_leaves_a_hand_billed_trunk_off_and_logs_the_overlap(make_context, at):
    at(2026, 10, 1, 9)
    ctx = make_context()
    customer_id = scheduled_customer(ctx.ledger, "ACME", "monthly:1")
    hand_made = ctx.ledger.create_invoice(
        "ACME", "t", period_start=date(2026, 10, 1), period_end=date(2026, 10, 31)
    )
    ctx.ledger.add_package_line(hand_made, "Trunk", "t")
    number = ctx.ledger.issue_invoice(hand_made, "t")
    at(2026, 11, 1, 1)

    configure_logging(level="info")  # whatever an earlier test left configured
    with capture_logs() as logs:
        billed = bill_customer(customer_id, ctx)

    # the run's invoice has the trunk's setup only: its October charge is on the hand-made one
    assert [(p.label, created) for p, created in billed] == [("2026-10", 1)]
    [_, run] = LogFolds(ctx.ledger).invoices()
    assert [line.kind for line in run.lines.values()] == ["setup"]
    [overlap] = [e for e in logs if e["event"] == "scheduled billing run overlap"]
    assert overlap["billed_by"] == [number] and overlap["action"] == "created"
    assert overlap["log_level"] == "warning"
    assert ctx.state.billed_through(customer_id) == date(2026, 10, 31)
