"""The dunning run's rules on the memory store, against a real SMTP server on 127.0.0.1: which
stage goes out on which day (given the clock), when reminders stop, and that a stage is never
sent twice: not on a re-run, not after a crash between the server's answer and the event, not
after a failure retried by the next run. Through the ledger and ``adapters.mail.reminders.run``,
what the CLI, the scheduler job and the HTTP API call."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

import pytest

from adapters.mail import reminders
from domain.changes import CustomerChanges
from domain.errors import InvalidDate
from domain.invoice import Invoice
from tests.mail_support import Inbox, free_port, smtp_server, smtp_settings


@pytest.fixture
def env() -> dict[str, str]:
    return smtp_settings()


@pytest.fixture
def inbox(env: dict[str, str]) -> Iterator[Inbox]:
    with smtp_server(int(env["TOLLBOOK_SMTP_PORT"])) as received:
        yield received


def _customer(ledger, offsets=(-7, 0, 7, 14, 30), account="ACME") -> None:
    ledger.register_customer(
        "t", account_number=account, name=f"{account} Ltd", currency="GBP", tax_rate=D("0"),
        payment_terms_days=30, email=f"ap@{account.lower()}.example",
        reminder_offsets=offsets,
    )  # fmt: skip


def _issued(ledger, account="ACME", amount="100") -> str:
    invoice_id = ledger.create_invoice(account, "t")
    ledger.add_line(invoice_id, "t", description="Transit", quantity=D("1"), unit_price=D(amount))
    return ledger.issue_invoice(invoice_id, "t")


def _day(clock, day: date) -> date:
    clock.set(datetime(day.year, day.month, day.day, 9, 0, tzinfo=UTC))
    return day


def _events(ledger, number, kind):
    return [e for e in ledger.events_of(ledger.invoice_id(number)) if isinstance(e, kind)]


def test_each_stage_fires_on_its_day_when_run_daily(memory_ledger, clock, env, inbox):
    _customer(memory_ledger)
    number = _issued(memory_ledger)  # 2026-10-01, due 2026-10-31
    sent_on = {}
    day = date(2026, 10, 20)
    while day <= date(2026, 12, 5):
        for reminder in reminders.run(memory_ledger, env, "t", as_of=_day(clock, day)):
            assert reminder.status == "sent" and reminder.number == number
            sent_on[reminder.offset] = day
        day += timedelta(days=1)

    due = date(2026, 10, 31)
    assert sent_on == {o: due + timedelta(days=o) for o in (-7, 0, 7, 14, 30)}
    assert [e.offset for e in _events(memory_ledger, number, Invoice.ReminderSent)] == [
        -7, 0, 7, 14, 30,
    ]  # fmt: skip
    assert len(inbox.received) == 5
    assert len({m["Message-ID"] for _, _, m in inbox.received}) == 5


def test_after_days_without_a_run_only_the_latest_stage_goes_and_none_before_the_invoice(
    memory_ledger, clock, env, inbox
):
    _customer(memory_ledger, offsets=(-40, 0), account="BETA")
    early = _issued(memory_ledger, "BETA")  # due 2026-10-31: its -40 stage is before it
    _customer(memory_ledger, offsets=(-20, 7, 14))
    # issued on 2026-10-15, due 2026-11-14: its -20 stage (2026-10-25) comes after the invoice
    _day(clock, date(2026, 10, 15))
    late_issue = _issued(memory_ledger)

    today = _day(clock, date(2026, 11, 30))  # late_issue: +16, early: +30
    first = reminders.run(memory_ledger, env, "t", as_of=today)

    assert sorted((r.number, r.offset) for r in first) == sorted([(late_issue, 14), (early, 0)])
    assert reminders.run(memory_ledger, env, "t", as_of=today) == []
    # a missed day can be run afterwards: the stage of that day is the latest, and it went
    assert reminders.run(memory_ledger, env, "t", as_of=date(2026, 11, 21)) == []
    assert len(inbox.received) == 2


@pytest.mark.parametrize("settle", ["paid", "credited", "voided", "partly_paid"])
def test_reminders_stop_once_nothing_is_owed(memory_ledger, clock, env, inbox, settle):
    _customer(memory_ledger)
    number = _issued(memory_ledger)
    if settle == "voided":
        memory_ledger.void_invoice(number, "t", "billed the wrong customer")
    elif settle == "credited":
        memory_ledger.issue_credit_note(number, "t", "service never delivered", full=True)
    else:
        amount = D("100") if settle == "paid" else D("40")
        payment = memory_ledger.record_payment("ACME", "t", amount=amount, status="completed")
        memory_ledger.allocate(payment, [(number, amount)], "t")

    done = reminders.run(memory_ledger, env, "t", as_of=_day(clock, date(2026, 11, 7)))

    if settle == "partly_paid":  # still owed: reminded of what is left
        assert [(r.offset, r.outstanding) for r in done] == [(7, D("60.00"))]
        (message,) = [m for _, _, m in inbox.received]
        assert "60.00 GBP" in message["Subject"]
    else:
        assert done == [] and inbox.received == []


def test_a_crash_between_the_server_and_the_event_resends_the_same_message_once(
    memory_ledger, clock, env, inbox, monkeypatch
):
    _customer(memory_ledger)
    number = _issued(memory_ledger)
    today = _day(clock, date(2026, 10, 31))
    record = memory_ledger.record_invoice_reminder_sent

    def crash(*args, **kwargs):
        raise SystemExit("killed after the server accepted the message")

    monkeypatch.setattr(memory_ledger, "record_invoice_reminder_sent", crash)
    with pytest.raises(SystemExit):
        reminders.run(memory_ledger, env, "t", as_of=today)
    monkeypatch.setattr(memory_ledger, "record_invoice_reminder_sent", record)
    assert _events(memory_ledger, number, Invoice.ReminderSent) == []

    after = reminders.run(memory_ledger, env, "t", as_of=today)
    again = reminders.run(memory_ledger, env, "t", as_of=today)

    assert [r.status for r in after] == ["sent"] and again == []
    first, second = (m for _, _, m in inbox.received)
    assert first["Message-ID"] == second["Message-ID"], "the receiver can tell it is one message"
    (sent,) = _events(memory_ledger, number, Invoice.ReminderSent)
    assert sent.message_id == first["Message-ID"] and sent.offset == 0


def test_a_failed_stage_is_recorded_retried_by_the_next_run_and_given_up_after_five(
    memory_ledger, clock, env
):
    _customer(memory_ledger, offsets=(0, 30))
    number = _issued(memory_ledger)
    day = _day(clock, date(2026, 10, 31))
    outcomes = []
    for _ in range(6):  # nothing listens on the port: the server is down
        outcomes.append(reminders.run(memory_ledger, env, "t", as_of=day))
        day = _day(clock, day + timedelta(days=1))

    assert [[r.status for r in run] for run in outcomes] == [["failed"]] * 5 + [[]]
    failed = _events(memory_ledger, number, Invoice.ReminderFailed)
    assert [f.attempt for f in failed] == [1, 2, 3, 4, 5]
    assert len({f.message_id for f in failed}) == 1 and failed[0].offset == 0
    assert "ConnectionRefusedError" in failed[0].error

    with smtp_server(int(env["TOLLBOOK_SMTP_PORT"])) as inbox:
        given_up = reminders.run(memory_ledger, env, "t", as_of=_day(clock, date(2026, 11, 15)))
        later = reminders.run(memory_ledger, env, "t", as_of=_day(clock, date(2026, 11, 30)))
    assert given_up == []
    assert [(r.offset, r.status) for r in later] == [(30, "sent")]
    assert len(inbox.received) == 1


def test_a_dry_run_sends_and_writes_nothing_and_may_look_ahead(memory_ledger, clock, env, inbox):
    _customer(memory_ledger)
    number = _issued(memory_ledger)
    before = len(memory_ledger.events_of(memory_ledger.invoice_id(number)))

    ahead = reminders.run(memory_ledger, env, "t", as_of=date(2026, 11, 8), dry_run=True)

    assert [(r.number, r.offset, r.status) for r in ahead] == [(number, 7, "dry-run")]
    assert ahead[0].subject.startswith(f"Overdue: invoice {number}")
    assert inbox.received == []
    assert len(memory_ledger.events_of(memory_ledger.invoice_id(number))) == before
    with pytest.raises(Exception, match="use --dry-run"):
        reminders.run(memory_ledger, env, "t", as_of=date(2026, 11, 8))


def test_reminder_events_flow_to_the_feed_and_exports_pass_them_by(
    memory_ledger, clock, env, inbox
):
    from adapters.accounting.events import item_for
    from adapters.feed import read_page, topics_for

    _customer(memory_ledger, offsets=(0,))
    number = _issued(memory_ledger)
    memory_ledger.change_customer("ACME", CustomerChanges(reminder_offsets=(0, 7)), "t")
    reminders.run(memory_ledger, env, "t", as_of=_day(clock, date(2026, 10, 31)))
    env["TOLLBOOK_SMTP_PORT"] = str(free_port())  # the server is gone
    reminders.run(memory_ledger, env, "t", as_of=_day(clock, date(2026, 11, 7)))

    wanted = topics_for(
        ["Invoice.ReminderSent", "Invoice.ReminderFailed", "Customer.RemindersChanged"]
    )
    page = read_page(memory_ledger, 0, 100, wanted)
    assert [e["type"] for e in page.events] == [
        "Customer.RemindersChanged", "Invoice.ReminderSent", "Invoice.ReminderFailed",
    ]  # fmt: skip
    sent = page.events[1]["payload"]
    assert (sent["offset"], sent["outstanding"], sent["recipients"]) == (
        0, "100.00", ["ap@acme.example"],
    )  # fmt: skip
    for position, event in memory_ledger.all_events(topics=wanted):
        assert item_for(memory_ledger, position, event) is None  # nothing for accounting
    assert memory_ledger.invoice(number).outstanding == D("100.00")  # a reminder owes nothing


def test_a_payment_arriving_while_the_reminder_is_prepared_stops_it(
    memory_ledger, clock, env, inbox, monkeypatch
):
    _customer(memory_ledger)
    number = _issued(memory_ledger)
    real_compose = reminders.compose_document

    def paid_meanwhile(*args, **kwargs):  # another process records the payment meanwhile
        prepared = real_compose(*args, **kwargs)
        payment = memory_ledger.record_payment("ACME", "t", amount=D("100"), status="completed")
        memory_ledger.allocate(payment, [(number, D("100"))], "t")
        return prepared

    monkeypatch.setattr(reminders, "compose_document", paid_meanwhile)
    done = reminders.run(memory_ledger, env, "t", as_of=_day(clock, date(2026, 10, 31)))

    assert [r.status for r in done] == ["settled"] and inbox.received == []
    assert _events(memory_ledger, number, Invoice.ReminderSent) == []


# ------------------------------------------------------------------ whose day
# docs/dunning.md, "Whose day": three customers, in Pacific/Auckland (UTC+13 in December), UTC
# and America/Los_Angeles (UTC-8), each with an invoice due on the same date, reminded when that
# date has begun where they are; an explicit ``as_of`` is one date for everyone, and a day that
# has begun only for some reaches only them.

DUE = date(2026, 12, 6)
ZONES = {"AKL": "Pacific/Auckland", "LON": "UTC", "LAX": "America/Los_Angeles"}


@pytest.fixture
def invoices(memory_ledger, clock) -> dict[str, str]:
    """One invoice per customer, each due on ``DUE``; the customers' schedules: 0 and +1."""
    clock.set(datetime(2026, 11, 6, 12, 0, tzinfo=UTC))
    numbers = {}
    for account, zone in ZONES.items():
        memory_ledger.register_customer(
            "t", account_number=account, name=f"{account} Ltd", currency="GBP",
            tax_rate=D("0"), payment_terms_days=30, email=f"ap@{account.lower()}.example",
            time_zone=zone, reminder_offsets=(0, 1),
        )  # fmt: skip
        invoice_id = memory_ledger.create_invoice(account, "t")
        memory_ledger.add_line(
            invoice_id, "t", description="Transit", quantity=D("1"), unit_price=D("100")
        )
        numbers[account] = memory_ledger.issue_invoice(invoice_id, "t")
        assert memory_ledger.invoice(numbers[account]).due_date == DUE
    return numbers


