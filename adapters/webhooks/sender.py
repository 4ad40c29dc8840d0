"""Sending one signed delivery over HTTP (httpx), reporting the outcome instead of raising."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import httpx

from adapters.webhooks.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature
from adapters.webhooks.store import Delivery, Subscription

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
    endpoint should be re-registered, not silently followed)."""

    def __init__(self, timeout: float = 10.0) -> None:
        self.timeout = timeout

    def send(self, subscription: Subscription, delivery: Delivery, timestamp: int) -> Outcome:
        try:
            response = httpx.post(
                subscription.url,
                content=delivery.body.encode("utf-8"),
                headers=headers_for(subscription, delivery, timestamp),
                timeout=self.timeout,
                follow_redirects=False,
            )
        except httpx.TimeoutException:
            return Outcome(False, None, f"timed out after {self.timeout:g}s")
        except httpx.HTTPError as error:
            return Outcome(False, None, f"{type(error).__name__}: {error}"[:500])
        if 200 <= response.status_code < 300:
            return Outcome(True, response.status_code)
        return Outcome(False, response.status_code, f"HTTP {response.status_code}")
