"""The invoice schedule job on SQLite and PostgreSQL: the period that just ended, each missed
period after downtime, once; time zones; and two instances billing at the same moment."""

from __future__ import annotations

import threading
from datetime import date
from decimal import Decimal as D

from adapters.ledger.folds import LogFolds
from domain.changes import CustomerChanges
from domain.usage import Period, invoice_id_for
from scheduler.jobs import bill_customer
from tests.helpers import event_count
from tests.scheduler.conftest import scheduled_customer


def _periods(ledger, account):
    return sorted(
        (i.period_start, i.period_end)
        for i in LogFolds(ledger).invoices()
        if i.customer_account == account
    )


def test_a_run_bills_the_period_that_just_ended_once(make_context, at):
    at(2026, 10, 1, 9)
    ctx = make_context()
    customer_id = scheduled_customer(ctx.ledger, "ACME", "monthly:1")
    at(2026, 11, 1, 1)

    [(period, created)] = bill_customer(customer_id, ctx)

    assert period == Period.month("2026-10") and created == 1
    assert _periods(ctx.ledger, "ACME") == [(date(2026, 10, 1), date(2026, 10, 31))]
    assert bill_customer(customer_id, ctx) == []  # fired again: nothing new
    assert ctx.state.billed_through(customer_id) == date(2026, 10, 31)
    assert ctx.state.outcomes()[f"invoice:{customer_id}"].detail == "nothing due"


def test_nothing_is_billed_before_the_period_ends(make_context, at):
    at(2026, 10, 1, 9)
    ctx = make_context()
    customer_id = scheduled_customer(ctx.ledger, "ACME", "monthly:1")
    at(2026, 10, 31, 23, 59)
    assert bill_customer(customer_id, ctx) == []
    assert LogFolds(ctx.ledger).invoices() == []


def test_after_downtime_every_missed_period_is_billed_in_one_run(make_context, at):
    at(2026, 8, 10, 9)
    ctx = make_context()
    customer_id = scheduled_customer(ctx.ledger, "ACME", "monthly:1")
    at(2026, 11, 20, 9)  # the service was down from August

    billed = bill_customer(customer_id, ctx)

    assert [p.label for p, _ in billed] == ["2026-08", "2026-09", "2026-10"]
    assert len(LogFolds(ctx.ledger).invoices()) == 3
    assert bill_customer(customer_id, ctx) == []


def test_the_customers_time_zone_decides_when_a_period_has_ended(make_context, at):
    at(2026, 10, 1, 12)  # 1 October in both zones
    ctx = make_context()
    tokyo = scheduled_customer(ctx.ledger, "TYO", "monthly:1", zone="Asia/Tokyo")
    honolulu = scheduled_customer(ctx.ledger, "HNL", "monthly:1", zone="Pacific/Honolulu")
    at(2026, 10, 31, 16)  # 1 November 01:00 in Tokyo, still 31 October 06:00 in Honolulu

    assert [p.label for p, _ in bill_customer(tokyo, ctx)] == ["2026-10"]
    assert bill_customer(honolulu, ctx) == []


def test_a_weekly_schedule_set_later_starts_with_the_week_it_took_effect(make_context, at):
    at(2026, 10, 1, 9)
    ctx = make_context()
    customer_id = scheduled_customer(ctx.ledger, "ACME", "monthly:1")
    at(2026, 11, 2, 9)
    assert [p.label for p, _ in bill_customer(customer_id, ctx)] == ["2026-10"]
    ctx.ledger.change_customer(
        "ACME",
        CustomerChanges.model_validate({"invoice_schedule": {"frequency": "weekly", "day": 1}}),
        "t",
    )
    at(2026, 11, 17, 9)

    billed = [(p.start, p.end) for p, _ in bill_customer(customer_id, ctx)]

    # no day of October again; then whole weeks from Monday to Sunday
    assert billed == [
        (date(2026, 11, 1), date(2026, 11, 1)),
        (date(2026, 11, 2), date(2026, 11, 8)),
        (date(2026, 11, 9), date(2026, 11, 15)),
    ]


def test_two_instances_firing_the_same_job_at_once_bill_each_period_once(make_context, at):
    at(2026, 7, 10, 9)
    first, second = make_context(), make_context()
    ids = [scheduled_customer(first.ledger, f"C{n}", "monthly:1") for n in range(4)]
    at(2026, 11, 3, 9)
    start = threading.Barrier(2)
    results: dict[str, list] = {"first": [], "second": []}
    errors: list[BaseException] = []

    def instance(name, ctx):
        start.wait()
        try:
            for customer_id in ids:
                results[name].append(bill_customer(customer_id, ctx))
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [
        threading.Thread(target=instance, args=("first", first)),
        threading.Thread(target=instance, args=("second", second)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    invoices = LogFolds(first.ledger).invoices()
    keys = [(i.customer_account, i.period_start) for i in invoices]
    assert len(keys) == len(set(keys)) == 4 * 4  # July to October, once each
    for n, customer_id in enumerate(ids):
        for month in ("2026-07", "2026-08", "2026-09", "2026-10"):
            period = Period.month(month)
            assert invoice_id_for(first.ledger.customer(f"C{n}").id, period) in {
                i.id for i in invoices
            }
        assert first.state.billed_through(customer_id) == date(2026, 10, 31)
    created = sum(n for runs in results.values() for billed in runs for _, n in billed)
    assert created == 16  # every invoice created by exactly one of the two


def test_a_refused_period_is_recorded_not_skipped_and_billed_once_put_right(make_context, at):
    at(2026, 10, 1, 9)
    ctx = make_context()
    customer_id = scheduled_customer(ctx.ledger, "BIG", "monthly:1")
    # twice the highest unit price: the invoice's total is beyond the money limit
    ctx.ledger.define_package("t", name="Exchange", unit_price=D("9999999999999.99"))
    assignment = ctx.ledger.assign_package(
        "BIG", "Exchange", "t", start_date=date(2026, 10, 1), quantity=D(2)
    )
    at(2026, 11, 1, 1)
    before = event_count(ctx.ledger)

    assert bill_customer(customer_id, ctx) == []
    outcome = ctx.state.outcomes()[f"invoice:{customer_id}"]
    assert outcome.status == "refused"
    assert outcome.detail.startswith("2026-10 refused: out_of_range: the invoice's total must")
    assert ctx.state.billed_through(customer_id) is None  # the period is not passed over
    assert bill_customer(customer_id, ctx) == []  # fired again: refused again, nothing written
    assert event_count(ctx.ledger) == before

    ctx.ledger.end_assignment("BIG", assignment, date(2026, 10, 1), "t")  # one day of it
    [(period, created)] = bill_customer(customer_id, ctx)
    assert (period.label, created) == ("2026-10", 1)
    assert bill_customer(customer_id, ctx) == []
    assert _periods(ctx.ledger, "BIG") == [(date(2026, 10, 1), date(2026, 10, 31))]
