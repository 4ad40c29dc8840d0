"""Webhook destinations at delivery time: the address is checked again (DNS rebinding), the
connection goes to the checked address with the URL's host kept, and redirects are not
followed. Resolution is faked by injecting the resolver; the receivers are real (127.0.0.1)."""

from __future__ import annotations

import ipaddress
import ssl
import threading
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from adapters.app.context import Services
from adapters.webhooks.destinations import (
    ALLOW_ENV,
    DestinationPolicy,
    WebhookDestinationRefused,
    parse_allowed,
)
from adapters.webhooks.sender import HttpSender
from adapters.webhooks.worker import RetryPolicy, WebhookWorker
from tests.service.conftest import make_customer

SECRET = "whsec_test_secret_0123456789"
PUBLIC = "93.184.215.14"


class ScriptedResolver:
    """Answers each lookup with the next list of addresses (the last one repeats)."""

    def __init__(self, *answers: Sequence[str]) -> None:
        self.answers = [list(answer) for answer in answers]
        self.lookups: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.lookups.append((host, port))
        return self.answers[min(len(self.lookups), len(self.answers)) - 1]


def _worker(services: Services, policy: DestinationPolicy, fake_time: Any) -> WebhookWorker:
    return WebhookWorker(
        services.ledger,
        services.webhooks,
        sender=HttpSender(timeout=5.0, policy=policy),
        policy=RetryPolicy(base=10, cap=100, max_attempts=5),
        now=fake_time,
    )


def _attempts(services: Services) -> list[dict[str, Any]]:
    return [
        attempt
        for delivery in services.webhooks.deliveries()
        for attempt in services.webhooks.attempts(delivery.id)
    ]


def test_a_name_that_rebinds_to_a_private_address_is_refused_at_delivery(
    services: Services, writer: Any, receiver_factory: Any, fake_time: Any
) -> None:
    receiver = receiver_factory()
    port = int(receiver.url.rsplit(":", 1)[1].split("/", 1)[0])
    # checked when added: public; at delivery the same name answers 127.0.0.1
    resolver = ScriptedResolver([PUBLIC], ["127.0.0.1"])
    policy = DestinationPolicy(resolve=resolver)  # nothing allowed: the default
    services.webhooks.policy = policy
    services.webhooks.add(f"http://rebind.example.test:{port}/hooks", SECRET, [], 0, "test")
    make_customer(writer)

    report = _worker(services, policy, fake_time).run_once()

    assert (report.delivered, report.failed_attempts) == (0, 1)
    assert receiver.requests == []  # nothing was sent
    assert resolver.lookups == [("rebind.example.test", port)] * 2
    [attempt] = _attempts(services)
    assert attempt["status_code"] is None
    assert attempt["error"].startswith("destination refused, nothing sent: webhook destination")
    assert "resolves to 127.0.0.1, which is loopback" in attempt["error"]
    [delivery] = services.webhooks.deliveries()
    assert (delivery.status, delivery.attempts) == ("pending", 1)  # retried later, checked again


def test_one_private_address_among_public_ones_is_enough_to_refuse(
    services: Services, writer: Any, receiver_factory: Any, fake_time: Any
) -> None:
    receiver = receiver_factory()
    policy = DestinationPolicy(resolve=ScriptedResolver([PUBLIC], [PUBLIC, "10.0.0.7"]))
    services.webhooks.policy = policy
    services.webhooks.add("http://mixed.example.test/hooks", SECRET, [], 0, "test")
    make_customer(writer)
    assert _worker(services, policy, fake_time).run_once().failed_attempts == 1
    assert receiver.requests == []
    assert "10.0.0.7, which is private" in _attempts(services)[0]["error"]


def test_delivery_connects_to_the_checked_address_and_keeps_the_host_name(
    services: Services, writer: Any, receiver_factory: Any, fake_time: Any
) -> None:
    """The name exists only in the fake resolver: the request can only have reached the
    receiver through the address that was checked, and it still names the host."""
    receiver = receiver_factory()
    port = int(receiver.url.rsplit(":", 1)[1].split("/", 1)[0])
    resolver = ScriptedResolver(["127.0.0.1"])
    policy = DestinationPolicy(parse_allowed("127.0.0.1/32"), resolver)
    services.webhooks.policy = policy
    services.webhooks.add(f"http://hooks.example.test:{port}/in?tenant=7", SECRET, [], 0, "test")
    make_customer(writer)

    assert _worker(services, policy, fake_time).run_once().delivered == 1
    [request] = receiver.requests
    assert request.headers["host"] == f"hooks.example.test:{port}"
    assert len(resolver.lookups) == 2  # once when added, once for the delivery


