"""The write side's contract: typed parameters, and If-Match's version as an argument.

A public method of the Ledger takes no untyped change-set (``Any``, or a ``dict``/``Mapping``
keyed by field name): a change is a model from domain/changes.py. The version a caller expects
an aggregate to be at is the command's own ``expected_version`` argument, never context set
aside (a ContextVar) by whoever called it.
"""

from __future__ import annotations

import ast
import inspect
import typing
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any

import pytest

from adapters.ledger.application import Ledger

ROOT = Path(__file__).resolve().parents[2]

#: The commands the HTTP API guards with If-Match (adapters/http/routers).
GUARDED = (
    "change_customer",
    "assign_package",
    "end_assignment",
    "change_package",
    "add_line",
    "add_package_line",
    "add_discount",
    "edit_line",
    "remove_line",
    "change_invoice_dates",
    "change_due_date",
    "issue_invoice",
    "void_invoice",
    "record_invoice_sent",
    "issue_credit_note",
    "complete_payment",
    "cancel_payment",
    "refund_payment",
    "allocate",
    "unallocate",
)


class _Loose(typing.TypedDict):
    name: str
    extra: Any


class _Typed(typing.TypedDict):
    name: str


def _untyped(hint: object) -> bool:
    """``Any`` anywhere in the annotation, or a mapping keyed by ``str`` (a change-set)."""
    if hint is Any:
        return True
    if typing.is_typeddict(hint):  # keyword fields (``**fields: Unpack[...]``): each typed
        return any(_untyped(value) for value in typing.get_type_hints(hint).values())
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (dict, Mapping, MutableMapping) and args and args[0] is str:
        return True
    return any(_untyped(arg) for arg in args)


def _public_methods() -> list[tuple[str, Any]]:
    return [
        (name, member)
        for name, member in inspect.getmembers(Ledger, inspect.isfunction)
        # tollbook's own: eventsourcing's Application methods are the library's API
        if not name.startswith("_") and member.__module__.startswith("domain.")
    ]


def _untyped_parameters() -> set[tuple[str, str]]:
    found = set()
    for name, method in _public_methods():
        hints = typing.get_type_hints(method)
        for parameter in inspect.signature(method).parameters.values():
            if parameter.name != "self" and _untyped(hints.get(parameter.name, Any)):
                found.add((name, parameter.name))
    return found


def test_no_public_ledger_method_takes_an_untyped_change_set() -> None:
    assert _untyped_parameters() == set(), "type these parameters (see domain/changes.py)"


def test_the_check_sees_an_untyped_change_set() -> None:
    # the check itself can fail: these are what the commands took before they were typed
    assert _untyped(dict[str, Any])
    assert _untyped(typing.Sequence[dict[str, Any]] | None)
    assert _untyped(dict[str, typing.Optional[int]])  # noqa: UP045 - as written in the wild
    assert not _untyped(typing.Sequence[tuple[str, int]])
    assert _untyped(typing.Unpack[_Loose])
    assert not _untyped(typing.Unpack[_Typed])


@pytest.mark.parametrize("command", GUARDED)
def test_a_guarded_command_takes_its_expected_version_as_an_argument(command: str) -> None:
    method = getattr(Ledger, command)
    parameter = inspect.signature(method).parameters.get("expected_version")
    assert parameter is not None, f"{command} takes no expected_version"
    assert parameter.kind is inspect.Parameter.KEYWORD_ONLY
    assert parameter.default is None
    assert typing.get_type_hints(method)["expected_version"] == int | None


def _context_variables() -> list[tuple[str, str]]:
    """(module, variable name) of every ContextVar the application declares."""
    found = []
    for package in ("domain", "projections", "adapters", "scheduler"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (
                    isinstance(node, ast.Call)
                    and getattr(node.func, "id", getattr(node.func, "attr", "")) == "ContextVar"
                    and node.args
                    and isinstance(node.args[0], ast.Constant)
                ):
                    found.append((str(path.relative_to(ROOT)), str(node.args[0].value)))
    return found


def test_no_context_variable_carries_an_expected_version() -> None:
    names = _context_variables()
    assert names, "the scan found no ContextVar at all: it is looking in the wrong place"
    assert [n for n in names if "expect" in n[1] or "version" in n[1]] == []
    assert not [n for n in names if n[0].startswith("domain/") and "keyed" not in n[1]]
    assert not hasattr(Ledger, "expecting") and not hasattr(Ledger, "expect")
