"""Route handlers stay short: parse → service → map error → respond (issue #14).

The measure is the handler's *statements*: every ``ast.stmt`` node in its body, nested ones
included (an ``if`` and the two statements inside it count three), the docstring left out.
A statement is a step a reader follows whatever the formatter does with it, so a call
spread over ten lines of keyword arguments counts once, while a loop with a branch inside
counts every step. A route handler is a function decorated with ``@<router>.get/.post/...``
in the portal's pages and the HTTP API's routers; the helpers it calls are not limited here.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODULES = sorted(
    [
        *(ROOT / "adapters" / "portal" / "pages").glob("*.py"),
        *(ROOT / "adapters" / "http" / "routers").glob("*.py"),
    ]
)
ROUTE_METHODS = {"get", "post", "put", "patch", "delete", "head", "options", "api_route"}
MAX_STATEMENTS = 15


def route_handlers(path: Path) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and any(
            isinstance(d, ast.Call)
            and isinstance(d.func, ast.Attribute)
            and d.func.attr in ROUTE_METHODS
            for d in node.decorator_list
        ):
            yield node


def statements(handler: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    body = handler.body
    first = body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
        body = body[1:]  # the docstring
    return sum(isinstance(node, ast.stmt) for part in body for node in ast.walk(part))


def test_the_walk_finds_the_handlers() -> None:
    found = {h.name for path in MODULES for h in route_handlers(path)}
    # a few known handlers of each kind, so a renamed decorator cannot empty the check
    assert {"add_line", "register_customer", "allocate", "login"} <= found
    assert {"create_invoice", "stream", "feed"} <= found
    assert len(found) > 40


@pytest.mark.parametrize("path", MODULES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_route_handler_is_over_15_statements(path: Path) -> None:
    too_long = [
        f"{path.relative_to(ROOT)}:{h.lineno} {h.name} has {statements(h)} statements"
        for h in route_handlers(path)
        if statements(h) > MAX_STATEMENTS
    ]
    assert not too_long, (
        f"route handlers over {MAX_STATEMENTS} statements (move parsing, queries or rendering"
        " into helpers; see docs/architecture.md): " + "; ".join(too_long)
    )
