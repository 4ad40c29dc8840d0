"""A clock that only moves when told to: for the scripted demo, tests and benchmarks."""

from __future__ import annotations

from datetime import datetime, timedelta


class SteppingClock:
    def __init__(self, start: datetime, step: timedelta = timedelta(seconds=1)) -> None:
        if start.tzinfo is None:
            raise ValueError("the clock needs a timezone-aware start")
        self.now = start
        self.step = step

    def __call__(self) -> datetime:
        # Each reading moves on a little, so every event has its own distinct moment.
        self.now += self.step
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now

    def set(self, moment: datetime) -> None:
        self.now = moment
