"""The portal in a real browser: Debian's Chromium driven headless by Playwright, against the
service app served by uvicorn on 127.0.0.1 in a thread. Screenshots go to test-artifacts/portal/
(git-ignored)."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from adapters.app.context import Services
from adapters.clock import SteppingClock
from adapters.logging import configure_logging
from adapters.service.app import create_app

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "portal"


def _need_chromium() -> None:
    if Path(CHROMIUM).exists():
        return
    message = f"{CHROMIUM} is missing: `make venv` installs Debian's chromium (Makefile DEBS)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Services]]:
    """The whole service (API + portal) on a fresh SQLite file, on a free local port."""
    configure_logging(level="error")
    clock = SteppingClock(datetime(2026, 10, 1, 9, 0, tzinfo=UTC))
    services = Services.from_url(f"sqlite:///{tmp_path}/portal.sqlite", clock=clock)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    config = uvicorn.Config(
        create_app(services), host="127.0.0.1", port=port, log_level="error", access_log=False
    )
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not running.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", services
    finally:
        running.should_exit = True
        thread.join(timeout=10)
        services.close()


@pytest.fixture
def browser() -> Iterator[Any]:
    _need_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Any:
    """Saves a full-page screenshot per step: test-artifacts/portal/<test>/NN-name.png."""
    folder = ARTIFACTS / request.node.name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    count = 0

    def shoot(page: Any, name: str) -> Path:
        nonlocal count
        count += 1
        path = folder / f"{count:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return shoot
