"""Hostile structured addresses on the CLI and the HTTP API: five lines, overlong parts, bad
country codes, control characters. Each refusal is exact (exit code and code in brackets, or
HTTP status and problem type) and the number of stored events does not change. The limits do
not depend on the store: SQLite only."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from adapters.app.context import Services
from tests.helpers import customer, event_count
from tests.hostile.test_http_errors import (  # noqa: F401  (fixtures, used by name)
    World,
    _quiet,
    _webhooks_may_reach_this_machine,
    _world,
    assert_problem,
    finance,
    services,
)
from tests.portal.support import Browser, error_of

pytestmark = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)

ESC, RLO, NUL, BELL = "\x1b", "\u202e", "\x00", "\x07"
ONE = {"lines": ["1 Road"]}

# (the address, the refusal's code)
ADDRESSES: list[tuple[dict[str, Any], str]] = [
    ({"lines": ["1", "2", "3", "4", "5"]}, "out_of_range"),
    ({"lines": ["l"] * 1000}, "out_of_range"),
    ({"lines": ["x" * 101]}, "text_too_long"),
    ({"lines": ["a", "b", "c", "x" * 10_000]}, "text_too_long"),
    ({**ONE, "city": "c" * 101}, "text_too_long"),
    ({**ONE, "region": "r" * 101}, "text_too_long"),
    ({**ONE, "postal_code": "1" * 21}, "text_too_long"),
    ({**ONE, "country": "UK"}, "unknown_country"),
    ({**ONE, "country": "XX"}, "unknown_country"),
    ({**ONE, "country": "GBR"}, "unknown_country"),
    ({**ONE, "country": "g b"}, "unknown_country"),
    ({**ONE, "country": "ＧＢ"}, "unknown_country"),  # full-width letters
    ({**ONE, "country": f"G{NUL}"}, "unknown_country"),
    ({"lines": [f"1 Road{NUL}"]}, "invalid_characters"),
    ({"lines": [f"{ESC}[2J{ESC}[31m1 Road"]}, "invalid_characters"),
    ({"lines": [f"1 Road{RLO}"]}, "invalid_characters"),
    ({"lines": ["1 Road\nLeeds"]}, "invalid_characters"),
    ({"lines": ["1\tRoad"]}, "invalid_characters"),
    ({**ONE, "city": f"Leeds{BELL}"}, "invalid_characters"),
    ({**ONE, "region": f"{RLO}shire"}, "invalid_characters"),
    ({**ONE, "postal_code": "LS1<script>"}, "invalid_characters"),
    ({**ONE, "postal_code": "-LS1"}, "invalid_characters"),
    ({**ONE, "postal_code": "ЛС1"}, "invalid_characters"),
    ({"lines": [], "city": "Leeds"}, "invalid_input"),
    ({"lines": ["   ", ""]}, "invalid_input"),
]
IDS = [f"{code}-{i}" for i, (_, code) in enumerate(ADDRESSES)]


def _options(address: dict[str, Any]) -> list[str]:
    options = [part for line in address.get("lines", []) for part in ("--address-line", line)]
    for key in ("city", "region", "postal_code", "country"):
        if key in address:
            options += [f"--{key.replace('_', '-')}", address[key]]
    return options


@pytest.mark.parametrize(("address", "code"), ADDRESSES, ids=IDS)
def test_a_hostile_address_on_the_command_line_is_refused_and_writes_nothing(
    tollbook: Any, make_ledger: Any, address: dict[str, Any], code: str
) -> None:
    ledger = make_ledger()
    customer(ledger, "ACME")
    before = event_count(ledger)

    for command in (["customer", "update", "ACME"], ["customer", "add", "NEW", "--name", "N"]):
        result = tollbook(*command, *_options(address))

        assert result.code == 2, (result.code, result.err)
        (line,) = result.err.splitlines()
        assert line.startswith("error: ") and line.endswith(f" [{code}]"), line
        assert not any(ch in line for ch in (ESC, RLO, NUL, BELL)), repr(line)
        assert result.out == ""
    assert event_count(ledger) == before


def test_a_customer_without_a_structured_address_cannot_get_one_by_its_city_alone(
    tollbook: Any, make_ledger: Any
) -> None:
    ledger = make_ledger()
    ledger.register_customer("t", account_number="OLD", name="Old", billing_address="1 Road")
    before = event_count(ledger)

    result = tollbook("customer", "update", "OLD", "--city", "Leeds")

    assert result.err == "error: an address needs at least one address line [invalid_input]\n"
    assert event_count(ledger) == before


@pytest.fixture
def world(services: Services) -> Iterator[World]:  # noqa: F811
    yield from _world(services)


@pytest.mark.parametrize(("address", "code"), ADDRESSES, ids=IDS)
def test_a_hostile_address_over_http_is_a_422_problem_and_writes_nothing(
    world: World, address: dict[str, Any], code: str
) -> None:
    before = event_count(world.services.ledger)

    changed = world.call("PATCH", "/customers/ACME", {"address": address})
    created = world.call(
        "POST", "/customers", {"account_number": "NEW", "name": "N", "address": address}
    )

    assert_problem(changed, 422, code)
    assert_problem(created, 422, code)
    assert event_count(world.services.ledger) == before


@pytest.mark.parametrize(
    "address",
    [
        {"lines": "1 Road"},  # a string, not a list of lines
        {"lines": [1, 2]},
        {"lines": ["1 Road"], "country": 44},
        {"lines": ["1 Road"], "street": "2 Road"},  # not a part of an address
        ["1 Road"],
    ],
)
def test_an_address_of_the_wrong_shape_is_a_validation_problem(world: World, address: Any) -> None:
    before = event_count(world.services.ledger)

    response = world.call("PATCH", "/customers/ACME", {"address": address})

    problem = assert_problem(response, 422, "validation_error")
    assert all("address" in error["field"] for error in problem["errors"]), problem["errors"]
    assert event_count(world.services.ledger) == before


def test_an_address_set_and_removed_over_http(world: World) -> None:
    address = {"lines": ["Bahnhofstrasse 1"], "city": "Zürich", "country": "ch"}

    body = world.call("PATCH", "/customers/ACME", {"address": address}).json()

    assert body["address"] == {**address, "region": "", "postal_code": "", "country": "CH"}
    removed = world.call("PATCH", "/customers/ACME", {"address": None}).json()
    assert removed["address"] is None and removed["postal_address"]["lines"] == []


# the portal's words for each code's refusal, and the field it is shown beside
PORTAL_WORDS = {
    "out_of_range": ("s-address_lines", "at most 4 address lines"),
    "text_too_long": (None, "must be at most"),
    "invalid_characters": (None, "must"),
    "unknown_country": ("s-country", "iso 3166-1 alpha-2"),
    "invalid_input": ("s-address_lines", "at least one address line"),
}
FIELD_OF = {"city": "s-city", "region": "s-region", "postal_code": "s-postal_code"}


def _portal_form(address: dict[str, Any]) -> tuple[dict[str, str], str]:
    form = {"name": "Acme Telecom", "tax_rate": "20", "payment_terms_days": "14"}
    form["address_lines"] = "\n".join(address.get("lines", []))
    extra = [key for key in FIELD_OF if key in address]
    for key in (*FIELD_OF, "country"):
        form[key] = address.get(key, "")
    return form, FIELD_OF[extra[0]] if extra else "s-address_lines"


# a line break inside a line cannot be typed into the textarea (it makes two lines), and a form
# whose address parts are all blank means "no structured address": neither is a refusal there
PORTAL_ADDRESSES = [
    (a, c)
    for a, c in ADDRESSES
    if not any("\n" in x for x in a["lines"]) and (any(x.strip() for x in a["lines"]) or len(a) > 1)
]


@pytest.mark.parametrize(("address", "code"), PORTAL_ADDRESSES)
def test_a_hostile_address_in_the_portal_form_is_shown_beside_its_field_and_writes_nothing(
    world: World,
    finance: Browser,  # noqa: F811
    address: dict[str, Any],
    code: str,
) -> None:
    form, field = _portal_form(address)
    field = PORTAL_WORDS[code][0] or field
    before = event_count(world.services.ledger)

    response = finance.post("/portal/customers/ACME/settings", form)

    assert response.status_code == 422
    said = error_of(response.text, field)
    assert PORTAL_WORDS[code][1] in said, (field, response.text[-3000:])
    assert not any(ch in said for ch in (ESC, RLO, NUL, BELL)), repr(said)
    assert event_count(world.services.ledger) == before
