"""Webhook signatures: HMAC-SHA256 over ``"{timestamp}.{body}"`` with the subscription's secret.

Headers on every delivery (see docs/integrators.md):
- ``Tollbook-Timestamp``: Unix seconds when the attempt was signed;
- ``Tollbook-Signature``: ``v1=<hex digest>``.
Signing the timestamp with the body lets a receiver refuse replays of old deliveries.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

SIGNATURE_HEADER = "Tollbook-Signature"
TIMESTAMP_HEADER = "Tollbook-Timestamp"
SCHEME = "v1"


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"{SCHEME}={mac.hexdigest()}"


def verify(
    secret: str,
    header: str,
    timestamp: str,
    body: bytes,
    *,
    now: float,
    tolerance: float = 300,
) -> bool:
    """True when ``header`` signs ``body`` at ``timestamp`` and the timestamp is recent."""
    try:
        moment = int(timestamp)
    except ValueError:
        return False
    if abs(now - moment) > tolerance:
        return False
    expected = signature(secret, moment, body)
    # several comma-separated signatures are allowed, so a secret can be rotated
    return any(hmac.compare_digest(expected, part.strip()) for part in header.split(","))
