"""``tollbook user add|list|remove`` through the real CLI entry point, on both stores."""

from __future__ import annotations

import io
import json
from collections.abc import Callable

import pytest

from adapters.app.users import SignInLocked, Users
from adapters.cli.main import main
from adapters.store.database import Database

Run = Callable[..., tuple[int, str]]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Run:
    """The real entry point (with its error mapping); returns (exit code, stdout + stderr)."""

    def invoke(store_url: str, *args: str, stdin: str = "") -> tuple[int, str]:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        capsys.readouterr()
        try:
            main(["--db", store_url, *args])
            code = 0
        except SystemExit as stop:
            code = int(stop.code or 0)
        captured = capsys.readouterr()
        return code, captured.out + captured.err

    return invoke


def test_add_list_remove_users(store_url: str, run: Run) -> None:
    code, out = run(
        store_url,
        "user",
        "add",
        "fiona",
        "--role",
        "finance",
        "--password-stdin",
        stdin="a long enough secret\n",
    )
    assert code == 0, out
    code, out = run(
        store_url,
        "user",
        "add",
        "audrey",
        "--role",
        "auditor",
        "--password-stdin",
        stdin="another good secret\n",
    )
    assert code == 0, out
    assert Users(Database.from_url(store_url)).authenticate("audrey", "another good secret")
    code, out = run(store_url, "user", "list", "--json")
    assert [(u["username"], u["role"]) for u in json.loads(out)] == [
        ("audrey", "auditor"),
        ("fiona", "finance"),
    ]
    assert "secret" not in out

    code, out = run(
        store_url,
        "user",
        "add",
        "fiona",
        "--role",
        "admin",
        "--password-stdin",
        stdin="a long enough secret\n",
    )
    assert code == 1 and "already exists" in out
    code, out = run(
        store_url, "user", "add", "bob", "--role", "admin", "--password-stdin", stdin="short\n"
    )
    assert code == 2 and "at least 10 characters" in out
    code, out = run(
        store_url,
        "user",
        "add",
        "bob",
        "--role",
        "owner",
        "--password-stdin",
        stdin="a long enough secret\n",
    )
    assert code == 2

    assert run(store_url, "user", "remove", "fiona")[0] == 0
    code, out = run(store_url, "user", "remove", "fiona")
    assert code == 3 and "no user called 'fiona'" in out
    code, out = run(store_url, "user", "list", "--json")
    assert [u["username"] for u in json.loads(out)] == ["audrey"]


def test_a_new_password_ends_the_users_sessions_and_lifts_a_lock(store_url: str, run: Run) -> None:
    run(store_url, "user", "add", "fiona", "--role", "finance", "--password-stdin",
        stdin="a long enough secret\n")  # fmt: skip
    users = Users(Database.from_url(store_url))
    token, _ = users.start_session(users.authenticate("fiona", "a long enough secret"))
    for _ in range(5):
        assert users.authenticate("fiona", "wrong guess!") is None
    with pytest.raises(SignInLocked):
        users.authenticate("fiona", "a long enough secret")

    code, out = run(
        store_url, "user", "password", "fiona", "--password-stdin", stdin="a brand new secret\n"
    )
    assert code == 0, out
    assert users.session(token) is None
    assert users.authenticate("fiona", "a long enough secret") is None
    assert users.authenticate("fiona", "a brand new secret")

    code, out = run(store_url, "user", "password", "fiona", "--password-stdin", stdin="short\n")
    assert code == 2 and "at least 10 characters" in out
    code, out = run(
        store_url, "user", "password", "nobody", "--password-stdin", stdin="a brand new secret\n"
    )
    assert code == 3 and "no user called 'nobody'" in out
