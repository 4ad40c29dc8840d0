"""The sign-in lockout under concurrency, over real HTTP (uvicorn in a thread) on both stores:
40 guesses at once check at most five passwords, and a right password that races wrong ones
does not lift the lock.

Checks are counted by wrapping the portal's password verifier (``Users.verify``): every
password the server checks goes through it, whatever the answer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from adapters.app.users import MAX_FAILURES, check_password
from adapters.portal.web import Portal
from tests.portal.support import PASSWORD, Guesser, serving

GUESSERS = 40


class CountingVerifier:
    """The real password check, counted; ``before`` runs first (to pace a check)."""

    def __init__(self, before: Callable[[str], None] = lambda password: None) -> None:
        self.lock = threading.Lock()
        self.passwords: list[str] = []
        self.before = before

    def __call__(self, password: str, stored: str) -> bool:
        with self.lock:
            self.passwords.append(password)
        self.before(password)
        return check_password(password, stored)


def _at_once(base: str, guesses: list[tuple[str, str]]) -> list[int]:
    """Post every (username, password) guess at the same moment, one browser each."""
    guessers = [Guesser(base) for _ in guesses]
    start = threading.Barrier(len(guesses))

    def post(index: int) -> int:
        start.wait()
        username, password = guesses[index]
        return guessers[index].guess(username, password)

    try:
        with ThreadPoolExecutor(len(guesses)) as pool:
            return list(pool.map(post, range(len(guesses))))
    finally:
        for guesser in guessers:
            guesser.close()


def test_forty_guesses_at_once_check_at_most_the_limit(app: Any, portal: Portal) -> None:
    verifier = CountingVerifier()
    portal.users.verify = verifier
    with serving(app) as base:
        statuses = _at_once(base, [("fiona", f"wrong guess {i:02d}") for i in range(GUESSERS)])
        assert len(verifier.passwords) == MAX_FAILURES
        assert sorted(set(statuses)) == [401, 429]
        assert statuses.count(401) == MAX_FAILURES
        assert statuses.count(429) == GUESSERS - MAX_FAILURES
        record = portal.users.sign_in_record("fiona")
        assert (record.attempts, record.in_flight, record.failures) == (MAX_FAILURES, 0, 5)

        # the name stays locked for the right password too, and nothing more is checked
        assert Guesser(base).guess("fiona", PASSWORD) == 429
        assert len(verifier.passwords) == MAX_FAILURES
        # other names are not affected
        assert Guesser(base).guess("audrey", PASSWORD) == 303


def test_unknown_names_are_throttled_the_same_way(app: Any, portal: Portal) -> None:
    verifier = CountingVerifier()
    portal.users.verify = verifier
    with serving(app) as base:
        statuses = _at_once(base, [("nobody", f"guess {i:02d}") for i in range(GUESSERS)])
    assert len(verifier.passwords) == MAX_FAILURES
    assert statuses.count(401) == MAX_FAILURES
    assert statuses.count(429) == GUESSERS - MAX_FAILURES


def test_a_right_password_racing_wrong_ones_does_not_lift_the_lock(
    app: Any, portal: Portal
) -> None:
    """The right password claims a slot first and is held inside its check until every other
    slot is taken by wrong guesses, so it certainly races them; it signs in, but the count it
    raced stands and the name stays locked."""
    release = threading.Event()

    def hold_the_right_one(password: str) -> None:
        if password == PASSWORD:
            assert release.wait(30), "the wrong guesses never took the other slots"

    verifier = CountingVerifier(hold_the_right_one)
    portal.users.verify = verifier
    with serving(app) as base, ThreadPoolExecutor(1) as pool:
        right = pool.submit(Guesser(base).guess, "fiona", PASSWORD)
        deadline = time.monotonic() + 30
        while portal.users.sign_in_record("fiona").attempts < 1:
            assert time.monotonic() < deadline, "the right password never claimed a slot"
            time.sleep(0.01)

        wrong = _at_once(base, [("fiona", f"wrong guess {i:02d}") for i in range(GUESSERS - 1)])
        assert portal.users.sign_in_record("fiona").attempts == MAX_FAILURES
        release.set()
        assert right.result(timeout=60) == 303  # the user is signed in all the same

        assert wrong.count(401) == MAX_FAILURES - 1
        assert wrong.count(429) == GUESSERS - MAX_FAILURES
        assert len(verifier.passwords) == MAX_FAILURES
        record = portal.users.sign_in_record("fiona")
        assert (record.attempts, record.in_flight, record.failures) == (MAX_FAILURES, 0, 4)
        # still locked: the right password again is refused without a check
        assert Guesser(base).guess("fiona", PASSWORD) == 429
        assert len(verifier.passwords) == MAX_FAILURES


def test_a_right_password_that_raced_nothing_clears_the_count(app: Any, portal: Portal) -> None:
    """Sequentially, wrong guesses then the right password: the count is cleared as before."""
    verifier = CountingVerifier()
    portal.users.verify = verifier
    with serving(app) as base:
        guesser = Guesser(base)
        for round_ in range(3):
            for i in range(MAX_FAILURES - 1):
                assert guesser.guess("fiona", f"wrong {round_} {i}") == 401
            assert Guesser(base).guess("fiona", PASSWORD) == 303
            assert portal.users.sign_in_record("fiona").attempts == 0
    assert len(verifier.passwords) == 3 * MAX_FAILURES
