"""The dunning run on each customer's own day (docs/dunning.md, "Whose day"), at its awkward
moments: a local day that never began (Samoa skipped 2011-12-30), a local midnight that does
not exist or comes twice (DST in São Paulo, Havana), a run at the very first second of the
day, a time zone changed by a dated profile change (the day jumps on, or back), ``as_of``
equal to the latest today anywhere to the second, and the same stage met by a run on the
UTC day and then by runs on the local day. A stage is sent once, never lost, and on the day
it has begun where the customer is.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D
from zoneinfo import ZoneInfo

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


@pytest.fixture
def still_clock(clock):
    """The clock read by a run is the moment set: to the second."""
    clock.step = timedelta(0)
    return clock


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def owing(ledger, clock, account: str, zone: str, due: date, offsets=(0,)) -> str:
    """An issued invoice of ``account`` (in ``zone``) due on ``due``, dated 30 days before."""
    clock.set(datetime(due.year, due.month, due.day, 12, 0, tzinfo=UTC) - timedelta(days=30))
    ledger.register_customer(
        "t", account_number=account, name=f"{account} Ltd", currency="GBP", tax_rate=D("0"),
        payment_terms_days=30, email=f"ap@{account.lower()}.example", time_zone=zone,
        reminder_offsets=offsets,
    )  # fmt: skip
    invoice_id = ledger.create_invoice(account, "t")
    ledger.add_line(invoice_id, "t", description="Transit", quantity=D("1"), unit_price=D("9"))
    number = ledger.issue_invoice(invoice_id, "t")
    assert ledger.invoice(number).due_date == due
    return number


def sent_offsets(ledger, number: str) -> list[int]:
    events = ledger.events_of(ledger.invoice_id(number))
    return [e.offset for e in events if isinstance(e, Invoice.ReminderSent)]


# (zone, the local day the stage is due, the last moment before that day began there, the
# first moment of it, a later moment when the day's first hour is over again or None)
BEGINNINGS = {
    # the local day skipped: 2011-12-29 23:59:59 at -10 was followed by 2011-12-31 at +14;
    # the stage due on the 30th goes on the 31st, the first day that came after it
    "apia-day-skipped": (
        "Pacific/Apia", date(2011, 12, 30), "2011-12-30T09:59:59", "2011-12-30T10:00:00", None
    ),
    # DST began at midnight: the day's first second is 01:00
    "sao-paulo-no-midnight": (
        "America/Sao_Paulo", date(2018, 11, 4), "2018-11-04T02:59:59", "2018-11-04T03:00:00",
        None,
    ),
    "havana-no-midnight": (
        "America/Havana", date(2026, 3, 8), "2026-03-08T04:59:59", "2026-03-08T05:00:00", None
    ),
    # DST ended at 01:00: the day's first hour (from midnight) comes twice
    "havana-midnight-twice": (
        "America/Havana", date(2026, 11, 1), "2026-11-01T03:59:59", "2026-11-01T04:00:00",
        "2026-11-01T05:00:00",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BEGINNINGS))
def test_a_stage_goes_at_the_first_second_of_its_local_day_once(
    memory_ledger, still_clock, env, inbox, case
):
    zone, due, before, first, again = BEGINNINGS[case]
    number = owing(memory_ledger, still_clock, "ZON", zone, due)

    still_clock.set(utc(before))
    early = reminders.run(memory_ledger, env, "t")
    still_clock.set(utc(first))
    on_time = reminders.run(memory_ledger, env, "t")
    repeated = []
    if again:
        still_clock.set(utc(again))
        repeated = reminders.run(memory_ledger, env, "t")

    day = utc(first).astimezone(ZoneInfo(zone)).date()
    assert early == []
    assert [(r.number, r.offset, r.day, r.status) for r in on_time] == [(number, 0, day, "sent")]
    assert day == (due + timedelta(days=1) if case == "apia-day-skipped" else due)
    assert repeated == []
    assert sent_offsets(memory_ledger, number) == [0]
    assert len(inbox.received) == 1


#: a profile change effective 2026-12-07 moves the customer across the date line
MOVES = {
    # Auckland (UTC+13) to Los Angeles (UTC-8): its day goes back from 12-07 to 12-06
    "west": (
        "Pacific/Auckland",
        "America/Los_Angeles",
        [(0, "2026-12-06"), (1, "2026-12-07"), (2, "2026-12-08")],
    ),
    # Los Angeles to Auckland: its day jumps from 12-06 to 12-07 13:00
    "east": (
        "America/Los_Angeles",
        "Pacific/Auckland",
        [(0, "2026-12-06"), (1, "2026-12-07"), (2, "2026-12-08")],
    ),
}


@pytest.mark.parametrize("move", list(MOVES))
def test_a_time_zone_changed_around_the_due_date_sends_each_stage_once(
    memory_ledger, still_clock, env, inbox, move
):
    old, new, expected = MOVES[move]
    number = owing(memory_ledger, still_clock, "MOV", old, date(2026, 12, 6), offsets=(0, 1, 2))
    memory_ledger.change_customer(
        "MOV", CustomerChanges(time_zone=new), "t", effective_from=date(2026, 12, 7)
    )
    sent = []
    moment = utc("2026-12-04T00:00:00")
    while moment <= utc("2026-12-10T00:00:00"):  # hourly, as the scheduler's job runs
        still_clock.set(moment)
        sent += [(r.offset, r.day.isoformat()) for r in reminders.run(memory_ledger, env, "t")]
        moment += timedelta(hours=1)

    assert sent == expected
    assert sent_offsets(memory_ledger, number) == [0, 1, 2]
    assert len(inbox.received) == 3


def test_as_of_the_latest_today_anywhere_is_taken_from_its_first_second(
    memory_ledger, still_clock, env, inbox
):
    kiritimati = owing(memory_ledger, still_clock, "KIR", "Pacific/Kiritimati", date(2026, 12, 6))
    owing(memory_ledger, still_clock, "LON", "UTC", date(2026, 12, 6))

    still_clock.set(utc("2026-12-05T09:59:59"))  # 23:59:59 on 12-05 at UTC+14
    with pytest.raises(InvalidDate, match="the latest today is 2026-12-05"):
        reminders.run(memory_ledger, env, "t", as_of=date(2026, 12, 6))
    still_clock.set(utc("2026-12-05T10:00:00"))  # 12-06 has begun at UTC+14
    done = reminders.run(memory_ledger, env, "t", as_of=date(2026, 12, 6))

    assert [(r.account, r.status) for r in done] == [("KIR", "sent"), ("LON", "not-yet")]
    assert sent_offsets(memory_ledger, kiritimati) == [0]
    assert len(inbox.received) == 1


@pytest.fixture
def smtp_port(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    port = free_port()
    monkeypatch.setenv("TOLLBOOK_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("TOLLBOOK_SMTP_PORT", str(port))
    monkeypatch.setenv("TOLLBOOK_SMTP_TLS", "none")
    monkeypatch.setenv("TOLLBOOK_SMTP_FROM", "billing@carrier.example")
    with smtp_server(port) as received:
        yield received


def test_a_stage_sent_on_the_utc_day_is_not_sent_again_on_the_local_day(
    make_ledger, tollbook, still_clock, smtp_port
):
    """As the job ran before (``--as-of`` the UTC day), then on each customer's own day:
    through the CLI, on SQLite and PostgreSQL."""
    ledger = make_ledger()
    due = date(2026, 12, 6)
    numbers = {
        "AKL": owing(ledger, still_clock, "AKL", "Pacific/Auckland", due, offsets=(-1, 0)),
        "LAX": owing(ledger, still_clock, "LAX", "America/Los_Angeles", due, offsets=(-1, 0)),
    }

    def remind(*args: str) -> list[tuple[str, int, str, str]]:
        result = tollbook("invoice", "remind", *args, "--json")
        assert result.code == 0, result.err
        return [(r["customer"], r["offset"], r["day"], r["status"]) for r in result.json()]

    still_clock.set(utc("2026-12-05T12:00:00"))  # UTC 12-05; Auckland 12-06; LA 12-05
    utc_day = remind("--as-of", "2026-12-05")
    local = remind()
    local_again = remind()
    utc_day_again = remind("--as-of", "2026-12-05")
    ahead = remind("--as-of", "2026-12-06")
    still_clock.set(utc("2026-12-06T08:00:00"))  # Los Angeles 12-06 00:00
    los_angeles = remind()
    later = remind()

    assert utc_day == [("AKL", -1, "2026-12-05", "sent"), ("LAX", -1, "2026-12-05", "sent")]
    assert local == [("AKL", 0, "2026-12-06", "sent")]
    assert local_again == utc_day_again == []
    assert ahead == [("LAX", 0, "2026-12-06", "not-yet")]  # Auckland's 0 is sent already
    assert los_angeles == [("LAX", 0, "2026-12-06", "sent")]
    assert later == []
    fresh = make_ledger()
    assert {a: sent_offsets(fresh, n) for a, n in numbers.items()} == {
        "AKL": [-1, 0],
        "LAX": [-1, 0],
    }
    assert len(smtp_port.received) == 4
