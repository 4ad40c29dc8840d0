"""Hostile If-None-Match headers on the conditional reads: a malformed one is a 400 problem
document (``invalid_if_none_match``), never a 304 and never a 500; nothing is written; a
request that would fail without the header fails the same with it (no 304 for a bad query)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from adapters.app.context import Services
from adapters.clock import SteppingClock
from adapters.service.app import create_app
from tests.helpers import event_count

PROBLEM = "application/problem+json"

MALFORMED = [
    "3",  # not quoted
    '"3',  # unbalanced
    'W/3"',
    'w/"3"',  # the weakness prefix is case-sensitive
    '"3" "4"',  # no comma
    '"a"b"',
    '"tab\tinside"',
    '" 1"',  # a space is no entity-tag character
    '"é"',  # outside the entity-tag characters
    '"3",',  # an empty member
    ",",
    "**",
    '*, "3"',
    "W/*",
    '"' + "9" * 5000 + '"',  # past the length limit
    ", ".join(f'"{n}"' for n in range(65)),  # past the count limit
]


@pytest.fixture
def services(store_url: str, clock: SteppingClock) -> Iterator[Services]:
    built = Services.from_url(store_url, clock=clock)
    yield built
    built.close()


@pytest.fixture
def world(services: Services) -> Iterator[tuple[TestClient, dict[str, str], str]]:
    key = services.api_keys.create("hostile-reader", "write")
    headers = {"Authorization": f"Bearer {key}"}
    with TestClient(create_app(services)) as client:
        client.post(
            "/customers", json={"account_number": "ACME", "name": "Acme"}, headers=headers
        ).raise_for_status()
        draft = client.post("/invoices", json={"customer": "ACME"}, headers=headers).json()
        yield client, headers, draft["id"]


def _latin1(value: str) -> dict[str, bytes]:
    return {"If-None-Match": value.encode("utf-8")}


@pytest.mark.parametrize("value", MALFORMED)
def test_a_malformed_if_none_match_is_refused(world: Any, value: str, services: Services) -> None:
    client, headers, invoice_id = world
    before = event_count(services.ledger)
    for path in (f"/invoices/{invoice_id}", "/invoices", "/balances"):
        for _ in range(2):  # made, then kept: the kept answer refuses it the same way
            answer = client.get(path, headers={**headers, **_latin1(value)})
            assert answer.status_code == 400, (path, value, answer.status_code)
            assert answer.headers["content-type"].startswith(PROBLEM)
            assert answer.json()["code"] == "invalid_if_none_match"
            client.get(path, headers=headers).raise_for_status()
    assert event_count(services.ledger) == before


def test_a_match_never_hides_a_refusal(world: Any) -> None:
    client, headers, _ = world
    star = {**headers, "If-None-Match": "*"}
    assert client.get("/invoices", headers=star).status_code == 304
    bad_cursor = client.get("/invoices", params={"cursor": "garbage"}, headers=star)
    assert bad_cursor.status_code == 422 and bad_cursor.json()["code"] == "invalid_page"
    bad_status = client.get("/invoices", params={"status": "nonsense"}, headers=star)
    assert bad_status.status_code == 422
    unknown = client.get("/invoices/00000000-0000-0000-0000-000000000000", headers=star)
    assert unknown.status_code == 404
    assert client.get("/invoices/nonsense", headers=star).status_code == 404
    assert client.get("/balances", headers={"If-None-Match": "*"}).status_code == 401


def test_tags_that_look_like_versions_match_only_the_version(world: Any) -> None:
    client, headers, invoice_id = world
    path = f"/invoices/{invoice_id}"
    current = client.get(path, headers=headers).headers["etag"]
    for near in ('"01"', '"1.0"', '"-1"', '"1e0"', f'"{"9" * 400}"', '""'):
        answer = client.get(path, headers={**headers, "If-None-Match": near})
        assert answer.status_code == 200, near
    assert client.get(path, headers={**headers, "If-None-Match": current}).status_code == 304
