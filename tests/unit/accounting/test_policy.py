"""The exporter's retry and rate-limit policy, on a fake clock."""

from __future__ import annotations

import pytest

from adapters.accounting.errors import NotAuthorised, RemoteRejected, RemoteUnavailable
from adapters.accounting.policy import CallPolicy, RateLimiter
from tests.fakes.server import FakeClock


def test_the_limiter_lets_60_calls_through_then_waits_for_the_window_to_roll():
    clock = FakeClock(0.0)
    limiter = RateLimiter(60, 60.0, clock=clock, sleep=clock.sleep)
    for _ in range(60):
        limiter.acquire()
        clock.sleep(0.1)
    assert clock() == pytest.approx(6.0)

    limiter.acquire()

    assert clock() == pytest.approx(60.0)  # waited until the first call left the window


def test_transient_failures_back_off_exponentially_and_retry_after_wins():
    clock = FakeClock(0.0)
    policy = CallPolicy(max_attempts=5, sleep=clock.sleep)
    answers = [
        RemoteUnavailable("503"),
        RemoteUnavailable("503"),
        RemoteUnavailable("429", retry_after=17),
        "ok",
    ]

    def call():
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert policy.call("x", call) == "ok"
    assert policy.waits == [1.0, 2.0, 17.0]


def test_it_gives_up_after_max_attempts_and_never_retries_a_refusal_or_bad_credentials():
    policy = CallPolicy(max_attempts=3, sleep=lambda s: None)
    calls = []

    def down():
        calls.append(1)
        raise RemoteUnavailable("503")

    with pytest.raises(RemoteUnavailable):
        policy.call("x", down)
    assert len(calls) == 3

    for error in (RemoteRejected("invalid"), NotAuthorised("bad key")):
        calls.clear()

        def refused(error=error):
            calls.append(1)
            raise error

        with pytest.raises(type(error)):
            policy.call("x", refused)
        assert len(calls) == 1
