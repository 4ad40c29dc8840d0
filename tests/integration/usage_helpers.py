"""Shared set-up of the usage tests: customers, packages and CDR files."""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal as D
from pathlib import Path

from adapters.ledger.application import Ledger

HEADER = (
    "call_id,account,start_time,duration,billed_duration,dialled_number,destination_prefix,"
    "destination,rate_per_minute,charge,currency"
)


def cdr(
    call_id: str,
    account: str = "ACME",
    start: str = "2026-10-05T10:00:00Z",
    duration: int = 60,
    billed: int = 60,
    destination: str = "UK Mobile",
    charge: str = "0.0123",
    currency: str = "GBP",
    dialled: str = "447700900123",
    prefix: str = "447",
    rate: str = "0.0123",
) -> str:
    return (
        f"{call_id},{account},{start},{duration},{billed},{dialled},{prefix},{destination},"
        f"{rate},{charge},{currency}"
    )


def write_cdrs(path: Path, rows: Iterable[str], *, gzipped: bool = False) -> Path:
    text = "\n".join([HEADER, *rows]) + "\n"
    if gzipped:
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text, encoding="utf-8")
    return path


def customers(ledger: Ledger, accounts: Sequence[tuple[str, str, str, str]]) -> None:
    """(account, currency, time zone, grouping) each."""
    for account, currency, zone, grouping in accounts:
        ledger.register_customer(
            "t",
            account_number=account,
            name=f"{account} Ltd",
            currency=currency,
            tax_rate=D("20") if currency == "GBP" else D("0"),
            tax_description="VAT 20%" if currency == "GBP" else "Reverse charge",
            payment_terms_days=14,
            time_zone=zone,
            invoice_line_grouping=grouping,
        )


def trunk(ledger: Ledger, account: str, start: date, end: date | None = None) -> None:
    try:
        ledger.package("Trunk")
    except Exception:
        ledger.define_package(
            "t", name="Trunk", unit_price=D("120.00"), setup_price=D("50.00"), currency="GBP"
        )
    ledger.assign_package(account, "Trunk", "t", start_date=start, end_date=end)
