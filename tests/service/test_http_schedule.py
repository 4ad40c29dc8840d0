"""Invoice schedules over HTTP: set on registration, changed and removed with PATCH,
refused clearly when invalid."""

from __future__ import annotations

from tests.service.conftest import ok


def test_schedule_is_set_changed_and_removed_over_http(writer, reader):
    created = ok(
        writer.post(
            "/customers",
            {
                "account_number": "SCH",
                "name": "Sched Ltd",
                "invoice_schedule": {"frequency": "monthly", "day": 16},
            },
        ),
        201,
    )
    assert created["invoice_schedule"] == {"frequency": "monthly", "day": 16}

    changed = ok(writer.patch("/customers/SCH", {"invoice_schedule": {"frequency": "daily"}}))
    assert changed["invoice_schedule"] == {"frequency": "daily", "day": 1}
    removed = ok(writer.patch("/customers/SCH", {"invoice_schedule": None}))
    assert removed["invoice_schedule"] is None

    history = ok(reader.get("/customers/SCH/history"))
    kinds = [event["type"] for event in history]
    assert kinds.count("Customer.ScheduleChanged") == 2


def test_an_invalid_schedule_is_a_422_naming_the_field(writer):
    ok(writer.post("/customers", {"account_number": "BAD", "name": "Bad Ltd"}), 201)
    refused = writer.patch(
        "/customers/BAD", {"invoice_schedule": {"frequency": "weekly", "day": 8}}
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "body.invoice_schedule"
    refused = writer.patch("/customers/BAD", {"invoice_schedule": {"frequency": "yearly"}})
    assert refused.status_code == 422
    assert ok(writer.get("/customers/BAD"))["version"] == 1  # nothing written
