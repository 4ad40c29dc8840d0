"""Run the real ``tollbook`` entry point in-process, on the test's store."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from adapters.cli.main import main
from adapters.clock import SteppingClock


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def tollbook(
    store_url: str, clock: SteppingClock, capsys: pytest.CaptureFixture[str]
) -> Callable[..., Result]:
    """The CLI on the test's store and the test's clock (never the real one)."""

    def run(*args: str) -> Result:
        capsys.readouterr()
        try:
            main(["--db", store_url, "--actor", "finance:test", *args], clock=clock)
            code = 0
        except SystemExit as stop:
            code = int(stop.code or 0)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run
