"""The API docs pages in Chromium: they render the operations from /openapi.json, and all the
browser loads comes from this server (no CDN, no validator badge, no web fonts)."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.app.context import Services

TIMEOUT_MS = 60_000  # a ceiling, not a speed check: ReDoc took >15 s on a loaded machine


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_the_docs_page_renders_offline(
    server: tuple[str, Services], browser: Any, shots: Any, path: str
) -> None:
    base, _ = server
    requested: list[str] = []
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.on("request", lambda request: requested.append(request.url))
    loaded: list[str] = []
    page.on("requestfinished", lambda request: loaded.append(request.url))
    page.goto(f"{base}{path}")
    if path == "/docs":
        page.locator(".opblock-summary-path", has_text="/invoices/{ref}.pdf").first.wait_for()
    else:
        page.get_by_text("/invoices/{ref}.pdf").first.wait_for()
    shots(page, path.strip("/"))
    assert f"{base}/openapi.json" in requested
    here = (f"{base}/", f"blob:{base}/", "data:")
    assert [url for url in loaded if not url.startswith(here)] == []
    # ReDoc asks for its "powered by" logo from its CDN: the page's CSP stops it unsent
    attempted = {url for url in requested if not url.startswith(here)}
    assert attempted <= {"https://cdn.redoc.ly/redoc/logo-mini.svg"}
    context.close()