def _at(clock, day: int, hour: int, minute: int = 0) -> None:
    clock.set(datetime(2026, 12, day, hour, minute, tzinfo=UTC))


def _sent(done) -> list[tuple[str, int, str]]:
    return [(r.account, r.offset, r.day.isoformat()) for r in done if r.status == "sent"]


def test_each_customer_is_reminded_when_the_due_date_has_begun_where_it_is(
    memory_ledger, clock, env, inbox, invoices
):
    _at(clock, 5, 11, 30)  # Auckland 12-06 00:30; UTC 12-05; Los Angeles 12-05 03:30
    auckland = reminders.run(memory_ledger, env, "t")
    _at(clock, 6, 7, 59)  # UTC 12-06; Los Angeles still 12-05 (23:59)
    london = reminders.run(memory_ledger, env, "t")
    _at(clock, 6, 8, 0)  # Los Angeles 12-06 00:00
    los_angeles = reminders.run(memory_ledger, env, "t")
    again = reminders.run(memory_ledger, env, "t")
    _at(clock, 6, 11, 0)  # Auckland 12-07: a day overdue there, due today for the others
    overdue = reminders.run(memory_ledger, env, "t")

    assert _sent(auckland) == [("AKL", 0, "2026-12-06")]
    assert _sent(london) == [("LON", 0, "2026-12-06")]
    assert _sent(los_angeles) == [("LAX", 0, "2026-12-06")]
    assert again == []
    assert _sent(overdue) == [("AKL", 1, "2026-12-07")]
    bodies = {rcpt[0]: m.get_body(("plain",)).get_content() for _, rcpt, m in inbox.received}
    subjects = [m["Subject"] for _, _, m in inbox.received]
    assert len(subjects) == 4
    assert subjects[:3] == [
        f"Reminder: invoice {invoices[a]}, 100.00 GBP due 2026-12-06" for a in ZONES
    ]
    assert subjects[3] == f"Overdue: invoice {invoices['AKL']}, 100.00 GBP due 2026-12-06"
    assert "is due today" in bodies["ap@lax.example"]
    assert "(1 day overdue)" in bodies["ap@akl.example"]
    for account, number in invoices.items():
        events = memory_ledger.events_of(memory_ledger.invoice_id(number))
        offsets = [e.offset for e in events if isinstance(e, Invoice.ReminderSent)]
        assert offsets == ([0, 1] if account == "AKL" else [0])


