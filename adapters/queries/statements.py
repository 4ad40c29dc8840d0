"""A customer's statement of account for a period, from the read models (docs/statements.md).

Per currency (never mixed): the opening balance (what was owed at the start of ``start``),
every line of the period in the order recorded with a running balance, the closing balance
(at the end of ``end``), and the aged buckets of what is owed on invoices that day
(``reports.aged``, the aged receivables' rules). Lines are dated the day the ledger recorded
them (projections/statement_lines.py), so a statement of a past period always reads the same.

The arithmetic: opening + invoiced - voided - credited - paid + refunded = closing; and
closing + credit on account = owed on invoices = the aged total of ``end``
(tests/e2e/test_cli_statement.py works a case through).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from adapters.queries import reports
from adapters.queries.lists import Queries
from adapters.queries.sql import Filter, select_page
from domain import limits
from domain.errors import OutOfRange
from domain.money import round_to_currency
from projections.aged_receivables import BUCKETS
from projections.statement_lines import LINES
from projections.view import Row

#: what each kind of line is called on a statement
KIND_WORDS = {
    "invoice": "Invoice",
    "void": "Invoice voided",
    "credit_note": "Credit note",
    "payment": "Payment",
    "payment_cancelled": "Payment cancelled",
    "refund": "Refund",
    "allocation": "Payment applied",
    "unallocation": "Payment taken back",
}
#: the kinds that move the money the customer holds on account (payments in, refunds out)
_MONEY_IN = ("payment", "payment_cancelled", "refund")
_PAYMENT_KINDS = (*_MONEY_IN, "allocation", "unallocation")
ZERO = Decimal(0)


@dataclass(frozen=True)
class StatementLine:
    on_date: date
    kind: str
    reference: str
    invoice_number: str | None
    document_id: str
    due_date: date | None
    received_on: date | None
    method: str | None
    amount: Decimal  # the signed effect on the balance
    applied: Decimal  # money of a payment applied to (+) or taken back from (-) an invoice
    balance: Decimal  # after this line
    credit: Decimal  # credit on account after this line

    @property
    def description(self) -> str:
        """The line in words, as the table, the CSV and the PDF print it."""
        words = KIND_WORDS[self.kind]
        if self.kind == "invoice":
            due = f", due {self.due_date.isoformat()}" if self.due_date else ""
            return f"{words} {self.reference}{due}"
        if self.kind in ("void", "credit_note"):
            own = f" {self.reference}" if self.kind == "credit_note" else ""
            return f"{words}{own} (invoice {self.invoice_number})"
        paid = f"received {self.received_on.isoformat()}" if self.received_on else ""
        if self.kind in ("allocation", "unallocation"):
            to = "to" if self.kind == "allocation" else "from"
            return f"{words}: {abs(self.applied)} {to} invoice {self.invoice_number}"
        if self.kind != "payment":  # a refund or cancellation: of which payment
            return f"{words} (payment {paid})" if paid else words
        bits = [b for b in (paid, self.method or "", self.reference) if b]
        return f"{words} ({', '.join(bits)})" if bits else words


def _public(reference: str | None) -> str:
    """A bank reference without its private part (text after # is private, docs/money.md)."""
    return (reference or "").split("#", 1)[0].strip()


@dataclass
class Section:
    """One currency of a statement."""

    currency: str
    opening: Decimal
    opening_credit: Decimal
    lines: list[StatementLine] = field(default_factory=list)
    aged: dict[str, Decimal] = field(default_factory=lambda: dict.fromkeys(BUCKETS, ZERO))

    def _sum(self, *kinds: str) -> Decimal:
        return sum((line.amount for line in self.lines if line.kind in kinds), ZERO)

    @property
    def invoiced(self) -> Decimal:
        return self._sum("invoice")

    @property
    def voided(self) -> Decimal:
        return -self._sum("void")

    @property
    def credited(self) -> Decimal:
        return -self._sum("credit_note")

    @property
    def paid(self) -> Decimal:
        """Payments that counted, less completed payments cancelled."""
        return -self._sum("payment", "payment_cancelled")

    @property
    def refunded(self) -> Decimal:
        return self._sum("refund")

    @property
    def closing(self) -> Decimal:
        return self.lines[-1].balance if self.lines else self.opening

    @property
    def closing_credit(self) -> Decimal:
        return self.lines[-1].credit if self.lines else self.opening_credit

    @property
    def owed(self) -> Decimal:
        """Owed on invoices at the end: the closing balance plus the credit held on account."""
        return self.closing + self.closing_credit

    @property
    def aged_total(self) -> Decimal:
        return sum(self.aged.values(), ZERO)


@dataclass(frozen=True)
class Statement:
    customer_id: str
    customer_account: str
    start: date
    end: date
    sections: list[Section]


def statement(
    queries: Queries, customer_id: str, customer_account: str, start: date, end: date
) -> Statement:
    """The statement of one customer for ``start``..``end`` (both days included)."""
    limits.check_statement_period(start, end)
    queries.catch_up("statement", "balances", "aged_receivables")
    before = Filter(queries.store, LINES)
    before.equal("customer_id", customer_id)
    before.compare("on_date", "<", start)
    openings = _opening(queries, before)
    within = Filter(queries.store, LINES)
    within.equal("customer_id", customer_id)
    within.compare("on_date", ">=", start)
    within.compare("on_date", "<=", end)
    rows, more = select_page(
        queries.store, LINES, within, ("on_date", "position"), limits.MAX_STATEMENT_LINES
    )
    if more:
        raise OutOfRange(
            f"the statement of {customer_account} from {start} to {end} has more than"
            f" {limits.MAX_STATEMENT_LINES:,} lines: ask for a shorter period",
            field="to",
        )
    sections = {cur: Section(cur, *openings[cur]) for cur in openings}
    for row in rows:
        section = sections.setdefault(row["currency"], Section(row["currency"], ZERO, ZERO))
        section.lines.append(_line(row, section))
    aged = reports.aged(queries, end, customer_id=customer_id)
    for aged_row in aged.items:
        section = sections.setdefault(aged_row.currency, Section(aged_row.currency, ZERO, ZERO))
        cur = aged_row.currency
        section.aged = {b: round_to_currency(v, cur) for b, v in aged_row.buckets.items()}
    shown = [sections[cur] for cur in sorted(sections) if _worth_showing(sections[cur])]
    return Statement(customer_id, customer_account, start, end, shown)


def _worth_showing(section: Section) -> bool:
    return bool(section.lines) or section.opening != 0 or section.opening_credit != 0


def _line(row: Row, section: Section) -> StatementLine:
    before = section.lines[-1] if section.lines else None
    balance = (before.balance if before else section.opening) + row["amount"]
    credit = before.credit if before else section.opening_credit
    if row["kind"] in _MONEY_IN:
        credit -= row["amount"]
    credit -= row["applied"]
    return StatementLine(
        on_date=row["on_date"],
        kind=row["kind"],
        # a payment's bank reference keeps its private part (after #) out of every statement
        reference=_public(row["reference"]) if row["kind"] in _PAYMENT_KINDS else row["reference"],
        invoice_number=row["invoice_number"],
        document_id=row["document_id"],
        due_date=row["due_date"] if row["kind"] == "invoice" else None,
        received_on=row["received_on"],
        method=row["method"],
        amount=row["amount"],
        applied=row["applied"],
        balance=balance,
        credit=credit,
    )


def _opening(queries: Queries, where: Filter) -> dict[str, tuple[Decimal, Decimal]]:
    """Per currency: the balance and the credit on account before the period, summed over
    the customer's earlier lines (read as a stream: exact decimals on both stores)."""
    statement = (
        f"SELECT currency, kind, amount, applied FROM {LINES.name}"
        f" WHERE {' AND '.join(where.clauses)}"
    )
    balance: dict[str, Decimal] = {}
    credit: dict[str, Decimal] = {}
    store = queries.store
    with store.db.connect(write=False) as conn:
        cursor = conn.execute(store.db.sql(statement), tuple(where.params))
        for currency, kind, amount, applied in _rows(cursor):
            value = store.from_db("amount", amount)
            balance[currency] = balance.get(currency, ZERO) + value
            moved = (value if kind in _MONEY_IN else ZERO) + store.from_db("amount", applied)
            credit[currency] = credit.get(currency, ZERO) - moved
    return {cur: (balance[cur], credit.get(cur, ZERO)) for cur in balance}


def _rows(cursor: Any) -> Iterable[tuple[str, str, Any, Any]]:
    while True:
        batch = cursor.fetchmany(5_000)
        if not batch:
            return
        yield from batch


# ------------------------------------------------------------------ documents


def _money(value: Decimal, currency: str) -> str:
    return str(round_to_currency(value, currency))


def line_doc(line: StatementLine, currency: str) -> dict[str, Any]:
    """One line as JSON: ``debit`` raises the balance, ``credit`` lowers it; a line that only
    applies money (an allocation) has neither, and its sum in ``applied``."""
    return {
        "date": line.on_date.isoformat(),
        "kind": line.kind,
        "reference": line.reference,
        "invoice_number": line.invoice_number,
        "document_id": line.document_id,
        "description": line.description,
        "due_date": line.due_date.isoformat() if line.due_date else None,
        "received_on": line.received_on.isoformat() if line.received_on else None,
        "debit": _money(line.amount, currency) if line.amount > 0 else None,
        "credit": _money(-line.amount, currency) if line.amount < 0 else None,
        "applied": _money(line.applied, currency) if line.applied else None,
        "balance": _money(line.balance, currency),
        "credit_on_account": _money(line.credit, currency),
    }


def section_doc(section: Section) -> dict[str, Any]:
    cur = section.currency
    return {
        "currency": cur,
        "opening_balance": _money(section.opening, cur),
        "opening_credit_on_account": _money(section.opening_credit, cur),
        "lines": [line_doc(line, cur) for line in section.lines],
        "invoiced": _money(section.invoiced, cur),
        "voided": _money(section.voided, cur),
        "credited": _money(section.credited, cur),
        "paid": _money(section.paid, cur),
        "refunded": _money(section.refunded, cur),
        "closing_balance": _money(section.closing, cur),
        "closing_credit_on_account": _money(section.closing_credit, cur),
        "owed_on_invoices": _money(section.owed, cur),
        "aged": {bucket: _money(section.aged[bucket], cur) for bucket in BUCKETS},
    }


def statement_doc(found: Statement) -> dict[str, Any]:
    """The statement as JSON (CLI ``--json``, ``GET /customers/{ref}/statement``)."""
    return {
        "customer_id": found.customer_id,
        "customer_account": found.customer_account,
        "from": found.start.isoformat(),
        "to": found.end.isoformat(),
        "sections": [section_doc(section) for section in found.sections],
    }


CSV_COLUMNS = (
    "currency", "date", "kind", "reference", "invoice_number", "description",
    "debit", "credit", "applied", "balance", "credit_on_account",
)  # fmt: skip


def statement_csv(found: Statement) -> str:
    """The statement as CSV (adapters/csv_output.py: no cell runs as a formula): per currency
    an opening row, the lines, a closing row."""
    import io

    from adapters.csv_output import SafeCsvWriter

    out = io.StringIO()
    writer = SafeCsvWriter(out, CSV_COLUMNS, numeric=_AMOUNT_COLUMNS)
    writer.header()
    for section in found.sections:
        cur = section.currency
        writer.row({"currency": cur, "date": found.start, "kind": "opening",
                    "description": "Opening balance", "balance": _money(section.opening, cur),
                    "credit_on_account": _money(section.opening_credit, cur)})  # fmt: skip
        writer.rows({"currency": cur, **line_doc(line, cur)} for line in section.lines)
        writer.row({"currency": cur, "date": found.end, "kind": "closing",
                    "description": "Closing balance", "balance": _money(section.closing, cur),
                    "credit_on_account": _money(section.closing_credit, cur)})  # fmt: skip
    return out.getvalue()


_AMOUNT_COLUMNS = ("debit", "credit", "applied", "balance", "credit_on_account")
