"""A small threaded HTTP server on 127.0.0.1 that the fakes of the accounting APIs share.

A fake handles a request through ``handle(request) -> Response``; it can be told to answer the
next N requests with an outage status, or to do the work and then drop the connection without
answering (a response lost on the way back: the client cannot tell whether it happened).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


class FakeClock:
    """The fake's notion of time; tests advance it instead of sleeping."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)


class FakeService:
    """Base of every fake: serves ``handle`` on a free loopback port in a daemon thread."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.requests: list[Request] = []
        self._outage: list[int] = []  # statuses to answer with, one per coming request
        self._drop_after_commit = 0
        self._drop_path = ""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # one small answer must not wait for a delayed ACK

            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query, keep_blank_values=True),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(length) if length else b"",
                )
                response, drop = fake._dispatch(request)
                if drop:
                    self.close_connection = True
                    return  # the work is done; the answer never leaves
                self.send_response(response.status)
                self.send_header("Content-Type", response.content_type)
                self.send_header("Content-Length", str(len(response.body)))
                for name, value in response.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(response.body)

            do_GET = do_PUT = do_POST = do_DELETE = _serve

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeService:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def outage(self, count: int, status: int = 503) -> None:
        """Answer the next ``count`` requests with ``status`` (nothing is processed)."""
        with self.lock:
            self._outage.extend([status] * count)

    def drop_responses_after_commit(self, count: int = 1, path_contains: str = "") -> None:
        """Process the next ``count`` writes (to paths containing ``path_contains``) fully,
        then hang up without answering."""
        with self.lock:
            self._drop_after_commit += count
            self._drop_path = path_contains

    def _dispatch(self, request: Request) -> tuple[Response, bool]:
        with self.lock:
            self.requests.append(request)
            if self._outage:
                status = self._outage.pop(0)
                return self.unavailable(status), False
            response = self.handle(request)
            drop = False
            if (
                request.method != "GET"
                and self._drop_after_commit
                and self._drop_path in request.path
                and response.status < 300
            ):
                self._drop_after_commit -= 1
                drop = True
            return response, drop

    def unavailable(self, status: int) -> Response:
        return Response(status, b'{"message": "Service Unavailable"}')

    def handle(self, request: Request) -> Response:  # pragma: no cover - each fake overrides
        raise NotImplementedError
