"""TOLLBOOK_IDEMPOTENCY_KEY_DAYS: how long an Idempotency-Key's answer is given, and when a key
has expired (docs/http-api.md, "Retention")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from adapters.config import ConfigError, key_retention_days
from domain.idempotency import expired


@pytest.mark.parametrize(
    ("text", "days"), [("", None), ("  ", None), ("1", 1), (" 30 ", 30), ("36500", 36_500)]
)
def test_a_retention_is_a_whole_number_of_days_or_for_ever(text: str, days: int | None) -> None:
    assert key_retention_days({"TOLLBOOK_IDEMPOTENCY_KEY_DAYS": text}) == days
    assert key_retention_days({}) is None


@pytest.mark.parametrize("text", ["0", "-1", "36501", "1e3", "30.5", "thirty", "\u0663", "9" * 400])
def test_any_other_retention_is_a_configuration_error(text: str) -> None:
    with pytest.raises(ConfigError, match="from 1 to 36,500"):
        key_retention_days({"TOLLBOOK_IDEMPOTENCY_KEY_DAYS": text})


def test_a_key_expires_only_after_its_whole_retention() -> None:
    used = datetime(2026, 10, 1, 9, tzinfo=UTC)
    assert not expired(used, used + timedelta(days=400), None)  # unset: kept for ever
    assert not expired(used, used + timedelta(days=30), 30)
    assert expired(used, used + timedelta(days=30, seconds=1), 30)
