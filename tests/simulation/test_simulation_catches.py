"""The simulation is only worth its invariants if it notices a broken rule: with the
over-allocation check of an allocation patched out, the state machine must fail."""

from __future__ import annotations

import contextlib
from decimal import Decimal as D
from pathlib import Path

import pytest

from domain import allocation
from domain.errors import OverAllocation
from domain.invoice import Invoice
from domain.payment import Payment
from tests.simulation.machine import Ref, simulation_for


def _without_the_over_allocation_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """The invoice side of an allocation no longer refuses more than is outstanding (every
    other check stays)."""
    checked = allocation._check_allocation

    def lenient(payment: Payment, invoice: Invoice, amount: D) -> None:
        with contextlib.suppress(OverAllocation):
            checked(payment, invoice, amount)

    monkeypatch.setattr(allocation, "_check_allocation", lenient)


def test_a_broken_over_allocation_check_is_caught(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    machine = simulation_for(store_url, tmp_path)()
    try:
        machine.start()
        machine.money_never_goes_wrong()
        acme = machine.register_customer("ACME", "GBP", D("20"))
        invoice = machine.issued_invoice(acme, D("1"), D("10.000"))  # 12.00 with tax
        payment = machine.record_payment(acme, 5000, True, None)  # 50.00, completed
        assert isinstance(acme, Ref) and isinstance(invoice, Ref) and isinstance(payment, Ref)
        machine.money_never_goes_wrong()
        # the sound ledger refuses 12.01 on an invoice of 12.00, as the model predicts
        machine.allocate(payment, [0], False, "over")
        machine.money_never_goes_wrong()

        _without_the_over_allocation_check(monkeypatch)
        with pytest.raises(AssertionError, match="the model expected a refusal"):
            machine.allocate(payment, [0], False, "over")
        assert machine.model.invoices[invoice.key].outstanding == D("12.00")
        assert machine.ledger.invoice(invoice.key).outstanding == D("-0.01")
    finally:
        monkeypatch.undo()
        machine._close()
        machine._remove_store()
