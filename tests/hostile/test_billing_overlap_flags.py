"""The billing run's overlap option misused: a value given to the flag, or the flag where
nothing is billed; each is a clear usage error (exit 2) that writes nothing."""

from __future__ import annotations

import pytest

from tests.e2e.test_usage_cli import run
from tests.helpers import event_count
from tests.integration.usage_helpers import customers


@pytest.fixture
def db_url(make_ledger, store_url):
    customers(make_ledger(), [("ACME", "GBP", "UTC", "destination")])
    return store_url


@pytest.mark.parametrize("value", ["--allow-overlap=yes", "--allow-overlap=1"])
def test_the_flag_takes_no_value(db_url, make_ledger, capsys, value):
    before = event_count(make_ledger())
    code, _, err = run(capsys, "--db", db_url, "bill", "--period", "2026-10", value)
    assert code == 2
    assert "--allow-overlap" in err and "does not take a value" in err
    assert event_count(make_ledger()) == before


def test_the_flag_without_a_period_is_refused_before_anything_runs(db_url, make_ledger, capsys):
    before = event_count(make_ledger())
    code, _, err = run(capsys, "--db", db_url, "bill", "--allow-overlap")
    assert code == 2 and "period" in err
    assert event_count(make_ledger()) == before
