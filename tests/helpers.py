"""Small builders for tests: a customer with an issued invoice, a completed payment."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal as D
from typing import Any
from uuid import UUID

from adapters.ledger.application import Ledger


def customer(
    ledger: Ledger, account: str = "ACME", currency: str = "GBP", rate: str = "20"
) -> UUID:
    return ledger.register_customer(
        "test",
        account_number=account,
        name=f"{account} Ltd",
        currency=currency,
        tax_rate=D(rate),
        tax_description=f"VAT {rate}%",
        payment_terms_days=14,
    )


def issued_invoice(ledger: Ledger, account: str = "ACME", net: str = "100.00") -> str:
    """An issued invoice whose total is ``net`` plus the customer's tax."""
    invoice_id = ledger.create_invoice(account, "test")
    ledger.add_line(invoice_id, "test", description="Service", quantity=D("1"), unit_price=D(net))
    return ledger.issue_invoice(invoice_id, "test")


def completed_payment(ledger: Ledger, account: str = "ACME", amount: str = "100.00") -> UUID:
    return ledger.record_payment(account, "test", amount=D(amount), status="completed")


def event_count(ledger: Ledger) -> int:
    return sum(1 for _ in ledger.all_events())


@dataclass
class Result:
    """A command's exit code and output, as a user sees them."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def cli_result(capsys: Any, argv: list[str], clock: Callable[[], datetime] | None = None) -> Result:
    """The real ``tollbook`` entry point in this process, with its error mapping: the exit
    code and output of this call alone."""
    from adapters.cli.main import main

    capsys.readouterr()
    try:
        main(argv, clock=clock)
        code = 0
    except SystemExit as stop:
        code = int(stop.code or 0)
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)


def run_cli(capsys: Any, *argv: str) -> tuple[int, str, str]:
    """:func:`cli_result` as (exit code, standard output, standard error)."""
    result = cli_result(capsys, list(argv))
    return result.code, result.out, result.err
