"""Billing runs, rerating, CDR imports and the scheduler find their customers in the directory
read model (then read just those customers' events), never by folding the log's customer
events (``LogFolds.customers``), and they find exactly the customers the fold finds."""

from __future__ import annotations

from datetime import date

import pytest

from adapters.ledger.folds import LogFolds
from adapters.queries import every_customer
from adapters.store.database import Database
from adapters.usage.billing import run_billing
from adapters.usage.importer import import_cdrs
from adapters.usage.rating import load_rate_card, rerate
from domain.usage import Period
from scheduler import registry
from scheduler.jobstore import stored_jobs
from scheduler.registry import sync_jobs
from tests.integration.usage_helpers import cdr, customers, trunk, write_cdrs
from tests.scheduler.conftest import make_context, scheduled_customer  # noqa: F401

OCTOBER = Period.month("2026-10")


def _no_fold(monkeypatch: pytest.MonkeyPatch, ledger: object) -> None:
    def fold(*args: object, **kwargs: object) -> None:
        raise AssertionError("LogFolds.customers folded the log")

    del ledger  # the folds are one class for every ledger
    monkeypatch.setattr(LogFolds, "customers", fold)


@pytest.fixture
def world(make_ledger, store_url, tmp_path):
    ledger = make_ledger()
    customers(ledger, [("ACME", "GBP", "UTC", "destination"), ("ONE", "GBP", "UTC", "none")])
    customers(ledger, [("IDLE", "EUR", "UTC", "none")])
    trunk(ledger, "ACME", date(2026, 1, 1))
    return ledger, Database.from_url(store_url), tmp_path


def test_billing_rerating_and_imports_read_the_directory_not_a_fold(world, monkeypatch):
    ledger, db, tmp_path = world
    expected = [c.id for c in LogFolds(ledger).customers()]
    _no_fold(monkeypatch, ledger)

    rows = [cdr("a1", "ACME", charge="0.0123"), cdr("o1", "ONE", charge="0.50")]
    summary = import_cdrs(ledger, db, write_cdrs(tmp_path / "oct.csv", rows))
    assert (summary.inserted, summary.rejected) == (2, 0)
    assert [c.id for c in every_customer(ledger)] == expected  # registration order
    report = run_billing(ledger, db, OCTOBER)
    assert report.count("created") == 2  # ACME (trunk + calls), ONE (calls); IDLE nothing
    card = tmp_path / "card.csv"
    card.write_text("prefix,destination,rate_per_minute,connection_fee,increments\n44,UK,1,0,1/1\n")
    assert {r.account for r in rerate(ledger, db, load_rate_card(card), OCTOBER)} == {
        "ACME",
        "ONE",
    }


def test_a_customer_registered_by_another_process_is_billed(make_ledger, store_url, monkeypatch):
    reader, writer = make_ledger(), make_ledger()
    customers(writer, [("ACME", "GBP", "UTC", "none")])
    assert [c.registered.account_number for c in every_customer(reader)] == ["ACME"]
    customers(writer, [("LATE", "GBP", "UTC", "none")])  # after the reader's directory caught up
    _no_fold(monkeypatch, reader)

    assert [c.registered.account_number for c in every_customer(reader)] == ["ACME", "LATE"]
    assert run_billing(reader, Database.from_url(store_url), OCTOBER).count("created") == 0


def test_the_scheduler_syncs_its_jobs_from_the_directory(make_context, monkeypatch):  # noqa: F811
    ctx = make_context()
    acme = scheduled_customer(ctx.ledger, "ACME", "monthly:1")
    customers(ctx.ledger, [("NOSCHED", "GBP", "UTC", "none")])
    registry.register_jobs(ctx)
    _no_fold(monkeypatch, ctx.ledger)
    with registry.job_writer(ctx):
        sync_jobs(ctx)
    assert f"invoice:{acme}" in stored_jobs(ctx.db)
