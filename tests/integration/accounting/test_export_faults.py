"""Crashes, lost answers, outages and rate limits: nothing duplicated, nothing lost, order kept."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from tests.fakes import views
from tests.fakes.xero import FakeXero
from tests.integration.accounting.helpers import billing_cycle, connection_to


class Crash(BaseException):
    """The process dies: after the remote answered, before the answer was recorded."""


def _crash_on(kind):
    def hook(item):
        if item.kind == kind:
            raise Crash(item.label)

    return hook


@pytest.mark.parametrize("system", ["xero", "clearbooks", "freshbooks"])
def test_a_crash_between_sending_and_recording_leaves_exactly_one_remote_invoice(
    system, ledger, fakes, make_exporter
):
    fake = fakes(system)
    cycle = billing_cycle(ledger)
    dying = make_exporter(ledger, connection_to(fake))
    dying.after_send = _crash_on("invoice")
    with pytest.raises(Crash):
        dying.run()
    assert list(views.invoices(fake)) == [cycle.numbers[0]]  # sent, but never recorded

    report = make_exporter(ledger, connection_to(fake)).run()  # the restarted process

    assert report.stopped is None
    assert {i.outcome for i in report.items} == {"exported"}  # nothing refused as a duplicate
    assert sorted(views.invoices(fake)) == sorted(cycle.numbers)  # one of each, no duplicate
    assert views.payments(fake) == cycle.paid


def test_a_crash_after_a_payment_was_sent_never_pays_twice(ledger, xero, make_exporter):
    cycle = billing_cycle(ledger)
    dying = make_exporter(ledger, connection_to(xero))
    dying.after_send = _crash_on("payment")
    with pytest.raises(Crash):
        dying.run()

    restarted = make_exporter(ledger, connection_to(xero))
    report = restarted.run()

    assert {i.outcome for i in report.items} == {"exported"}
    assert restarted.store.dead_letters("xero") == []
    assert views.payments(xero) == cycle.paid
    assert len(xero.payments) == 2
    sent = [r.headers["idempotency-key"] for r in xero.requests if r.path.endswith("/Payments")]
    assert sent[0] == sent[1]  # the restarted process re-sent under the same key: a replay


def test_an_answer_lost_on_the_way_back_is_resent_with_the_same_key_and_replayed(
    ledger, xero, make_exporter
):
    cycle = billing_cycle(ledger)
    # The first invoice is created but the answer is lost, and so is the answer to the re-send.
    xero.drop_responses_after_commit(2, path_contains="/Invoices")
    exporter = make_exporter(ledger, connection_to(xero))

    report = exporter.run()

    assert report.stopped is None
    assert sorted(views.invoices(xero)) == sorted(cycle.numbers)  # no second copy
    assert len(exporter.client.policy.waits) == 2  # each lost answer cost one re-send
    put_invoices = [r for r in xero.requests if r.method == "PUT" and r.path.endswith("/Invoices")]
    keys = [r.headers["idempotency-key"] for r in put_invoices]
    assert len(keys) == 5 and keys[0] == keys[1] == keys[2]  # one key, replayed twice
    assert len(set(keys)) == 3
    assert sorted(views.contacts(xero)) == ["ACME", "GLOBEX"]
    assert xero.spec_violations == []


@pytest.mark.parametrize("system", ["xero", "clearbooks", "freshbooks"])
def test_a_short_outage_is_ridden_out_with_backoff(system, ledger, fakes, make_exporter):
    fake = fakes(system)
    cycle = billing_cycle(ledger)
    fake.outage(4, status=503)
    exporter = make_exporter(ledger, connection_to(fake))

    report = exporter.run()

    assert report.stopped is None
    assert sorted(views.invoices(fake)) == sorted(cycle.numbers)
    waits = exporter.client.policy.waits
    assert waits[:4] == [1.0, 2.0, 4.0, 8.0]  # exponential back-off, then through


def test_a_long_outage_stops_the_run_and_the_next_run_catches_up_in_order(
    ledger, xero, make_exporter
):
    cycle = billing_cycle(ledger)
    first_run = make_exporter(ledger, connection_to(xero, max_attempts=3))
    working = xero.handle

    def invoices_down(request):
        if request.method == "PUT" and request.path.endswith("/Invoices"):
            return xero.unavailable(503)
        return working(request)

    xero.handle = invoices_down
    report = first_run.run()

    assert report.stopped is not None and "503" in report.stopped
    assert [i.kind for i in report.items] == ["contact", "contact"]
    assert views.invoices(xero) == {}
    first_invoice = next(
        position for position, event in ledger.all_events() if type(event).__name__ == "Issued"
    )
    assert report.position == first_run.store.position("xero") < first_invoice

    xero.handle = working
    second = make_exporter(ledger, connection_to(xero)).run()

    assert second.stopped is None
    assert sorted(views.invoices(xero)) == sorted(cycle.numbers)
    kinds = [i.kind for i in second.items]
    assert kinds.index("invoice") < kinds.index("credit_note") < kinds.index("payment")
    assert views.payments(xero) == cycle.paid


def test_xero_429_is_honoured_with_retry_after_and_the_export_completes(
    ledger, fake_clock, make_exporter
):
    strict = FakeXero(fake_clock, calls_per_minute=5).start()
    try:
        cycle = billing_cycle(ledger)
        # Our own limiter set above the organisation's, so the remote's 429 is what we meet.
        exporter = make_exporter(ledger, connection_to(strict, calls_per_minute=1000))

        report = exporter.run()

        assert report.stopped is None
        assert strict.rate_limited > 0
        retry_afters = [w for w in exporter.client.policy.waits if w > 8]
        assert retry_afters and all(w <= 60 for w in retry_afters)
        assert sorted(views.invoices(strict)) == sorted(cycle.numbers)
        assert strict.spec_violations == []
    finally:
        strict.stop()


def test_our_own_limiter_keeps_xero_under_60_calls_a_minute(ledger, xero, make_exporter):
    for index in range(35):
        ledger.register_customer(
            "t",
            account_number=f"C{index:03d}",
            name=f"Carrier {index}",
            currency="GBP",
            tax_rate=D("20"),
            tax_description="VAT",
            payment_terms_days=14,
        )
    exporter = make_exporter(ledger, connection_to(xero))  # 35 x (1 look-up + 1 create)

    exporter.run()

    assert xero.rate_limited == 0
    assert len(xero.contacts) == 35
    assert xero.clock() - 1_000_000.0 >= 60  # it waited for the minute to roll over


def test_an_expired_xero_token_is_renewed_and_the_run_goes_on(ledger, xero, make_exporter):
    cycle = billing_cycle(ledger)
    exporter = make_exporter(ledger, connection_to(xero))
    revoke = {"after": 4}
    working = xero.handle

    def revoking(request):
        if not request.path.endswith("/token"):
            revoke["after"] -= 1
            if revoke["after"] == 0:
                xero.tokens.clear()  # Xero's 30-minute token ran out mid-run
        return working(request)

    xero.handle = revoking
    report = exporter.run()

    assert report.stopped is None
    assert sorted(views.invoices(xero)) == sorted(cycle.numbers)
    assert sum(1 for r in xero.requests if r.path.endswith("/connect/token")) == 2
