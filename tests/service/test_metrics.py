"""``GET /metrics``: refused without a key; scraped with one, it parses as the Prometheus text
format, and its families move with what the service does (requests by route template, saves
and version conflicts, billing runs and CDR imports, webhook attempts, scheduler runs, and the
gauges read from the database at scrape time), on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from typing import Any

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from adapters.accounting.store import ExportStore
from adapters.app.context import Services
from adapters.config import build_ledger
from adapters.service.app import create_app
from adapters.usage.billing import run_billing
from adapters.usage.importer import import_cdrs
from adapters.webhooks.worker import RetryPolicy, WebhookWorker
from domain.usage import Period
from scheduler.context import JobContext
from scheduler.service import build_scheduler
from tests.integration.usage_helpers import cdr, trunk, write_cdrs
from tests.service.conftest import Api, make_customer, ok

Families = dict[str, dict[tuple[tuple[str, str], ...], float]]


def scrape(api: Api) -> Families:
    """Every sample of the scrape, by sample name then by its labels."""
    response = api.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples: Families = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def value(samples: Families, name: str, **labels: str) -> float:
    """The sample's value; 0 when the series does not exist yet (a counter not moved)."""
    return samples.get(name, {}).get(tuple(sorted(labels.items())), 0.0)


def test_metrics_are_refused_without_a_key(client: TestClient, keys: dict[str, str]) -> None:
    anonymous = client.get("/metrics")
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"
    assert anonymous.json()["code"] == "unauthorised"
    wrong = client.get("/metrics", headers={"Authorization": "Bearer tb_not_a_key"})
    assert wrong.status_code == 401 and wrong.json()["code"] == "unauthorised"
    assert "tollbook_" not in anonymous.text + wrong.text


def test_requests_are_counted_and_timed_by_route_template_and_status_never_by_path(
    reader: Api, writer: Api
) -> None:
    before = scrape(reader)
    customer = make_customer(writer, "ROUTE1")
    ok(reader.get(f"/customers/{customer['id']}"))
    ok(reader.get("/customers/ROUTE1"))
    assert reader.get("/customers/NOBODY").status_code == 404
    assert reader.get("/no/such/thing-123").status_code == 404
    listed = reader.get("/invoices")  # answered again from the kept copy, before routing:
    kept = reader.get("/invoices", headers={"If-None-Match": listed.headers["etag"]})
    assert kept.status_code == 304
    after = scrape(reader)

    template = {"method": "GET", "route": "/customers/{ref}"}
    ok_200 = {**template, "status": "200"}
    assert value(after, "tollbook_http_requests_total", **ok_200) == (
        value(before, "tollbook_http_requests_total", **ok_200) + 2
    )
    missing = {**template, "status": "404"}
    assert value(after, "tollbook_http_requests_total", **missing) == (
        value(before, "tollbook_http_requests_total", **missing) + 1
    )
    created = {"method": "POST", "route": "/customers", "status": "201"}
    assert value(after, "tollbook_http_requests_total", **created) >= 1
    count = "tollbook_http_request_duration_seconds_count"
    assert value(after, count, **ok_200) == value(before, count, **ok_200) + 2
    assert value(after, "tollbook_http_request_duration_seconds_bucket", **ok_200, le="+Inf") == (
        value(after, count, **ok_200)
    )
    # no label holds a raw path: the ids and account numbers stay out of the series
    routes = {dict(labels).get("route") for labels in after["tollbook_http_requests_total"]}
    assert not any("ROUTE1" in str(r) or customer["id"] in str(r) for r in routes), routes
    # a path no route matches is counted as unmatched, not under its path
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    assert value(after, "tollbook_http_requests_total", **unmatched) == (
        value(before, "tollbook_http_requests_total", **unmatched) + 1
    )
    not_modified = {"method": "GET", "route": "/invoices", "status": "304"}
    assert value(after, "tollbook_http_requests_total", **not_modified) == (
        value(before, "tollbook_http_requests_total", **not_modified) + 1
    )
    # the scrape before this one was itself counted, under its own template
    assert value(
        after, "tollbook_http_requests_total", method="GET", route="/metrics", status="200"
    )


class Interfering:
    """A ledger clock that, once armed, runs ``action`` at its next reading: inside a command,
    after it loaded its aggregate and before it saves (another writer wins the race)."""

    def __init__(self) -> None:
        self.now = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
        self.action: Callable[[], None] | None = None

    def __call__(self) -> datetime:
        action, self.action = self.action, None
        if action is not None:
            action()
        self.now += timedelta(seconds=1)
        return self.now


