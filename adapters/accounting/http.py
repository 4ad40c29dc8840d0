"""Shared httpx plumbing for the REST/SOAP clients: no hidden retries, errors classified."""

from __future__ import annotations

import httpx

from adapters.accounting.errors import RemoteUnavailable


def http_client(base_url: str, timeout: float, headers: dict[str, str]) -> httpx.Client:
    # httpx never retries a request on its own (transport retries default to 0 and only cover
    # connection set-up): the exporter's CallPolicy owns every re-send.
    return httpx.Client(base_url=base_url, timeout=timeout, headers=headers)


def send(client: httpx.Client, what: str, request: httpx.Request) -> httpx.Response:
    try:
        response = client.send(request)
    except httpx.TimeoutException as error:
        raise RemoteUnavailable(f"{what}: timed out ({type(error).__name__})") from None
    except httpx.TransportError as error:
        raise RemoteUnavailable(f"{what}: {type(error).__name__}") from None
    if response.status_code == 429 or response.status_code in (502, 503, 504):
        retry_after = response.headers.get("Retry-After")
        raise RemoteUnavailable(
            f"{what}: {response.status_code}",
            float(retry_after) if retry_after and retry_after.isdigit() else None,
        )
    return response
