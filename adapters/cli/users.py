"""``tollbook user add|list|password|remove``: the finance portal's users (finance, auditor,
admin)."""

from __future__ import annotations

import sys

import click

from adapters.cli.context import emit_json, json_option, say, state, table
from adapters.config import ConfigError, database_url
from adapters.portal.users import MIN_PASSWORD, ROLES, Users
from adapters.store.database import Database


def _users() -> Users:
    try:
        db = Database.from_url(state().database_url or database_url())
    except ValueError as error:  # memory:// has no SQL tables
        raise ConfigError(str(error)) from None
    users = Users(db)
    users.ensure_schema()
    return users


@click.group("user")
def user() -> None:
    """Portal users: finance and admin change things, auditors only read. Passwords hashed."""


@user.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input (for scripts).",
)
def user_add(username: str, role: str, password_stdin: bool) -> None:
    """Add USERNAME with a role; asks for the password (at least 10 characters)."""
    _users().add(username, role, _password(username, password_stdin))
    say(f"user {username!r} added ({role})")


def _password(username: str, from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(
        click.prompt(
            f"Password for {username} (at least {MIN_PASSWORD} characters)",
            hide_input=True,
            confirmation_prompt=True,
        )
    )


@user.command("password")
@click.argument("username")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input (for scripts).",
)
def user_password(username: str, password_stdin: bool) -> None:
    """Give USERNAME a new password; their sessions end, and a sign-in lock is lifted."""
    _users().set_password(username, _password(username, password_stdin))
    say(f"password of {username!r} changed; their sessions have ended")


@user.command("list")
@json_option
def user_list(as_json: bool) -> None:
    """List users and their roles (never passwords)."""
    users = _users().list()
    if as_json:
        emit_json(
            [{"username": u.username, "role": u.role, "created_at": u.created_at} for u in users]
        )
        return
    table(
        "Portal users",
        ["user", "role", "added"],
        [[u.username, u.role, u.created_at] for u in users],
    )


@user.command("remove")
@click.argument("username")
def user_remove(username: str) -> None:
    """Remove USERNAME; their sessions end at once."""
    _users().remove(username)
    say(f"user {username!r} removed")
