"""``tollbook export reconcile``: every exported invoice and credit note read back from the
accounting system and compared with the ledger (total, amount due, status, and an open
invoice's due date where the system reads it back).

The remote system's own status words are put into the ledger's three: ``open`` (something is
still owed), ``paid`` (nothing is: paid, credited, or a credit note fully used) and ``voided``.
A voided document's amount due is not compared (nothing is owed on it either way).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Literal

import structlog

from adapters.accounting.client import ReadsBack, RemoteDocument
from adapters.accounting.errors import RemoteRejected

log = structlog.get_logger("tollbook.export.reconcile")

Kind = Literal["invoice", "credit_note"]
Status = Literal["open", "paid", "voided"]

#: Each system's status words, as the ledger's (docs/exports.md, "Reconciliation").
STATUS_WORDS: dict[str, dict[str, Status]] = {
    # Xero's Invoice / CreditNote Status: a credit note fully allocated is PAID.
    "xero": {
        "draft": "open",
        "submitted": "open",
        "authorised": "open",
        "paid": "paid",
        "voided": "voided",
        "deleted": "voided",
    },
    # Clear Books' listInvoices status (its SOAP documentation and official client): an
    # approved document with a balance is open; with none left (paid, or used up by credit)
    # "paid"; "credited" is its filter word for a document settled by credit. "bad_debt"
    # is left out on purpose: the ledger never writes a debt off, so it is a difference.
    "clearbooks": {
        "draft": "open",
        "approved": "open",
        "unpaid": "open",
        "paid": "paid",
        "credited": "paid",
        "voided": "voided",
    },
    # FreshBooks: an invoice's v3_status (its SDKs' InvoiceV3Status) - only paid, autopaid and
    # success mean nothing is owed; the rest are states of sending, viewing, online payment
    # attempts and disputes, all with money still owed. FreshBooks cannot void: a voided
    # invoice is deleted (vis_state 1), read back as "deleted". A credit note's own status
    # says only whether it was sent (draft, created, sent, viewed); the client reads it back
    # as "applied" once all of its credit is applied to invoices.
    "freshbooks": {
        **{
            word: "open"
            for word in (
                "created",
                "draft",
                "sent",
                "viewed",
                "failed",
                "retry",
                "partial",
                "disputed",
                "resolved",
                "overdue",
                "declined",
                "pending",
                "deposit-partial",
                "deposit-paid",
            )
        },
        "paid": "paid",
        "autopaid": "paid",
        "success": "paid",
        "applied": "paid",
        "deleted": "voided",
    },
}


@dataclass(frozen=True)
class LedgerDocument:
    """An invoice or credit note as the ledger's read models hold it."""

    kind: Kind
    local_id: str
    number: str
    currency: str
    total: Decimal
    amount_due: Decimal
    status: Status
    due_date: date | None = None  # an invoice's


@dataclass(frozen=True)
class Checked:
    """One exported document compared; ``differences`` names each field that differs."""

    kind: Kind
    number: str
    remote_id: str
    currency: str
    ledger_total: Decimal | None
    remote_total: Decimal | None
    ledger_due: Decimal | None
    remote_due: Decimal | None
    ledger_status: str
    remote_status: str
    differences: tuple[str, ...]
    ledger_due_date: date | None = None
    remote_due_date: date | None = None


@dataclass
class Reconciliation:
    connection: str
    system: str
    checked: list[Checked] = field(default_factory=list)

    @property
    def differing(self) -> list[Checked]:
        return [c for c in self.checked if c.differences]


def status_of(system: str, word: str) -> str:
    """The ledger's word for a remote status word (an unknown word is kept, and so differs)."""
    return STATUS_WORDS.get(system, {}).get(word.strip().casefold(), word)


def ledger_status(state: str, outstanding: Decimal) -> Status:
    if state == "void":
        return "voided"
    return "paid" if outstanding == 0 else "open"


def reconcile(
    connection: str,
    system: str,
    client: ReadsBack,
    exported: Iterable[tuple[Kind, str, str]],
    ledger: Mapping[str, LedgerDocument],
) -> Reconciliation:
    """Read back each exported ``(kind, local id, remote id)`` and compare it with ``ledger``."""
    result = Reconciliation(connection, system)
    for kind, local_id, remote_id in exported:
        mine = ledger.get(local_id)
        try:
            remote: RemoteDocument | None = client.read_back(kind, remote_id)
        except RemoteRejected as error:  # deleted remotely, or never there
            log.warning("read back refused", kind=kind, remote_id=remote_id, error=str(error))
            remote = None
        result.checked.append(_compare(system, kind, remote_id, mine, remote))
    return result


def _compare(
    system: str,
    kind: Kind,
    remote_id: str,
    mine: LedgerDocument | None,
    remote: RemoteDocument | None,
) -> Checked:
    differences: list[str] = []
    if mine is None:
        differences.append("not in the ledger")
    if remote is None:
        differences.append(f"not found in {system}")
    remote_status = status_of(system, remote.status) if remote else ""
    if mine is not None and remote is not None:
        if remote.currency != mine.currency:
            differences.append("currency")
        if remote.total != mine.total:
            differences.append("total")
        if remote.amount_due != mine.amount_due and "voided" not in (mine.status, remote_status):
            differences.append("amount due")
        if remote_status != mine.status:
            differences.append("status")
        # what a customer is chased by: an open invoice's due date (a paid or void one's
        # no longer matters); compared where the system reads it back
        if (
            kind == "invoice"
            and mine.status == "open"
            and remote_status == "open"
            and None not in (mine.due_date, remote.due_date)
            and mine.due_date != remote.due_date
        ):
            differences.append("due date")
    return Checked(
        kind=kind,
        number=(mine.number if mine else remote.number if remote else ""),
        remote_id=remote_id,
        currency=(mine.currency if mine else remote.currency if remote else ""),
        ledger_total=mine.total if mine else None,
        remote_total=remote.total if remote else None,
        ledger_due=mine.amount_due if mine else None,
        remote_due=remote.amount_due if remote else None,
        ledger_status=mine.status if mine else "",
        remote_status=remote_status,
        differences=tuple(differences),
        ledger_due_date=mine.due_date if mine else None,
        remote_due_date=remote.due_date if remote else None,
    )
