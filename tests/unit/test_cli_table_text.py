"""The CLI's tables and lines print what rich prints for the same strings.

``adapters.cli.context`` hands rich a ``Text`` instead of a plain string where rich would make
the same one (no markup, no emoji code), and prints a line without emoji codes where none can
fit: these tests hold the printed bytes to rich's own rendering of the strings, on a terminal
(styles) and off it, over hostile text (markup, emoji codes, escapes, wide characters, tabs;
not links: rich numbers each link it prints at random).
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.table import Table

from adapters.cli import context

PIECES = [
    "a", "Zo", " ", "  ", "\t", "[", "]", "[bold]", "[/bold]", "[/]", "\\[", ":", "::",
    ":smile:", ":thumbs_up:", ":smile-emoji:", ":1:", "é", "中文", "🙂", "-", "/", "10.00",
    "0", "INV-{year}-{seq:06d}", "12:30:00", "[italic]", "\n",
]  # fmt: skip

texts = st.lists(st.sampled_from(PIECES), max_size=6).map("".join)


def _consoles(terminal: bool) -> tuple[Console, Console]:
    def make() -> Console:
        return Console(
            highlight=False,
            soft_wrap=False,
            width=140,
            file=io.StringIO(),
            force_terminal=terminal,
            color_system="truecolor" if terminal else None,
            legacy_windows=False,
        )

    return make(), make()


@contextmanager
def _cli_console(console: Console) -> Iterator[None]:
    saved = context._console
    context._console = console
    try:
        yield
    finally:
        context._console = saved


def _rich_table(
    console: Console, title: str | None, columns: Sequence[str], rows: list[list[str]]
) -> None:
    """What ``context.table`` printed before: every string handed to rich as it is."""
    grid = Table(title=title, title_justify="left", show_lines=False)
    for index, column in enumerate(columns):
        numeric = bool(rows) and all(
            context._is_number(row[index]) for row in rows if row[index] != ""
        )
        grid.add_column(column, justify="right" if numeric else "left", overflow="fold")
    for row in rows:
        grid.add_row(*(context.shown(cell) for cell in row))
    console.print(grid)


def _printed(console: Console) -> str:
    file = console.file
    assert isinstance(file, io.StringIO)
    return file.getvalue()


def _same_table(
    title: str | None, columns: list[str], rows: list[list[str]], terminal: bool
) -> None:
    ours, theirs = _consoles(terminal)
    with _cli_console(ours):
        try:
            context.table(title, columns, rows)
        except Exception as error:  # rich refuses some markup: the same refusal both ways
            with pytest.raises(type(error)):
                _rich_table(theirs, title, columns, rows)
            return
    _rich_table(theirs, title, columns, rows)
    assert _printed(ours) == _printed(theirs)


@pytest.mark.parametrize("terminal", [False, True])
@settings(max_examples=60, deadline=None)
@given(
    title=st.one_of(st.none(), texts),
    header=texts,
    cells=st.lists(st.tuples(texts, texts), max_size=4),
)
def test_a_table_prints_as_rich_prints_the_strings(
    terminal: bool, title: str | None, header: str, cells: list[tuple[str, str]]
) -> None:
    rows = [list(pair) for pair in cells]
    _same_table(title, [header, "value"], rows, terminal)


@pytest.mark.parametrize("terminal", [False, True])
@settings(max_examples=60, deadline=None)
@given(line=texts)
def test_a_line_prints_as_rich_prints_it(terminal: bool, line: str) -> None:
    ours, theirs = _consoles(terminal)
    with _cli_console(ours):
        try:
            context.say(line)
        except Exception as error:  # rich refuses some markup: the same refusal both ways
            with pytest.raises(type(error)):
                theirs.print(line)
            return
    theirs.print(line)
    assert _printed(ours) == _printed(theirs)


def test_the_commands_texts_print_the_same() -> None:
    """The shapes ``settings show`` and ``invoice show`` print, emoji codes and markup included."""
    for terminal in (False, True):
        _same_table(
            "Account settings",
            ["setting", "value"],
            [
                ["company_name", "Tolls :smile: Ltd"],
                ["invoice_number_format", "INV-{year}-{seq:06d}"],
                ["address", "1 [bold]Road[/bold]"],
                ["default_tax_rate", "20"],
            ],
            terminal,
        )
        _same_table(None, ["", "GBP"], [["net", "10.00"], ["tax", "2.00"]], terminal)
