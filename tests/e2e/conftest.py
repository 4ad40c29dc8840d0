"""Run the real ``tollbook`` entry point in-process, on the test's store."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from adapters.clock import SteppingClock
from tests.helpers import Result, cli_result

__all__ = ["Result", "tollbook"]  # Result: tests import it from here too


@pytest.fixture
def tollbook(
    store_url: str, clock: SteppingClock, capsys: pytest.CaptureFixture[str]
) -> Callable[..., Result]:
    """The CLI on the test's store and the test's clock (never the real one)."""

    def run(*args: str) -> Result:
        return cli_result(capsys, ["--db", store_url, "--actor", "finance:test", *args], clock)

    return run
