"""Hostile reminder schedules (dunning): too many days, days out of range, repeated days, not
numbers at all, control characters, floats and booleans. Each is refused with its code and
field, by the domain (what every surface goes through), the CLI (exit 2, one line) and HTTP
(422 problem naming ``reminder_offsets``), and writes nothing."""

from __future__ import annotations

import pytest

from domain.changes import CustomerChanges
from domain.dunning import check_offsets, parse_offsets
from domain.errors import InvalidInput, OutOfRange
from tests.helpers import event_count
from tests.service.conftest import (  # noqa: F401  (the HTTP fixtures, on the test's store)
    Api,
    client,
    keys,
    make_customer,
    services,
)

TEXT_CASES = [
    # (CLI text, error class, words)
    (",".join(str(d) for d in range(11)), OutOfRange, "at most 10 reminders"),
    ("-91", OutOfRange, "between -90 and +365"),
    ("366", OutOfRange, "between -90 and +365"),
    ("7,0,7", InvalidInput, "+7 repeated"),
    ("+0,-0", InvalidInput, "0 repeated"),
    ("seven", InvalidInput, "is not one"),
    ("7.5", InvalidInput, "is not one"),
    ("1e2", InvalidInput, "is not one"),
    ("7;14", InvalidInput, "is not one"),
    ("7,,14", InvalidInput, "is not one"),
    ("0x10", InvalidInput, "is not one"),
    ("0007", InvalidInput, "is not one"),  # four digits: nothing this long is a day offset
    ("٣", InvalidInput, "is not one"),  # an Arabic-Indic digit, which int() would take
    ("7\n14", InvalidInput, "line break"),
    ("7\x1b[31m", InvalidInput, "control character"),
    ("7," * 200, InvalidInput, "at most 200"),
]


@pytest.mark.parametrize(("text", "error", "words"), TEXT_CASES)
def test_the_domain_refuses_a_bad_schedule_text_naming_the_field(text, error, words):
    with pytest.raises(error) as refused:
        parse_offsets(text)
    assert words in str(refused.value), str(refused.value)
    assert refused.value.field == "reminder_offsets"


@pytest.mark.parametrize(
    "values",
    [[True], [7.0], ["7"], [None], list(range(-5, 6)), [400], [-7, -7]],
)
def test_the_domain_refuses_bad_schedule_values(values):
    with pytest.raises(InvalidInput) as refused:
        check_offsets(values)
    assert refused.value.field == "reminder_offsets"


def test_a_schedule_is_kept_ascending_and_none_clears_it():
    assert parse_offsets(" 30, -7 ,+14,0 ") == (-7, 0, 14, 30)
    assert parse_offsets("none") == parse_offsets("") == ()
    assert CustomerChanges(reminder_offsets=(14, -3)).given() == {"reminder_offsets": (-3, 14)}


def test_a_bad_schedule_on_a_change_writes_nothing(memory_ledger):
    memory_ledger.register_customer("t", account_number="ACME", name="Acme")
    before = event_count(memory_ledger)
    for offsets in ((7, 7), (1000,), tuple(range(12))):
        with pytest.raises(InvalidInput) as refused:
            memory_ledger.change_customer("ACME", CustomerChanges(reminder_offsets=offsets), "t")
        assert refused.value.field == "reminder_offsets"
    with pytest.raises(InvalidInput):
        memory_ledger.register_customer(
            "t", account_number="BETA", name="Beta", reminder_offsets=(-100,)
        )
    assert event_count(memory_ledger) == before


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)  # the refusal is the domain's
@pytest.mark.parametrize(
    ("text", "words"), [("7,7", "+7 repeated"), ("1e2", "is not one"), ("-91", "between")]
)
def test_the_cli_refuses_a_bad_schedule_in_one_line(tollbook, make_ledger, text, words):
    assert tollbook("customer", "add", "ACME", "--name", "Acme").code == 0
    before = event_count(make_ledger())
    result = tollbook("customer", "update", "ACME", "--reminders", text)
    assert result.code == 2, result.err
    assert len(result.err.strip().splitlines()) == 1 and words in result.err
    assert event_count(make_ledger()) == before


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)  # the refusal is the domain's
@pytest.mark.parametrize(
    ("offsets", "code"),
    [
        ([7, 7], "invalid_input"),
        ([-91], "out_of_range"),
        (list(range(11)), "out_of_range"),
        ([7.5], None),  # not a whole number: the request schema refuses it
        ([True], None),  # JSON's true is no integer
    ],
)
def test_http_refuses_a_bad_schedule_with_a_problem(request, store_url, offsets, code):
    writer = Api(request.getfixturevalue("client"), request.getfixturevalue("keys")["write"])
    ledger = request.getfixturevalue("services").ledger
    make_customer(writer)
    before = event_count(ledger)
    response = writer.patch("/customers/ACME", {"reminder_offsets": offsets})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    if code is not None:
        assert problem["code"] == code and problem.get("field") == "reminder_offsets"
    assert event_count(ledger) == before
    fine = writer.patch("/customers/ACME", {"reminder_offsets": [14, -7, 0]})
    assert fine.status_code == 200, fine.text
    assert fine.json()["reminder_offsets"] == [-7, 0, 14]
