"""A document a person voids or deletes by hand in the accounting system reads back, in each
system's own status words, as ``voided``: reconcile names exactly that document and field."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fakes.clearbooks import FakeClearBooks
from tests.fakes.xero import FakeXero
from tests.integration.accounting.helpers import (
    connection_to,
    correction_cycle,
    reconcile_exported,
)

# The comparison does not depend on the store: SQLite only keeps the suite fast.
SQLITE = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)


def _void_by_hand(fake: Any, number: str) -> None:
    """Void (Xero, Clear Books) or delete (FreshBooks, which cannot void) an unpaid invoice in
    the system's own screens."""
    with fake.lock:
        if isinstance(fake, FakeXero):
            [invoice_id] = [k for k, i in fake.invoices.items() if i["InvoiceNumber"] == number]
            fake._update_invoice(invoice_id, {"Status": "VOIDED"})
            return
        if isinstance(fake, FakeClearBooks):
            [invoice_id] = [k for k in fake.invoices if fake.number(k) == number]
            assert fake._m_voidInvoice({"type": "sales", "id": invoice_id})["success"]
            return
        [invoice_id] = [k for k, i in fake.invoices.items() if i["invoice_number"] == number]
        fake._update_invoice(invoice_id, {"vis_state": 1})


@SQLITE
@pytest.mark.parametrize("system", ["xero", "clearbooks", "freshbooks"])
def test_an_invoice_voided_by_hand_remotely_is_exactly_one_status_difference(
    system: str, ledger: Any, fakes: Any, make_exporter: Any
) -> None:
    fake = fakes(system)
    cycle = correction_cycle(ledger)
    exporter = make_exporter(ledger, connection_to(fake))
    assert exporter.run().count("dead") == 0
    assert reconcile_exported(exporter, ledger).differing == []
    unpaid = cycle.numbers[3]  # the first twin's invoice: nothing paid or credited

    _void_by_hand(fake, unpaid)
    result = reconcile_exported(exporter, ledger)

    [differing] = result.differing
    assert (differing.number, differing.differences) == (unpaid, ("status",))
    # VOIDED, voided and deleted: each system's word for it, the ledger's "voided"
    assert (differing.ledger_status, differing.remote_status) == ("open", "voided")
    assert len(result.checked) == len(cycle.documents)
