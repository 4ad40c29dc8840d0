"""Read models on SQLite and PostgreSQL: balances, payment history, register, aged debt."""

from __future__ import annotations

import threading
import time
from datetime import date, timedelta
from decimal import Decimal as D

import pytest

from projections.aged_receivables import MOVEMENTS, age
from projections.balances import Balances
from projections.customer_balances import BALANCES
from projections.invoice_register import REGISTER, status_of
from projections.payment_history import HISTORY
from projections.runner import all_projections
from tests.integration.billing import customer, execute, issued_invoice, paid, runner_for


def test_read_models_follow_a_billing_cycle(ledger, store_url, clock):
    customer(ledger, "ACME")
    customer(ledger, "BETA", currency="EUR")
    first = issued_invoice(ledger, "ACME", "100.00")  # total 120.00
    second = issued_invoice(ledger, "ACME", "50.00")  # total 60.00
    issued_invoice(ledger, "BETA", "10.00")
    payment = paid(ledger, "ACME", "200.00")
    ledger.allocate(payment, [(first, D("120.00")), (second, D("20.00"))], "t")
    ledger.unallocate(payment, second, D("5.00"), "t", "wrong invoice")
    ledger.refund_payment(payment, D("10.00"), "t")
    ledger.issue_credit_note(second, "t", "goodwill", amount=D("10.00"))  # 12.00 with tax

    runner = runner_for(ledger, store_url)
    applied = runner.catch_up()
    store = runner.store

    assert applied > 0
    rows = {(r["customer_account"], r["currency"]): r for r in store.select(BALANCES)}
    acme = rows[("ACME", "GBP")]
    assert (acme["invoiced"], acme["credited"], acme["received"]) == (D("180"), D("12"), D("200"))
    assert (acme["allocated"], acme["refunded"]) == (D("135"), D("10"))
    assert (acme["outstanding"], acme["unallocated"]) == (D("33"), D("55"))
    assert rows[("BETA", "EUR")]["outstanding"] == D("12")

    history = store.select(
        HISTORY, {"customer_id": str(ledger.customer("ACME").id)}, order_by="position"
    )
    assert [h["kind"] for h in history] == [
        "received",
        "allocated",
        "allocated",
        "unallocated",
        "refunded",
    ]
    on_second = store.select(
        HISTORY, {"invoice_id": str(ledger.invoice_id(second))}, order_by="position"
    )
    assert [(h["kind"], h["amount"]) for h in on_second] == [
        ("allocated", D("20.00")),
        ("unallocated", D("5.00")),
    ]

    register = {r["number"]: r for r in store.select(REGISTER)}
    assert register[first]["outstanding"] == 0 and status_of(register[first], None) == "paid"
    assert (register[second]["paid"], register[second]["credited"]) == (D("15.00"), D("12.00"))
    assert register[second]["outstanding"] == D("33.00")
    assert status_of(register[second], ledger.today() + timedelta(days=30)) == "overdue"


def test_the_invoice_register_filters_by_invoice_date(ledger, store_url):
    customer(ledger, "ACME")
    issued_invoice(ledger, "ACME", "1", invoice_date=date(2026, 8, 15))
    september = issued_invoice(ledger, "ACME", "2", invoice_date=date(2026, 9, 10))
    issued_invoice(ledger, "ACME", "3", invoice_date=date(2026, 10, 1))
    runner = runner_for(ledger, store_url)
    runner.catch_up()

    rows = runner.store.select(
        REGISTER, ranges={"invoice_date": (date(2026, 9, 1), date(2026, 9, 30))}
    )

    assert [r["number"] for r in rows] == [september]


def test_aged_receivables_can_be_seen_as_of_any_past_date(ledger, store_url, clock):
    customer(ledger, "ACME", terms=10)
    number = issued_invoice(ledger, "ACME", "100.00")  # 120.00, due 10 days after issue
    issued_on = ledger.today()
    clock.advance(days=45)
    payment = paid(ledger, "ACME", "20.00")
    ledger.allocate(payment, [(number, D("20.00"))], "t")
    runner = runner_for(ledger, store_url)
    runner.catch_up()
    movements = runner.store.select(MOVEMENTS)

    def buckets(day: date) -> dict[str, D]:
        return _owed_by_bucket(movements, day)

    assert age(movements, issued_on - timedelta(days=1)) == []
    assert buckets(issued_on) == {"current": D("120.00")}
    assert buckets(issued_on + timedelta(days=25)) == {"1-30": D("120.00")}
    assert buckets(issued_on + timedelta(days=45)) == {"31-60": D("100.00")}
    assert buckets(issued_on + timedelta(days=101)) == {"90+": D("100.00")}