def test_a_version_conflict_and_the_saves_are_counted(store_url: str) -> None:
    clock = Interfering()
    services = Services.from_url(store_url, clock=clock)
    other = build_ledger(store_url, clock=clock)
    try:
        reader = Api(TestClient(create_app(services)), services.api_keys.create("m", "read"))
        ledger = services.ledger
        make_customer(Api(reader.client, services.api_keys.create("w", "write")), "RACE")
        invoice = ledger.create_invoice("RACE", "t")
        before = scrape(reader)

        def other_writer_first() -> None:
            other.add_line(invoice, "t", description="B", quantity=D(1), unit_price=D(1))

        clock.action = other_writer_first
        ledger.add_line(invoice, "t", description="A", quantity=D(1), unit_price=D(1))
        after = scrape(reader)
        lines = other.invoice(invoice).lines.values()
        assert {line.description for line in lines} == {"A", "B"}
    finally:
        other.close()
        services.close()

    operation = {"operation": "line added"}
    conflicts = "tollbook_event_store_conflicts_total"
    assert value(after, conflicts, **operation) == value(before, conflicts, **operation) + 1
    written = "tollbook_events_written_total"
    # only this process's own save is counted (the other ledger is another writer)
    assert value(after, written, **operation) == value(before, written, **operation) + 1
    saves = "tollbook_event_store_saves_total"
    assert value(after, saves, **operation) == value(before, saves, **operation) + 1


def test_billing_runs_and_cdr_imports_record_durations_and_rows(
    services: Services, reader: Api, tmp_path: Any
) -> None:
    ledger, db = services.ledger, services.db
    ledger.register_customer(
        "t",
        account_number="BILL",
        name="Bill Ltd",
        currency="GBP",
        tax_rate=D("20"),
        tax_description="VAT 20%",
        payment_terms_days=14,
    )
    trunk(ledger, "BILL", datetime(2026, 1, 1).date())
    rows = [cdr("m1", "BILL"), cdr("m2", "BILL"), cdr("m3", "NOBODY"), cdr("m1", "BILL")]
    before = scrape(reader)
    import_cdrs(ledger, db, write_cdrs(tmp_path / "oct.csv", rows))
    run_billing(ledger, db, Period.month("2026-10"))
    run_billing(ledger, db, Period.month("2026-10"), dry_run=True)
    after = scrape(reader)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("tollbook_cdr_import_duration_seconds_count", outcome="ok") == 1
    assert moved("tollbook_cdr_import_duration_seconds_sum", outcome="ok") > 0
    assert moved("tollbook_cdr_import_rows_total", result="inserted") == 2
    assert moved("tollbook_cdr_import_rows_total", result="rejected") >= 1
    assert moved("tollbook_billing_run_duration_seconds_count", dry_run="false") == 1
    assert moved("tollbook_billing_run_duration_seconds_count", dry_run="true") == 1
    assert moved("tollbook_billing_run_duration_seconds_sum", dry_run="false") > 0
    assert moved("tollbook_billing_run_invoices_total", action="created") == 1
    assert moved("tollbook_billing_run_invoices_total", action="exists") == 1


def test_webhook_attempts_and_backlog_per_subscription(
    services: Services, reader: Api, writer: Api, receiver_factory: Any
) -> None:
    receiver = receiver_factory(statuses=[500])
    subscription = services.webhooks.add(receiver.url, "whsec_" + "s" * 32, [], 0, "test").id
    make_customer(writer, "HOOK")
    worker = WebhookWorker(
        services.ledger, services.webhooks, policy=RetryPolicy(base=0, cap=0, max_attempts=5)
    )
    worker._queue(services.webhooks.subscription(subscription))
    queued = scrape(reader)
    pending = value(queued, "tollbook_webhook_backlog", subscription=subscription, status="pending")
    assert pending == 1
    assert value(queued, "tollbook_webhook_unqueued_positions", subscription=subscription) == 0

    worker.run_once()  # the receiver answers 500 first
    worker.run_once()  # then 200
    after = scrape(reader)
    attempts = "tollbook_webhook_attempts_total"
    assert value(after, attempts, subscription=subscription, outcome="retrying") == 1
    assert value(after, attempts, subscription=subscription, outcome="delivered") == 1
    assert (
        value(after, "tollbook_webhook_backlog", subscription=subscription, status="pending") == 0
    )


