"""Structured addresses through ``tollbook customer add/update``: the round trip of the new
event on both stores, the refusals (storage-independent) on SQLite."""

from __future__ import annotations

import pytest

SQLITE = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)


def test_an_address_is_added_changed_part_by_part_and_removed(tollbook):
    added = tollbook(
        "customer", "add", "ZRH01", "--name", "Zürich Telekom AG", "--currency", "CHF",
        "--address", "Old free text\\nSecond line",
        "--address-line", "Bahnhofstrasse 1", "--address-line", "c/o Büro 4",
        "--city", "Zürich", "--postal-code", "8001", "--country", "ch", "--json",
    )  # fmt: skip
    assert added.code == 0, added.err
    doc = added.json()
    assert doc["address"] == {
        "lines": ["Bahnhofstrasse 1", "c/o Büro 4"],
        "city": "Zürich",
        "region": "",
        "postal_code": "8001",
        "country": "CH",
    }
    assert doc["postal_address"] == doc["address"]
    assert doc["billing_address"] == "Old free text\nSecond line"

    changed = tollbook("customer", "update", "ZRH01", "--region", "ZH", "--json").json()
    assert changed["address"]["region"] == "ZH"
    assert changed["address"]["lines"] == ["Bahnhofstrasse 1", "c/o Büro 4"]  # kept

    shown = tollbook("customer", "show", "ZRH01")
    assert "Bahnhofstrasse 1 / c/o Büro 4 / Zürich / ZH / 8001 / Switzerland" in shown.out

    removed = tollbook("customer", "update", "ZRH01", "--no-address", "--json").json()
    assert removed["address"] is None
    assert removed["postal_address"]["lines"] == ["Old free text", "Second line"]


@SQLITE
@pytest.mark.parametrize(
    ("options", "code", "words"),
    [
        (["--address-line", "1", "--address-line", "2", "--address-line", "3",
          "--address-line", "4", "--address-line", "5"], "out_of_range", "at most 4 address"),
        (["--address-line", "x" * 101], "text_too_long", "address line 1 must be at most 100"),
        (["--address-line", "1 Road", "--country", "UK"], "unknown_country", "ISO 3166-1"),
        (["--address-line", "1 Road", "--city", "\x1b[2J"], "invalid_characters", "city"),
        (["--city", "Leeds"], "invalid_input", "at least one address line"),
    ],
)  # fmt: skip
def test_a_refused_address_exits_with_its_code_and_writes_nothing(tollbook, options, code, words):
    assert tollbook("customer", "add", "C1", "--name", "One").code == 0
    before = tollbook("customer", "show", "C1", "--json").json()["version"]

    refused = tollbook("customer", "update", "C1", *options, "--json")

    assert refused.code == 2
    problem = refused.json() if refused.out.strip() else {}
    assert code in refused.err + refused.out and words in refused.err + refused.out, problem
    assert tollbook("customer", "show", "C1", "--json").json()["version"] == before
