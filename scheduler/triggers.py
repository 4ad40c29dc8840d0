"""When each job fires: cron triggers in the customer's own time zone."""

from __future__ import annotations

from datetime import time
from uuid import UUID
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from domain.customer import CustomerProfile
from domain.schedule import InvoiceSchedule


def invoice_job_id(customer_id: UUID) -> str:
    return f"invoice:{customer_id}"


def invoice_job_name(profile: CustomerProfile, at: time) -> str:
    """Names the job by everything its trigger depends on: a changed name means a new trigger."""
    assert profile.invoice_schedule is not None
    return (
        f"invoice {profile.account_number} {profile.invoice_schedule.text}"
        f" {profile.time_zone} {at:%H:%M}"
    )


def invoice_trigger(schedule: InvoiceSchedule, zone: str, at: time) -> CronTrigger:
    """Fire on the schedule's run days at ``at`` local time (DST handled by the trigger)."""
    common = {"hour": at.hour, "minute": at.minute, "timezone": ZoneInfo(zone)}
    if schedule.frequency == "weekly":
        return CronTrigger(day_of_week=schedule.day - 1, **common)
    if schedule.frequency == "monthly":
        return CronTrigger(day=schedule.day, **common)
    return CronTrigger(**common)