def test_an_explicit_day_is_one_date_for_everyone_and_goes_only_where_it_has_begun(
    memory_ledger, clock, env, inbox, invoices
):
    _at(clock, 5, 9, 0)  # 12-06 has begun nowhere (Kiribati, UTC+14: 23:00 on 12-05)
    with pytest.raises(InvalidDate, match="not today yet in any time zone"):
        reminders.run(memory_ledger, env, "t", as_of=DUE)
    preview = reminders.run(memory_ledger, env, "t", as_of=DUE, dry_run=True)

    _at(clock, 5, 11, 30)  # 12-06 in Auckland only
    with pytest.raises(InvalidDate, match="the latest today is 2026-12-06"):
        reminders.run(memory_ledger, env, "t", as_of=date(2026, 12, 7))
    partly = reminders.run(memory_ledger, env, "t", as_of=DUE)
    catch_up = reminders.run(memory_ledger, env, "t", as_of=date(2026, 12, 5))

    assert [(r.account, r.status, r.day) for r in preview] == [(a, "dry-run", DUE) for a in ZONES]
    assert [(r.account, r.status, r.day) for r in partly] == [
        ("AKL", "sent", DUE), ("LON", "not-yet", DUE), ("LAX", "not-yet", DUE),
    ]  # fmt: skip
    assert catch_up == []  # 12-05: no stage had come for anyone
    assert [rcpt for _, rcpt, _ in inbox.received] == [["ap@akl.example"]]
    for account in ("LON", "LAX"):
        events = memory_ledger.events_of(memory_ledger.invoice_id(invoices[account]))
        assert not [e for e in events if isinstance(e, Invoice.ReminderSent)]
