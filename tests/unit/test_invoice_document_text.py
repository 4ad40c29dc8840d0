"""The invoice documents read model's stored text loads back to the document it was made from,
whatever its strings hold (``tollbook invoice show`` prints what it loads)."""

from __future__ import annotations

import json

import pytest

from projections.invoice_documents import document_text


@pytest.mark.parametrize(
    "text",
    [
        "plain",
        "Café — 10 € 😀",
        "NUL\x00ACC",
        "\x1b[2J\x7f\u202e\u2028",
        'quote " backslash \\ slash /',
        "lone \ud800 surrogate",  # UTF-8 cannot hold it: written as an ASCII escape
    ],
    ids=repr,
)
def test_the_stored_text_loads_back_to_the_same_document(text: str) -> None:
    document = {"memo": text, "lines": [{"description": text, "net": "1.00"}], "void": None}
    stored = document_text(document)
    assert json.loads(stored) == document
    assert "\x00" not in stored  # PostgreSQL's text columns cannot hold a NUL
    assert "\x1b" not in stored  # control characters stay escapes


def test_the_stored_text_is_compact_and_keeps_the_keys_order() -> None:
    document = {"b": 1, "a": [None, "x"], "c": {"z": "0.10", "y": True}}
    assert document_text(document) == '{"b":1,"a":[null,"x"],"c":{"z":"0.10","y":true}}'