def test_read_model_positions_and_lag_are_read_from_the_database_when_scraped(
    services: Services, reader: Api, writer: Api
) -> None:
    from adapters.store.read_models import SqlViewStore
    from projections.runner import Runner

    make_customer(writer, "LAG")
    samples = scrape(reader)
    head = value(samples, "tollbook_log_head_position")
    assert head == services.ledger.recorder.max_notification_id()
    assert value(samples, "tollbook_database_up") == 1
    runner = Runner(
        services.ledger, SqlViewStore(services.db, services.ledger.recorder.events_table_name)
    )
    runner.catch_up()
    caught_up = scrape(reader)
    for projection in runner.projections:
        name = projection.name
        assert value(caught_up, "tollbook_read_model_position", read_model=name) == head
        assert value(caught_up, "tollbook_read_model_lag_positions", read_model=name) == 0
        assert value(caught_up, "tollbook_read_model_stopped", read_model=name) == 0
    make_customer(writer, "LAG2")
    behind = scrape(reader)
    assert value(behind, "tollbook_read_model_lag_positions", read_model="directory") > 0


def test_scheduler_runs_and_failures_are_counted_by_job_kind(
    services: Services, reader: Api
) -> None:
    ctx = JobContext(services.ledger, services.db, stopping=threading.Event())
    scheduler = build_scheduler(ctx)
    done = threading.Event()
    seen: list[int] = []

    def listener(event: Any) -> None:
        seen.append(event.code)
        if len(seen) == 3:
            done.set()

    scheduler.add_listener(listener, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    before = scrape(reader)
    scheduler.start()
    try:
        now = datetime.now(UTC)
        scheduler.add_job(_fine, "date", run_date=now, id="export:acme-xero", jobstore="local")
        scheduler.add_job(_broken, "date", run_date=now, id="webhooks", jobstore="local")
        # fell due two minutes ago (the service was down): runs now, late
        late = now - timedelta(minutes=2)
        scheduler.add_job(_fine, "date", run_date=late, id="invoice:c0ffee", jobstore="local")
        assert done.wait(10)
    finally:
        ctx.stopping.set()
        scheduler.shutdown(wait=True)
    after = scrape(reader)
    runs = "tollbook_scheduler_job_runs_total"
    for job, outcome in (("export:acme-xero", "ok"), ("webhooks", "failed"), ("invoice", "ok")):
        labels = {"job": job, "outcome": outcome}
        assert value(after, runs, **labels) == value(before, runs, **labels) + 1
    misses = "tollbook_scheduler_job_misses_total"
    late_run = {"job": "invoice", "reason": "late"}  # one label for every customer's schedule
    assert value(after, misses, **late_run) == value(before, misses, **late_run) + 1
    on_time = {"job": "webhooks", "reason": "late"}
    assert value(after, misses, **on_time) == value(before, misses, **on_time)


def _fine() -> None:
    pass


def _broken() -> None:
    raise RuntimeError("this job fails on purpose")


def test_export_backlog_and_dead_letters_per_connection(
    services: Services, keys: dict[str, str], monkeypatch: Any
) -> None:
    # two connections: one configured and never run, one that has exported up to a point
    monkeypatch.setenv(
        "TOLLBOOK_CONNECTIONS",
        '{"new-books": {"system": "clearbooks", "api_key": "k"},'
        ' "old-xero": {"system": "xero", "tenant_id": "t", "client_id": "c",'
        ' "client_secret": "s"}}',
    )
    with TestClient(create_app(services)) as client:
        writer, reader = Api(client, keys["write"]), Api(client, keys["read"])
        for account in ("EXP1", "EXP2", "EXP3"):
            make_customer(writer, account)
        head = services.ledger.recorder.max_notification_id()
        store = ExportStore(services.db)
        store.dead_letter(
            "old-xero",
            "xero",
            position=head - 1,
            event_key=f"invoice:{head - 1}",
            kind="invoice",
            customer_id="c",
            label="INV-2026-000001",
            status="dead",
            error="422 from Xero: account code unknown",
        )
        samples = scrape(reader)

    backlog = "tollbook_export_backlog_positions"
    assert value(samples, backlog, connection="new-books") == head  # the whole log waits
    assert value(samples, backlog, connection="old-xero") == 1  # moved past the dead letter
    letters = "tollbook_export_dead_letters"
    assert value(samples, letters, connection="old-xero", status="dead") == 1
    assert value(samples, letters, connection="old-xero", status="parked") == 0
    # a connection without dead letters reports 0, not nothing (an alert sees it recover)
    assert samples[letters][(("connection", "new-books"), ("status", "dead"))] == 0
