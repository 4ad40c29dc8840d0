"""Hostile days for the dunning run (docs/dunning.md, "Whose day"): an ``as_of`` far in the
future or one day past the earliest time zone's today, refused by the CLI (exit 2, one line) and
HTTP (422 problem naming ``as_of``) with nothing sent or written; and a customer whose stored
time zone this machine's tz database does not know (the profile refuses one when it is set, so
only a zone since removed, here written past the domain, can be there): its reminders fall back
to the UTC day and the other customers' run is not held up."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal as D

import pytest

from adapters.mail import reminders
from domain.customer import Customer
from domain.errors import InvalidInput
from domain.invoice import Invoice
from tests.helpers import event_count
from tests.hostile.poison import poisoned_customer
from tests.mail_support import Inbox, smtp_server, smtp_settings
from tests.service.conftest import (  # noqa: F401  (the HTTP fixtures, on the test's store)
    Api,
    client,
    keys,
    make_customer,
    services,
)

SQLITE = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)  # the run's rule


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = smtp_settings()
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


@pytest.fixture
def inbox(env: dict[str, str]) -> Iterator[Inbox]:
    with smtp_server(int(env["TOLLBOOK_SMTP_PORT"])) as received:
        yield received


def _owing(ledger, account: str) -> str:
    invoice_id = ledger.create_invoice(account, "t")  # due the day it is dated
    ledger.add_line(invoice_id, "t", description="Port", quantity=D("1"), unit_price=D("9"))
    return ledger.issue_invoice(invoice_id, "t")


@SQLITE
@pytest.mark.parametrize("as_of", ["9999-12-31", "2026-10-03", "0001-01-01"])
def test_the_cli_refuses_a_day_begun_nowhere_or_out_of_range(
    tollbook, make_ledger, clock, env, inbox, as_of
):
    ledger = make_ledger()
    ledger.register_customer(
        "t", account_number="AKL", name="Akl", currency="GBP", tax_rate=D("0"),
        payment_terms_days=0, email="ap@akl.example", time_zone="Pacific/Kiritimati",
        reminder_offsets=(0, 1),
    )  # fmt: skip
    _owing(ledger, "AKL")  # 2026-10-01 09:00 UTC: 2026-10-01 23:00 at UTC+14
    before = event_count(ledger)

    refused = tollbook("invoice", "remind", "--as-of", as_of)

    assert refused.code == 2, refused.err
    assert len(refused.err.strip().splitlines()) == 1
    assert inbox.received == [] and event_count(ledger) == before
    clock.set(datetime(2026, 10, 1, 10, 0, tzinfo=UTC))  # 10-02 has begun at UTC+14
    assert tollbook("invoice", "remind", "--as-of", "2026-10-02").code == 0
    assert len(inbox.received) == 1


@SQLITE
@pytest.mark.parametrize("as_of", ["9999-12-31", "2026-10-03", "10000-01-01", "2026-02-30"])
def test_http_refuses_a_day_begun_nowhere_with_a_problem(request, store_url, env, inbox, as_of):
    writer = Api(request.getfixturevalue("client"), request.getfixturevalue("keys")["write"])
    ledger = request.getfixturevalue("services").ledger
    make_customer(writer)
    writer.patch("/customers/ACME", {"email": "ap@acme.example", "reminder_offsets": [-14]})
    before = event_count(ledger)

    response = writer.post("/dunning/run", {"as_of": as_of})

    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "as_of" in response.text
    assert inbox.received == [] and event_count(ledger) == before


def test_a_customer_with_a_removed_time_zone_is_reminded_on_the_utc_day(
    memory_ledger, clock, env, inbox
):
    customer_id, _ = poisoned_customer(
        memory_ledger, "GONE", time_zone="US/Pacific-Old", email="ap@gone.example",
        currency="GBP", tax_rate=D("0"), payment_terms_days=0, reminder_offsets=(0, 1),
    )  # fmt: skip
    memory_ledger.register_customer(
        "t", account_number="LAX", name="Lax", currency="GBP", tax_rate=D("0"),
        payment_terms_days=0, email="ap@lax.example", time_zone="America/Los_Angeles",
        reminder_offsets=(0, 1),
    )  # fmt: skip
    clock.set(datetime(2026, 10, 1, 12, 0, tzinfo=UTC))
    gone, los_angeles = _owing(memory_ledger, "GONE"), _owing(memory_ledger, "LAX")
    with pytest.raises(InvalidInput, match="unknown time zone"):
        memory_ledger.customer(customer_id).today_at(clock.now)
    assert isinstance(memory_ledger.customer(customer_id), Customer)

    clock.set(datetime(2026, 10, 2, 3, 0, tzinfo=UTC))  # UTC 10-02; Los Angeles 10-01 20:00
    done = reminders.run(memory_ledger, env, "t")

    assert [(r.number, r.offset, r.day, r.status) for r in done] == [
        (gone, 1, date(2026, 10, 2), "sent"),
        (los_angeles, 0, date(2026, 10, 1), "sent"),
    ]
    events = memory_ledger.events_of(memory_ledger.invoice_id(gone))
    assert [e.offset for e in events if isinstance(e, Invoice.ReminderSent)] == [1]
    assert len(inbox.received) == 2
