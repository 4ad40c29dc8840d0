"""``tollbook user add|list|password|remove``: the finance portal's users (finance, auditor,
admin)."""

from __future__ import annotations

import sys

import click

from adapters.app.users import MIN_PASSWORD, ROLES, User, Users
from adapters.cli.context import emit_json, json_option, say, state, table
from adapters.config import ConfigError, database_url
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
@json_option
def user_add(username: str, role: str, password_stdin: bool, as_json: bool) -> None:
    """Add USERNAME with a role; asks for the password (at least 10 characters)."""
    added = _users().add(username, role, _password(username, password_stdin))
    if as_json:
        emit_json(_user_doc(added))
    else:
        say(f"user {username!r} added ({role})")


def _user_doc(user: User) -> dict[str, str]:
    return {"username": user.username, "role": user.role, "created_at": user.created_at}


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
@json_option
def user_password(username: str, password_stdin: bool, as_json: bool) -> None:
    """Give USERNAME a new password; their sessions end, and a sign-in lock is lifted."""
    users = _users()
    users.set_password(username, _password(username, password_stdin))
    if as_json:
        emit_json(
            {
                **next(_user_doc(u) for u in users.list() if u.username == username),
                "password_changed": True,
                "sessions_ended": True,
            }
        )
    else:
        say(f"password of {username!r} changed; their sessions have ended")


@user.command("list")
@json_option
def user_list(as_json: bool) -> None:
    """List users and their roles (never passwords)."""
    users = _users().list()
    if as_json:
        emit_json([_user_doc(u) for u in users])
        return
    table(
        "Portal users",
        ["user", "role", "added"],
        [[u.username, u.role, u.created_at] for u in users],
    )


@user.command("remove")
@click.argument("username")
@json_option
def user_remove(username: str, as_json: bool) -> None:
    """Remove USERNAME; their sessions end at once."""
    _users().remove(username)
    if as_json:
        emit_json({"username": username, "removed": True, "sessions_ended": True})
    else:
        say(f"user {username!r} removed")
