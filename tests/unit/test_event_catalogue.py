"""docs/events.md is generated from the event classes and must be current."""

from __future__ import annotations

from pathlib import Path

from adapters.event_catalogue import aggregates, events_of, render

DOC = Path(__file__).resolve().parents[2] / "docs" / "events.md"


def test_the_catalogue_in_docs_is_current():
    assert DOC.read_text(encoding="utf-8") == render(), (
        "docs/events.md is stale: run `python -m adapters.event_catalogue > docs/events.md`"
    )


def test_every_event_of_every_aggregate_is_in_the_catalogue_with_a_docstring():
    text = render()
    names = [f"{agg.__name__}.{event.__name__}" for agg in aggregates() for event in events_of(agg)]
    assert len(names) >= 20
    for agg in aggregates():
        for event in events_of(agg):
            assert f"`{agg.__name__}.{event.__name__}`" in text
            assert (event.__doc__ or "").strip(), f"{event.__qualname__} needs a docstring"