def test_a_runner_resumes_after_its_last_position_and_skips_nothing(make_ledger, store_url):
    writer = make_ledger()
    customer(writer, "ACME")
    issued_invoice(writer, "ACME", "10")
    first = runner_for(make_ledger(), store_url, batch_size=3)
    first.catch_up()
    issued_invoice(writer, "ACME", "20")
    paid(writer, "ACME", "5")

    second = runner_for(make_ledger(), store_url, batch_size=3)  # another process
    second.catch_up()
    first.catch_up()  # its cache is stale now: it must notice and apply nothing twice

    fold = Balances().fold(event for _, event in writer.all_events())
    [row] = second.store.select(BALANCES)
    [expected] = fold.all()
    assert (row["invoiced"], row["received"]) == (expected.invoiced, expected.received)
    assert row["invoiced"] == D("36.00")
    assert all(lag == 0 for _, lag in second.status())


def test_events_written_while_a_catch_up_is_under_way_are_all_applied(ledger, store_url):
    # small pages, so the runner reads pages ahead; events commit when the page read ahead
    # came up short (it then holds less than the log does by the next batch)
    customer(ledger, "ACME")
    issued_invoice(ledger, "ACME", "10")
    issued_invoice(ledger, "ACME", "20")
    runner = runner_for(ledger, store_url, batch_size=2)
    written: list[str] = []

    def write_more(at: int, head: int) -> None:
        if len(written) < 3 and head - at < 2:
            written.append(issued_invoice(ledger, "ACME", "1"))
            paid(ledger, "ACME", "1")

    head = runner.head()
    runner.catch_up(progress=write_more)
    assert all(t.position >= head for t in runner.store.tracking(["balances"]).values())
    runner.catch_up()  # what committed during the first is the next one's

    fold = Balances().fold(event for _, event in ledger.all_events())
    [row] = runner.store.select(BALANCES)
    [expected] = fold.all()
    assert (row["invoiced"], row["received"]) == (expected.invoiced, expected.received)
    assert written and row["invoiced"] == D("36.00") + D("1.20") * len(written)
    assert len(runner.store.select(REGISTER, {"customer_account": "ACME"})) == 2 + len(written)
    assert all(lag == 0 for _, lag in runner.status())


def test_a_catch_up_under_a_writer_that_never_stops_ends_at_the_head_it_started_from(
    ledger, store_url
):
    customer(ledger, "ACME")
    for net in ("10", "20", "30"):
        issued_invoice(ledger, "ACME", net)
    runner = runner_for(ledger, store_url, batch_size=2)
    head = runner.head()
    batches: list[int] = []

    def write_faster_than_it_reads(at: int, _head: int) -> None:
        batches.append(at)
        if len(batches) > 50:
            raise AssertionError("the catch-up is chasing the writer")
        issued_invoice(ledger, "ACME", "1")  # three events for every two applied

    applied = runner.catch_up(progress=write_faster_than_it_reads)

    assert applied >= 6 and batches[-1] >= head
    assert runner.head() > batches[-1]  # the writer was ahead when it stopped
    runner.catch_up()
    [row] = runner.store.select(BALANCES)
    assert row["invoiced"] == D("1.20") * len(batches) + D("72.00")
    assert all(lag == 0 for _, lag in runner.status())


def test_a_rebuild_starts_from_event_zero_and_ends_where_the_log_ends(ledger, store_url):
    customer(ledger, "ACME")
    issued_invoice(ledger, "ACME", "10")
    runner = runner_for(ledger, store_url, batch_size=2)
    runner.catch_up()
    seen: list[tuple[int, int]] = []

    applied = runner.rebuild(["balances"], progress=lambda at, head: seen.append((at, head)))

    assert applied == 2  # Drafted and Issued: the events balances follow
    assert seen[-1][0] == seen[-1][1] == runner.head()
    tracking = runner.store.tracking(["balances", "invoice_register"])
    assert tracking["balances"].generation == tracking["invoice_register"].generation + 1
    [row] = runner.store.select(BALANCES)
    assert row["invoiced"] == D("12.00")


