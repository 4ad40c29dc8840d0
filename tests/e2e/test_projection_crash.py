"""A projection killed mid-stream (SIGKILL) and restarted applies each event exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from decimal import Decimal as D
from pathlib import Path

from adapters.reconcile import reconcile
from domain.payment import Payment
from projections.payment_history import HISTORY
from tests.integration.billing import customer, execute, issued_invoice, paid, runner_for

TOLLBOOK = str(Path(sys.executable).with_name("tollbook"))


def test_a_killed_rebuild_resumes_and_applies_every_event_once(ledger, store_url):
    customer(ledger, "ACME")
    for n in range(40):
        number = issued_invoice(ledger, "ACME", f"{n + 10}.00")
        payment = paid(ledger, "ACME", "5.00")
        ledger.allocate(payment, [(number, D("5.00"))], "t")
    runner_for(ledger, store_url).catch_up()  # create the tables and tracking rows
    env = {**os.environ, "TOLLBOOK_DATABASE_URL": store_url, "TOLLBOOK_LOG_LEVEL": "error"}
    process = subprocess.Popen(
        [TOLLBOOK, "projections", "rebuild", "--batch-size", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    head = ledger.recorder.max_notification_id()
    deadline = time.monotonic() + 60
    position = 0
    while time.monotonic() < deadline:
        rows = execute(store_url, "SELECT MIN(position) FROM projection_tracking")
        position = int(rows[0][0] or 0)
        if 20 < position < head:
            break
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert 0 < position < head, "the rebuild should have been killed mid-stream"

    restarted = runner_for(ledger, store_url, batch_size=7)
    restarted.catch_up()

    assert reconcile(ledger, restarted.store) == []
    payment_events = [
        e for _, e in ledger.all_events() if isinstance(e, Payment.Received | Payment.Allocated)
    ]
    assert len(restarted.store.select(HISTORY)) == len(payment_events) == 80
    assert all(lag == 0 for _, lag in restarted.status())
