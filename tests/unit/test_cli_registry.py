"""The lazy command registry (adapters/cli/registry.py) says the truth about every command: each
entry loads the command it names, under that name, in a group that looks it up there, and the
help ``tollbook --help`` lists from the registry is the command's own, so they never drift."""

from __future__ import annotations

import os
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from adapters.cli.main import cli
from adapters.cli.registry import COMMANDS, LazyGroup, children

# limits click uses to shorten a help line (the width left beside the longest name), and more
LIMITS = (20, 33, 45, 58, 66, 74, 200)


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_each_entry_loads_its_command_with_its_own_help(path):
    entry = COMMANDS[path]
    command = entry.load()
    name = path.rsplit(" ", 1)[-1]
    assert command.name == name, f"{entry.target} is named {command.name!r}, registered {name!r}"
    assert not command.hidden and not command.deprecated  # the stand-in is neither
    stand_in = entry.placeholder(name)
    for limit in LIMITS:
        assert stand_in.get_short_help_str(limit) == command.get_short_help_str(limit), (
            f"the registry's help for `tollbook {path}` differs from the command's own:"
            f" copy the first paragraph of {entry.target}'s help into COMMANDS"
        )


@pytest.mark.parametrize("path", sorted({p.rpartition(" ")[0] for p in COMMANDS}))
def test_each_group_with_entries_looks_them_up(path):
    group = cli if path == "" else COMMANDS[path].load()
    assert isinstance(group, LazyGroup) and group.lazy_path == path, (
        f"`tollbook {path}` has registered subcommands: give it cls=LazyGroup, lazy_path={path!r}"
    )
    listed = group.list_commands(click.Context(group))
    assert set(children(path)) <= set(listed)


def _help(*args: str) -> str:
    result = CliRunner(env={"COLUMNS": "80"}).invoke(cli, [*args, "--help"], prog_name="tollbook")
    assert result.exit_code == 0, result.output
    return result.output


LOAD_ALL = """
import click
from adapters.cli.main import cli, main
from adapters.cli.registry import COMMANDS

for group in (cli, COMMANDS["invoice"].load(), COMMANDS["credit-note"].load()):
    for name in group.list_commands(click.Context(group)):
        group.get_command(click.Context(group), name)  # now every one is loaded
main(["--help"])
"""


def _tollbook_help(*python_args: str) -> str:
    return subprocess.run(
        [sys.executable, *python_args],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "COLUMNS": "80"},
    ).stdout


def test_help_before_loading_reads_as_after():
    """``--help`` from the registry (a fresh process: nothing loaded) is the text click writes
    once every command is loaded."""
    fresh = _tollbook_help("-m", "adapters.cli.main", "--help")
    assert fresh == _tollbook_help("-c", LOAD_ALL)
    assert all(f"\n  {name} " in fresh for name in children(""))


def test_a_subcommand_of_a_lazy_group_runs_and_shows_its_help():
    assert "Write the PDF of INVOICE_REF" in _help("invoice")
    assert "--all" in _help("invoice", "pdf")
    assert "Usage: tollbook credit-note pdf [OPTIONS] REF" in _help("credit-note", "pdf")


def test_an_unknown_command_is_refused_as_before():
    result = CliRunner().invoke(cli, ["no-such-command"], prog_name="tollbook")
    assert result.exit_code == 2
    assert "No such command 'no-such-command'" in result.output