def _indexes(store_url: str) -> set[str]:
    if store_url.startswith("sqlite"):
        rows = execute(store_url, "SELECT name FROM sqlite_master WHERE type = 'index'")
    else:
        rows = execute(
            store_url, "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
        )
    return {row[0] for row in rows}


WANTED_INDEXES = {
    f"{table.name}__{'_'.join(index)}"
    for projection in all_projections()
    for table in projection.tables
    for index in table.indexes
}


def test_a_rebuild_builds_the_secondary_indexes_when_it_reaches_the_head(ledger, store_url):
    customer(ledger, "ACME")
    for net in ("10.00", "20.00", "30.00"):
        issued_invoice(ledger, "ACME", net)
    paid(ledger, "ACME", "5.00")
    runner = runner_for(ledger, store_url, batch_size=2)
    runner.catch_up()
    assert _indexes(store_url) >= WANTED_INDEXES

    runner.rebuild()

    assert _indexes(store_url) >= WANTED_INDEXES
    assert len(runner.store.select(REGISTER, {"customer_account": "ACME"})) == 3


def test_a_rebuild_cut_short_gets_its_indexes_from_the_next_runner(ledger, store_url):
    customer(ledger, "ACME")
    issued_invoice(ledger, "ACME", "10.00")
    runner = runner_for(ledger, store_url)
    runner.catch_up()
    runner.store.reset(all_projections())  # as if the rebuild died right after dropping
    assert not WANTED_INDEXES & _indexes(store_url)

    runner_for(ledger, store_url).catch_up()  # the next process to start

    assert _indexes(store_url) >= WANTED_INDEXES
    [row] = runner.store.select(BALANCES)
    assert row["invoiced"] == D("12.00")


def test_a_follower_on_postgresql_wakes_when_events_commit_not_at_its_next_poll(
    make_ledger, store_url
):
    if not store_url.startswith("postgresql"):
        pytest.skip("SQLite has no announcements: its follower polls")
    writer = make_ledger()
    customer(writer, "ACME")
    runner = runner_for(make_ledger(), store_url)
    runner.catch_up()
    stop = threading.Event()
    follower = threading.Thread(target=runner.follow, args=(stop, 60.0), daemon=True)
    follower.start()
    try:
        _until(lambda: runner.store.tracking(["balances"])["balances"].position == runner.head())
        paid(writer, "ACME", "5")  # the follower is now waiting out a 60 s poll interval
        head = runner.head()
        _until(lambda: runner.store.tracking(["balances"])["balances"].position >= head)
    finally:
        stop.set()
        follower.join(timeout=10)  # stopping does not wait out the 60 s poll either
    assert not follower.is_alive()
    [row] = runner.store.select(BALANCES)
    assert row["received"] == D("5")


def _until(condition, seconds: float = 20.0) -> None:
    """Wait for ``condition``: well within the follower's 60 s poll, so only a wake-up by the
    store's announcement can meet it."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the follower did not wake up"
        time.sleep(0.02)


def test_a_new_due_date_moves_the_register_and_ages_from_the_day_it_was_given(
    ledger, store_url, clock
):
    customer(ledger, "ACME", terms=10)
    number = issued_invoice(ledger, "ACME", "100.00")  # 120.00, due 10 days after issue
    issued_on = ledger.today()
    clock.advance(days=20)  # ten days late
    new_due = issued_on + timedelta(days=40)
    ledger.change_due_date(number, new_due, "t", "payment plan")
    moved_on = ledger.today()
    runner = runner_for(ledger, store_url)
    runner.catch_up()
    movements = runner.store.select(MOVEMENTS)

    def buckets(day: date) -> dict[str, D]:
        return _owed_by_bucket(movements, day)

    # before the change the old due date stands; from the day of the change, the new one
    assert buckets(moved_on - timedelta(days=1)) == {"1-30": D("120.00")}
    assert buckets(moved_on) == {"current": D("120.00")}
    assert buckets(new_due + timedelta(days=1)) == {"1-30": D("120.00")}
    [row] = [r for r in runner.store.select(REGISTER) if r["number"] == number]
    assert row["due_date"] == new_due and row["version"] == ledger.invoice(number).version


def _owed_by_bucket(movements, day: date) -> dict[str, D]:
    """The one customer's non-zero ageing buckets on ``day``."""
    [row] = age(movements, day)
    return {name: value for name, value in row.buckets.items() if value}
