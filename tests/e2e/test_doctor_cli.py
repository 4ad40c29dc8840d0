"""``tollbook doctor``: every check of a sound deployment passes (exit 0); each broken part
(schema behind, fonts missing, accounting credentials missing, NATS away or not NATS, a
database that does not answer) fails with what was found and how to fix it (exit 1), and
the other checks still run."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapters.app.doctor import clock_skew
from adapters.store.database import Database
from adapters.store.migrations.runner import migrations


@pytest.fixture
def line_server() -> Iterator[Callable[[bytes], str]]:
    """A TCP server on 127.0.0.1 that greets each client with ``greeting`` (a NATS server
    sends ``INFO {...}`` first, before the client says anything); returns its address."""
    servers: list[socket.socket] = []

    def start(greeting: bytes) -> str:
        server = socket.create_server(("127.0.0.1", 0))
        servers.append(server)

        def serve() -> None:
            while True:
                try:
                    conn, _ = server.accept()
                except OSError:
                    return
                with conn:
                    conn.sendall(greeting)

        threading.Thread(target=serve, daemon=True).start()
        return f"127.0.0.1:{server.getsockname()[1]}"

    yield start
    for server in servers:
        server.close()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _by_check(result: Any) -> dict[str, dict[str, str]]:
    return {finding["check"]: finding for finding in result.json()}


NATS_INFO = b'INFO {"server_id":"N1","version":"2.9.15","jetstream":true,"max_payload":1048576}\r\n'


def test_a_sound_deployment_passes_every_check(
    tollbook: Any, monkeypatch: pytest.MonkeyPatch, line_server: Any, store_url: str
) -> None:
    assert tollbook("migrate").code == 0
    monkeypatch.setenv("TOLLBOOK_NATS_URL", f"nats://{line_server(NATS_INFO)}")
    monkeypatch.setenv(
        "TOLLBOOK_CONNECTIONS",
        '{"books": {"system": "clearbooks", "api_key": "env:CB_KEY"}}',
    )
    monkeypatch.setenv("CB_KEY", "cb-secret-value")
    result = tollbook("doctor", "--json")
    assert result.code == 0, result.err
    found = _by_check(result)
    assert [f["check"] for f in result.json()] == [
        "database", "schema", "clock", "pdf fonts", "smtp", "accounting", "nats",
    ]  # fmt: skip
    for name in ("database", "schema", "pdf fonts", "accounting", "nats"):
        assert found[name]["status"] == "ok", found[name]
    assert found["schema"]["detail"].startswith("up to date at version")
    assert found["smtp"]["status"] == "skip"  # not configured here
    expected_clock = "skip" if store_url.startswith("sqlite") else "ok"
    assert found["clock"]["status"] == expected_clock, found["clock"]
    assert "cb-secret-value" not in result.out  # credentials are checked, never shown

    shown = tollbook("doctor")
    assert shown.code == 0 and "how to fix" in shown.out and "every check passed" in shown.out


def test_each_broken_part_fails_with_how_to_fix_it(
    tollbook: Any, monkeypatch: pytest.MonkeyPatch, line_server: Any
) -> None:
    assert tollbook("migrate").code == 0
    monkeypatch.setenv("TOLLBOOK_PDF_FONT", "/nonexistent/Font.ttf")
    monkeypatch.setenv(
        "TOLLBOOK_CONNECTIONS",
        '{"acme-xero": {"system": "xero", "tenant_id": "t", "client_id": "c"}}',
    )
    away, not_nats = _closed_port(), line_server(b"HTTP/1.1 400 Bad Request\r\n")
    monkeypatch.setenv("TOLLBOOK_NATS_URL", f"nats://127.0.0.1:{away},nats://{not_nats}")
    monkeypatch.setenv("TOLLBOOK_SMTP_USER", "billing")
    result = tollbook("doctor", "--json")
    assert result.code == 1
    assert "[problems_found]" in result.err and result.err.count("\n") == 1
    found = _by_check(result)
    assert found["schema"]["status"] == "ok"  # the rest still ran
    fonts = found["pdf fonts"]
    assert fonts["status"] == "fail" and "/nonexistent/Font.ttf" in fonts["detail"]
    assert "make system-deps" in fonts["fix"]
    accounting = found["accounting"]
    assert accounting["status"] == "fail"
    assert "acme-xero.client_secret" in accounting["detail"]
    assert "connections file" in accounting["fix"]
    nats = found["nats"]
    assert nats["status"] == "fail" and "cannot connect" in nats["detail"]
    assert "not a NATS server" in nats["detail"] and "nats-server" in nats["fix"]
    smtp = found["smtp"]
    assert smtp["status"] == "fail" and smtp["fix"] == "set TOLLBOOK_SMTP_HOST"

    table = tollbook("doctor")
    assert table.code == 1 and "make system-deps" in table.out


def test_pending_migrations_are_named_with_the_command_that_applies_them(
    tollbook: Any, store_url: str
) -> None:
    assert tollbook("migrate").code == 0
    db = Database.from_url(store_url)
    with db.connect() as conn:  # as a database an older version left (its row, not its step)
        row = conn.execute("SELECT * FROM schema_migrations WHERE version = 2").fetchone()
        conn.execute("DELETE FROM schema_migrations WHERE version = 2")
    result = tollbook("doctor", "--json")
    assert result.code == 1
    schema = _by_check(result)["schema"]
    assert schema["status"] == "fail" and "[2] pending" in schema["detail"]
    assert "tollbook migrate" in schema["fix"]
    with db.connect() as conn:  # doctor applied nothing by itself
        count = conn.execute("SELECT COUNT(*) FROM schema_migrations").fetchone()[0]
        assert count == len(migrations()) - 1
        conn.execute(db.sql("INSERT INTO schema_migrations VALUES (?, ?, ?)"), tuple(row))
    assert tollbook("doctor", "--json").code == 0


def test_a_database_that_does_not_answer_fails_and_the_other_checks_still_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from adapters.cli.main import main

    url = f"postgresql://postgres@127.0.0.1:{_closed_port()}/nowhere"
    with pytest.raises(SystemExit) as stop:
        main(["--db", url, "doctor", "--json"])
    assert stop.value.code == 1
    found = {f["check"]: f for f in json.loads(capsys.readouterr().out)}
    assert found["database"]["status"] == "fail"
    assert "TOLLBOOK_DATABASE_URL" in found["database"]["fix"]
    assert found["schema"]["status"] == found["clock"]["status"] == "skip"
    assert found["pdf fonts"]["status"] == "ok"


def test_clock_skew_against_postgresql_is_measured_and_judged(pg_schema_url: str) -> None:
    db = Database.from_url(pg_schema_url)  # its server runs on this machine, on its clock
    # this machine's clock as if two minutes ahead of the database's
    finding = clock_skew(db, lambda: datetime.now(UTC) + timedelta(minutes=2))
    assert finding.status == "fail"
    assert finding.detail.startswith(("this machine is +120.", "this machine is +119."))
    assert "NTP" in finding.fix
    slightly = clock_skew(db, lambda: datetime.now(UTC) + timedelta(seconds=3))
    assert slightly.status == "warn"
    assert clock_skew(db, lambda: datetime.now(UTC)).status == "ok"


def test_an_unknown_smtp_tls_mode_is_named_with_the_modes_to_choose_from(
    tollbook: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOLLBOOK_SMTP_HOST", "mail.example.com")
    monkeypatch.setenv("TOLLBOOK_SMTP_TLS", "sslv3")

    smtp = _by_check(tollbook("doctor", "--json"))["smtp"]

    assert smtp["status"] == "fail" and "'sslv3'" in smtp["detail"]
    assert smtp["fix"] == "set TOLLBOOK_SMTP_TLS to none, starttls or tls"
