"""Fixtures for the accounting exports: fake services on 127.0.0.1 and a billing cycle."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from adapters.accounting.config import Connection
from adapters.accounting.exporter import Exporter
from adapters.accounting.factory import build_exporter
from tests.fakes.clearbooks import FakeClearBooks
from tests.fakes.freshbooks import FakeFreshBooks
from tests.fakes.server import FakeClock, FakeService
from tests.fakes.xero import FakeXero


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


def _serve(fake: FakeService) -> Iterator[Any]:
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def xero(fake_clock: FakeClock) -> Iterator[FakeXero]:
    fake = FakeXero(fake_clock)
    yield from _serve(fake)
    # Every request any test made must have matched Xero's OpenAPI document.
    assert fake.spec_violations == []


@pytest.fixture
def clearbooks() -> Iterator[FakeClearBooks]:
    yield from _serve(FakeClearBooks())


@pytest.fixture
def freshbooks() -> Iterator[FakeFreshBooks]:
    yield from _serve(FakeFreshBooks())


@pytest.fixture
def fakes(request: pytest.FixtureRequest) -> Callable[[str], Any]:
    """The fake service of a system, started on first use."""
    return lambda system: request.getfixturevalue(system)


@pytest.fixture
def make_exporter(store_url: str, fake_clock: FakeClock) -> Callable[..., Exporter]:
    """An exporter on the test's store whose waits advance the fake clock (no real sleeping)."""

    def make(ledger: Any, connection: Connection, **kwargs: Any) -> Exporter:
        return build_exporter(
            ledger, store_url, connection, sleep=fake_clock.sleep, clock=fake_clock, **kwargs
        )

    return make