class _Redirecting(BaseHTTPRequestHandler):
    target = ""
    hits: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        self.hits.append(self.path)
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(307)
        self.send_header("Location", self.target)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_redirects_are_not_followed(
    services: Services, writer: Any, receiver_factory: Any, fake_time: Any
) -> None:
    elsewhere = receiver_factory()
    _Redirecting.target, _Redirecting.hits = elsewhere.url, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Redirecting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        policy = DestinationPolicy.from_env()  # this tier allows 127.0.0.1/32
        url = f"http://127.0.0.1:{server.server_address[1]}/moved"
        services.webhooks.add(url, SECRET, [], 0, "test")
        make_customer(writer)
        report = _worker(services, policy, fake_time).run_once()
    finally:
        server.shutdown()
        server.server_close()
    assert (report.delivered, report.failed_attempts) == (0, 1)
    assert _Redirecting.hits == ["/moved"] and elsewhere.requests == []
    [attempt] = _attempts(services)
    assert attempt["status_code"] == 307
    assert "redirects are not followed" in attempt["error"]


def test_the_allow_list_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ALLOW_ENV, "10.20.0.0/16, fd12::/64")
    policy = DestinationPolicy.from_env(resolve=ScriptedResolver(["10.20.3.4"]))
    assert str(policy.check("https://erp.internal.test/x").address) == "10.20.3.4"
    assert policy.check("http://[fd12::9]/x").address == ipaddress.ip_address("fd12::9")
    with pytest.raises(WebhookDestinationRefused, match=r"10\.21\.0\.1 is private"):
        policy.check("http://10.21.0.1/x")


def test_metadata_endpoints_need_their_own_entry_even_inside_an_allowed_range() -> None:
    broad = DestinationPolicy(parse_allowed("169.254.0.0/16"))
    assert broad.check("http://169.254.10.10/").address  # link-local, allowed by the range
    with pytest.raises(WebhookDestinationRefused, match="cloud metadata endpoint"):
        broad.check("http://169.254.169.254/latest/meta-data/")
    exact = DestinationPolicy(parse_allowed("169.254.169.254/32"))
    assert exact.check("http://169.254.169.254/").address


def _refusal(policy: DestinationPolicy) -> Callable[[str], str]:
    def reason(url: str) -> str:
        with pytest.raises(WebhookDestinationRefused) as refused:
            policy.check(url)
        return str(refused.value)

    return reason


def test_an_allowed_ipv4_range_also_covers_its_ipv4_mapped_ipv6_form() -> None:
    policy = DestinationPolicy(parse_allowed("127.0.0.1/32"))
    assert policy.check("http://[::ffff:127.0.0.1]:8080/").port == 8080
    assert "IPv6 form of 127.0.0.2 (loopback)" in _refusal(policy)("http://[::ffff:127.0.0.2]/")


TLS = Path(__file__).parent / "tls"


class _TlsReceiver(BaseHTTPRequestHandler):
    hosts: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.hosts.append(self.headers["Host"])
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.mark.parametrize("name", ["hooks.example.test", "other.example.test"])
def test_https_delivery_to_the_checked_address_names_the_host_for_sni_and_the_certificate(
    services: Services, writer: Any, fake_time: Any, name: str
) -> None:
    """The receiver's certificate is for hooks.example.test. Connecting to the checked address
    still sends that name as SNI and verifies the certificate against it: a URL naming another
    host on the same address fails the certificate check and nothing is delivered."""
    server_names: list[str | None] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(TLS / "hooks.pem", TLS / "hooks.key")
    context.sni_callback = lambda sock, server_name, ctx: server_names.append(server_name)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _TlsReceiver)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    _TlsReceiver.hosts = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    policy = DestinationPolicy(parse_allowed("127.0.0.1/32"), ScriptedResolver(["127.0.0.1"]))
    services.webhooks.policy = policy
    services.webhooks.add(f"https://{name}:{port}/in", SECRET, [], 0, "test")
    make_customer(writer)
    trusted = ssl.create_default_context(cafile=str(TLS / "ca.pem"))
    worker = WebhookWorker(
        services.ledger,
        services.webhooks,
        sender=HttpSender(timeout=5.0, policy=policy, verify=trusted),
        now=fake_time,
    )
    try:
        report = worker.run_once()
    finally:
        server.shutdown()
        server.server_close()

    assert server_names == [name]  # SNI carried the URL's host, not the address
    if name == "hooks.example.test":
        assert report.delivered == 1
        assert _TlsReceiver.hosts == [f"hooks.example.test:{port}"]
    else:
        assert (report.delivered, report.failed_attempts) == (0, 1)
        assert _TlsReceiver.hosts == []
        assert "CERTIFICATE_VERIFY_FAILED" in _attempts(services)[0]["error"]
