"""``tollbook export reconcile``: every exported invoice and credit note read back from the
accounting system and compared with the ledger (total, amount due, status).

The remote system's own status words are put into the ledger's three: ``open`` (something is
still owed), ``paid`` (nothing is: paid, credited, or a credit note fully used) and ``voided``.
A voided document's amount due is not compared (nothing is owed on it either way).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

import structlog

from adapters.accounting.client import ReadsBack, RemoteDocument
from adapters.accounting.errors import RemoteRejected

log = structlog.get_logger("tollbook.export.reconcile")

Kind = Literal["invoice", "credit_note"]
Status = Literal["open", "paid", "voided"]

#: Each system's status words, as the ledger's.
STATUS_WORDS: dict[str, dict[str, Status]] = {
    "xero": {
        "DRAFT": "open",
        "SUBMITTED": "open",
        "AUTHORISED": "open",
        "PAID": "paid",
        "VOIDED": "voided",
        "DELETED": "voided",
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
    return STATUS_WORDS.get(system, {}).get(word.upper(), word)


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
    )
