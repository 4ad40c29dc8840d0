"""Request bodies are bounded: a body over the limit gets 413 before it is read whole.

A declared ``Content-Length`` over the limit is refused before the app runs. Bodies without
one (``Transfer-Encoding: chunked``) or lying about it are counted as they stream in, and the
read that crosses the limit raises ``BodyTooLarge``, so no layer (idempotency, JSON or form
parsing) ever holds more than the limit in memory.
"""

from __future__ import annotations

import os

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adapters.http.problems import problem_response

ENV = "TOLLBOOK_MAX_BODY_BYTES"
DEFAULT_MAX_BODY_BYTES = 1024 * 1024


def max_body_bytes_from_env() -> int:
    """The limit from ``TOLLBOOK_MAX_BODY_BYTES`` (bytes, a whole number >= 1), else 1 MiB."""
    raw = os.environ.get(ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_BODY_BYTES
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
        raise ValueError(f"{ENV} must be a whole number of bytes >= 1, got {raw!r}")
    return int(raw)


class BodyTooLarge(HTTPException):
    """An HTTPException, so FastAPI's body parsing lets it through instead of making it a 400."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than the limit of {limit} bytes")
        self.extra = {"max_bytes": limit}


class BodyLimit:
    """Pure ASGI middleware around everything that reads a body."""

    def __init__(self, app: ASGIApp, max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None:
            text = declared.strip()
            if not (text.isascii() and text.isdigit()):
                await self._refuse(
                    scope,
                    receive,
                    send,
                    400,
                    "invalid_content_length",
                    f"Content-Length must be a whole number, got {declared!r}",
                )
                return
            if int(text) > self.max_bytes:
                await self._too_large(scope, receive, send)
                return

        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, watch)
        except BodyTooLarge:
            if started:
                raise
            await self._too_large(scope, receive, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        # the unread rest of the body is left in the socket: the server closes the connection
        await self._refuse(
            scope,
            receive,
            send,
            413,
            "body_too_large",
            f"the request body is larger than the limit of {self.max_bytes} bytes",
            max_bytes=self.max_bytes,
        )

    @staticmethod
    async def _refuse(
        scope: Scope,
        receive: Receive,
        send: Send,
        status: int,
        code: str,
        detail: str,
        **extra: int,
    ) -> None:
        response = problem_response(
            status, code, detail, str(scope["path"]), {"Connection": "close"}, **extra
        )
        await response(scope, receive, send)
