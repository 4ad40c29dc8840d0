"""Sending one signed delivery over HTTP (httpx), reporting the outcome instead of raising.

The destination is checked at every attempt (adapters/webhooks/destinations.py): the host is
resolved once, every address checked, and the connection made to that checked address, with
the URL's host in the Host header and as the TLS server name (SNI and certificate check).
"""

from __future__ import annotations

import ssl
import threading
from dataclasses import dataclass
from typing import Protocol

import httpx

from adapters.webhooks.destinations import DestinationPolicy
from adapters.webhooks.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature
from adapters.webhooks.store import Delivery, Subscription
from domain.errors import InvalidInput

USER_AGENT = "tollbook-webhooks/1"


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status_code: int | None = None
    error: str | None = None


class Sender(Protocol):
    def send(self, subscription: Subscription, delivery: Delivery, timestamp: int) -> Outcome: ...


def headers_for(subscription: Subscription, delivery: Delivery, timestamp: int) -> dict[str, str]:
    body = delivery.body.encode("utf-8")
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Tollbook-Event-Id": delivery.event_id,
        "Tollbook-Event-Type": delivery.event_type,
        "Tollbook-Delivery-Id": delivery.id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(subscription.secret, timestamp, body),
    }


class HttpSender:
    """POSTs the event envelope; any 2xx is success. Never follows redirects (a moved
    endpoint should be re-registered, not silently followed, and a redirect could point
    anywhere). Proxy settings in the environment are ignored: the request must go to the
    address that was checked."""

    def __init__(
        self,
        timeout: float = 10.0,
        policy: DestinationPolicy | None = None,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self.timeout = timeout
        self.policy = DestinationPolicy.from_env() if policy is None else policy
        self._verify = verify
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    def _http(self) -> httpx.Client:
        """One client, built on first use (its TLS context is costly to build), with no
        kept-alive connections: a connection is opened to the address checked for this very
        attempt, never reused for another host name that happens to share the address."""
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(
                    timeout=self.timeout,
                    follow_redirects=False,
                    trust_env=False,
                    limits=httpx.Limits(max_keepalive_connections=0),
                    verify=self._verify,  # the system's CAs unless told otherwise (tests)
                )
            return self._client

    def send(self, subscription: Subscription, delivery: Delivery, timestamp: int) -> Outcome:
        try:
            destination = self.policy.check(subscription.url)
        except InvalidInput as refused:
            return Outcome(False, None, f"destination refused, nothing sent: {refused}"[:500])
        headers = headers_for(subscription, delivery, timestamp)
        headers["Host"] = destination.host_header
        extensions = {"sni_hostname": destination.host} if destination.scheme == "https" else {}
        try:
            response = self._http().post(
                destination.pinned_url,
                content=delivery.body.encode("utf-8"),
                headers=headers,
                extensions=extensions,
            )
        except httpx.TimeoutException:
            return Outcome(False, None, f"timed out after {self.timeout:g}s")
        except httpx.HTTPError as error:
            return Outcome(False, None, f"{type(error).__name__}: {error}"[:500])
        if 200 <= response.status_code < 300:
            return Outcome(True, response.status_code)
        if response.is_redirect:
            return Outcome(
                False,
                response.status_code,
                f"HTTP {response.status_code} (redirects are not followed: subscribe the new URL)",
            )
        return Outcome(False, response.status_code, f"HTTP {response.status_code}")
