"""Writes docs/events.md from the event classes themselves, so the catalogue cannot drift.

Run ``python -m adapters.event_catalogue > docs/events.md``; a test fails when the file is stale.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Iterator
from typing import Any, get_args

from pydantic import BaseModel

import domain
from domain.aggregate import Aggregate, Event
from domain.limits import FIELD_LIMITS

COMMON = ("originator_id", "originator_version", "timestamp", "actor", "reason")

HEADER = """# Event catalogue

Generated from the code by `python -m adapters.event_catalogue > docs/events.md`; a test keeps
it current. Every event is a frozen pydantic model stored append-only as JSON
(`model_dump(mode="json")`): amounts are decimal strings, dates ISO 8601, ids UUIDs.

Every event also carries these fields:

| field | type | meaning |
| --- | --- | --- |
| `originator_id` | UUID | the aggregate the event belongs to |
| `originator_version` | int | the aggregate's version after the event (1 = created) |
| `timestamp` | datetime (UTC) | when it happened, from the ledger's clock |
| `actor` | str | who did it (CLI user, API key name, job) |
| `reason` | str or null | why, when the command took one (void, credit, un-allocation, ...) |

The stored topic of an event is `module:Aggregate.Event`, e.g. `domain.invoice:Invoice.Issued`.

The *limit* column is what the commands that write an event accept (`domain/limits.py`; why
these numbers: docs/money.md, "Limits"). Text is never accepted with a control character
(C0/C1, so no NUL and no ANSI escape), a lone surrogate, U+2028/U+2029 or a bidirectional
embedding/override/isolate (U+202A–U+202E, U+2066–U+2069); "one line" refuses line breaks and
tabs too. Money is below 10^(15 − the currency's minor units) (GBP: 10,000,000,000,000) and
exact in minor units; a document's total obeys the same bound. `before`/`after` of a change
hold fields under the same limits. An event stored before a limit existed may hold a value
outside it. `actor` ≤ 200 characters, one line; `reason` ≤ 1,000 characters.
"""


def aggregates() -> Iterator[type[Aggregate]]:
    seen: set[type[Aggregate]] = set()
    for module_info in sorted(pkgutil.iter_modules(domain.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"domain.{module_info.name}")
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, Aggregate)
                and value is not Aggregate
                and value.__module__ == module.__name__
                and value not in seen
            ):
                seen.add(value)
                yield value


def events_of(aggregate: type[Aggregate]) -> list[type[Event]]:
    return list(aggregate.declared_events())


def type_name(annotation: Any) -> str:
    text = getattr(annotation, "__name__", None) if isinstance(annotation, type) else None
    text = text or str(annotation)
    text = re.sub(r"typing\.|datetime\.|decimal\.|uuid\.|domain\.[a-z_]+\.", "", text)
    text = re.sub(r"Annotated\[(\w+), .*?\]\]?", r"\1", text)
    return text.replace("NoneType", "None")


def render() -> str:
    out = [HEADER]
    for aggregate in aggregates():
        doc = (aggregate.__doc__ or "").strip().splitlines()[0]
        out.append(f"\n## {aggregate.__name__} (`{aggregate.__module__}`)\n\n{doc}\n")
        for event in events_of(aggregate):
            summary = " ".join((event.__doc__ or "").split())
            out.append(f"\n### `{aggregate.__name__}.{event.__name__}`\n\n{summary}\n")
            fields = [(n, f) for n, f in event.model_fields.items() if n not in COMMON]
            if not fields:
                out.append("\nNo fields beyond the common ones.\n")
                continue
            out.append(TABLE_HEAD)
            out.extend(row(n, f.annotation, event.__name__) for n, f in fields)
    out.append("\n## Value types carried inside events\n")
    for model in value_types():
        summary = " ".join((model.__doc__ or "").split())
        out.append(f"\n### `{model.__name__}` (`{model.__module__}`)\n\n{summary}\n")
        out.append(TABLE_HEAD)
        out.extend(
            row(name, field.annotation, model.__name__)
            for name, field in model.model_fields.items()
        )
    return "".join(out)


TABLE_HEAD = "\n| field | type | limit |\n| --- | --- | --- |\n"


def row(name: str, annotation: Any, owner: str = "") -> str:
    # a union's "|" would end the cell
    shown = type_name(annotation).replace("|", "\\|")
    # "Model.field" names a limit of that model's field alone (an address's lines)
    limit = FIELD_LIMITS.get(f"{owner}.{name}", FIELD_LIMITS.get(name, ""))
    return f"| `{name}` | {shown} | {limit} |\n"


def value_types() -> list[type[BaseModel]]:
    """The pydantic models nested in event fields (lines, snapshots, profiles, ...)."""
    found: dict[str, type[BaseModel]] = {}

    def visit(annotation: Any) -> None:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if not issubclass(annotation, Event) and annotation.__name__ not in found:
                found[annotation.__name__] = annotation
                for field in annotation.model_fields.values():
                    visit(field.annotation)
            return
        for arg in get_args(annotation):
            visit(arg)

    for aggregate in aggregates():
        for event in events_of(aggregate):
            for field in event.model_fields.values():
                visit(field.annotation)
    return [found[name] for name in sorted(found)]


if __name__ == "__main__":
    print(render(), end="")
