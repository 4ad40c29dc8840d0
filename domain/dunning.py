"""Dunning: a customer's reminder schedule, and which reminder an open invoice is due.

A schedule is a list of whole-day offsets from an invoice's due date (``-7, 0, 7, 14, 30``:
a week before, on the day, a week, two weeks and a month after). Each offset is a *stage*; an
invoice gets at most one e-mail per stage, and a run sends only the latest stage that has come
(after a few days without a run the customer gets one reminder, not a pile). A stage whose day
falls before the invoice date is never sent (an invoice issued two days before it is due gets
no "due in a week" reminder). docs/dunning.md has the worked example.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator

from domain import limits
from domain.errors import InvalidInput, OutOfRange

#: a stage that failed this many times is given up (visible on the invoice); the next stage,
#: when its day comes, is tried afresh
MAX_ATTEMPTS = 5
#: the earliest time zone on earth (Kiribati's Line Islands, UTC+14): no calendar day begins
#: anywhere before it has begun there
EARLIEST_ZONE_OFFSET = timedelta(hours=14)
#: the text form (CLI, portal): "-7, 0, +7, 14, 30"
SCHEDULE_TEXT = limits.Text("reminder schedule", 200)
_OFFSET = re.compile(r"[+-]?[0-9]{1,3}")
FIELD = "reminder_offsets"

#: a schedule as a profile or a change-set holds it: ascending whatever order it was given in
#: (its limits are checked by ``check_offsets`` when it is set)
ReminderOffsets = Annotated[tuple[int, ...], AfterValidator(lambda v: tuple(sorted(v)))]


def check_offsets(offsets: Iterable[object], *, field: str = FIELD) -> tuple[int, ...]:
    """A schedule within the limits, ascending: at most ``MAX_REMINDERS`` distinct whole days
    from ``MIN_REMINDER_OFFSET`` to ``MAX_REMINDER_OFFSET``. A repeated day is refused rather
    than dropped: it says the person meant something else."""
    given = list(offsets)
    limits.check_count(len(given), limits.MAX_REMINDERS, what="reminders", field=field)
    values: list[int] = []
    for value in given:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidInput(
                f"a reminder is a whole number of days from the due date, got"
                f" {limits.shown(value)}",
                field=field,
            )
        if not limits.MIN_REMINDER_OFFSET <= value <= limits.MAX_REMINDER_OFFSET:
            raise OutOfRange(
                f"a reminder must fall between {limits.MIN_REMINDER_OFFSET} and"
                f" +{limits.MAX_REMINDER_OFFSET} days from the due date, got {value}",
                field=field,
            )
        values.append(value)
    repeated = sorted({v for v in values if values.count(v) > 1})
    if repeated:
        raise InvalidInput(
            f"each reminder day once: {', '.join(offset_text(v) for v in repeated)} repeated",
            field=field,
        )
    return tuple(sorted(values))


def parse_offsets(text: str, *, field: str = FIELD) -> tuple[int, ...]:
    """``"-7, 0, +7, 14"`` -> ``(-7, 0, 7, 14)``; ``none``, ``off`` or empty -> no reminders."""
    limits.check_text(text, SCHEDULE_TEXT, field=field)
    if text.strip().lower() in ("", "none", "off"):
        return ()
    words = [word.strip() for word in text.split(",")]
    for word in words:
        if not _OFFSET.fullmatch(word):
            raise InvalidInput(
                f"reminders are whole days from the due date separated by commas, like"
                f" -7,0,7,14,30: {word[:20]!r} is not one",
                field=field,
            )
    return check_offsets([int(word) for word in words], field=field)


def offset_text(offset: int) -> str:
    return f"{offset:+d}" if offset else "0"


def schedule_text(offsets: Iterable[int]) -> str:
    """The text form that ``parse_offsets`` reads back; ``none`` for no reminders."""
    return ", ".join(offset_text(o) for o in offsets) or "none"


def stage_words(offset: int) -> str:
    """``7 days before the due date``, ``on the due date``, ``14 days overdue``."""
    if offset == 0:
        return "on the due date"
    days = f"{abs(offset)} day{'' if abs(offset) == 1 else 's'}"
    return f"{days} before the due date" if offset < 0 else f"{days} overdue"


def latest_today(now: datetime) -> date:
    """The latest calendar day that is already today somewhere at ``now``: a run's day after
    it is in the future for every customer, whatever its time zone."""
    return (now.astimezone(UTC) + EARLIEST_ZONE_OFFSET).date()


def reminder_key(offset: int) -> str:
    """The send request's key of a stage: with the invoice id it makes the send id, so one
    stage of one invoice is one request however often a run is repeated."""
    return f"reminder:{offset_text(offset)}"


def due_stage(
    offsets: Iterable[int],
    *,
    due_date: date,
    invoice_date: date,
    today: date,
    states: Mapping[int, str],
    attempts: Mapping[int, int],
) -> int | None:
    """The stage to send ``today``, or None: the latest stage whose day has come (and is not
    before the invoice date), unless it or a later stage was sent already, or it failed
    ``MAX_ATTEMPTS`` times."""
    come = [o for o in offsets if invoice_date <= due_date + timedelta(days=o) <= today]
    if not come:
        return None
    stage = max(come)
    if any(state == "sent" and offset >= stage for offset, state in states.items()):
        return None
    if attempts.get(stage, 0) >= MAX_ATTEMPTS:
        return None
    return stage
