"""Fixtures for the service tier: the ASGI app on the test's store, API keys, a local webhook
receiver on 127.0.0.1, a controllable clock for the delivery worker, and the CLI runner."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient

from adapters.app.context import Services
from adapters.cli.main import main
from adapters.clock import SteppingClock
from adapters.logging import configure_logging
from adapters.service.app import create_app
from adapters.webhooks.destinations import ALLOW_ENV


@pytest.fixture(autouse=True)
def _logs_to_this_tests_stderr() -> None:
    # the CLI reconfigures logging to the stderr of the test that ran it; workers in later tests
    # must not write to that closed stream
    configure_logging(level="error")


@pytest.fixture(autouse=True)
def _webhooks_may_reach_the_local_receivers(monkeypatch: pytest.MonkeyPatch) -> None:
    # the receivers listen on 127.0.0.1, which webhooks refuse by default: this tier's
    # configuration allows that one address explicitly (a served process inherits it)
    monkeypatch.setenv(ALLOW_ENV, "127.0.0.1/32")


@pytest.fixture
def services(store_url: str, clock: SteppingClock) -> Iterator[Services]:
    built = Services.from_url(store_url, clock=clock)
    built.poll_interval = 0.02
    yield built
    built.close()


@pytest.fixture
def keys(services: Services) -> dict[str, str]:
    """One key per scope, named after it ("read-key", "write-key", "admin-key")."""
    return {scope: services.api_keys.create(f"{scope}-key", scope) for scope in SCOPES}


SCOPES = ("read", "write", "admin")


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services), raise_server_exceptions=True) as test_client:
        yield test_client


class Api:
    """A client that presents one API key."""

    def __init__(self, client: TestClient, key: str) -> None:
        self.client = client
        self.key = key

    def _headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}", **(extra or {})}

    def get(self, path: str, headers: dict[str, str] | None = None, **params: Any) -> Any:
        return self.client.get(path, headers=self._headers(headers), params=params)

    def post(self, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        return self.client.post(path, json=body, headers=self._headers(headers))

    def patch(self, path: str, body: Any, headers: dict[str, str] | None = None) -> Any:
        return self.client.patch(path, json=body, headers=self._headers(headers))

    def delete(self, path: str, headers: dict[str, str] | None = None) -> Any:
        return self.client.delete(path, headers=self._headers(headers))


@pytest.fixture
def reader(client: TestClient, keys: dict[str, str]) -> Api:
    return Api(client, keys["read"])


@pytest.fixture
def writer(client: TestClient, keys: dict[str, str]) -> Api:
    return Api(client, keys["write"])


@pytest.fixture
def admin(client: TestClient, keys: dict[str, str]) -> Api:
    return Api(client, keys["admin"])


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def make_customer(api: Api, account: str = "ACME", currency: str = "GBP") -> dict[str, Any]:
    return ok(
        api.post(
            "/customers",
            {
                "account_number": account,
                "name": f"{account} Ltd",
                "currency": currency,
                "tax_rate": "20",
                "tax_description": "VAT 20%",
                "payment_terms_days": 14,
            },
        ),
        201,
    )


def issued_invoice(api: Api, account: str = "ACME", price: str = "100.00") -> dict[str, Any]:
    draft = ok(api.post("/invoices", {"customer": account}), 201)
    ok(
        api.post(
            f"/invoices/{draft['id']}/lines",
            {"description": "Termination", "quantity": "1", "unit_price": price},
        ),
        201,
    )
    return ok(api.post(f"/invoices/{draft['id']}/issue"))


# ------------------------------------------------------------------ webhook receiver


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A local HTTP endpoint: answers with ``statuses`` in turn (then ``default``), records
    every request it got, and can be slowed down to provoke time-outs."""

    default: int = 200
    statuses: list[int] = field(default_factory=list)
    delay: float = 0.0
    requests: list[Received] = field(default_factory=list)
    url: str = ""

    @property
    def accepted(self) -> list[Received]:
        return [r for r in self.requests if r.headers.get("x-test-status") == "2xx"]


@pytest.fixture
def receiver_factory() -> Iterator[Callable[..., Receiver]]:
    servers: list[ThreadingHTTPServer] = []

    def start(**options: Any) -> Receiver:
        receiver = Receiver(**options)
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if receiver.delay:
                    threading.Event().wait(receiver.delay)
                with lock:
                    status = receiver.statuses.pop(0) if receiver.statuses else receiver.default
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    headers["x-test-status"] = "2xx" if 200 <= status < 300 else str(status)
                    receiver.requests.append(Received(headers, body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        servers.append(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
        return receiver

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


class FakeTime:
    """Seconds since the epoch that only move when told to."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


# ------------------------------------------------------------------ CLI


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def tollbook(store_url: str, capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    def run(*args: str) -> Result:
        capsys.readouterr()
        try:
            main(["--db", store_url, "--actor", "ops:test", *args])
            code = 0
        except SystemExit as stop:
            code = int(stop.code or 0)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run
