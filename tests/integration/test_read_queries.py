"""Lists and lookups read the read models: keyset pages, status filters in SQL, number and
id-prefix lookups through an index, and rebuilt read models equal to live ones."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal as D
from uuid import UUID

import pytest

from adapters.ledger.folds import LogFolds
from adapters.queries import InvalidPage, InvoiceQuery, queries_for
from adapters.queries.paging import encode_cursor
from domain.changes import CustomerChanges, PackageChanges
from domain.errors import AmbiguousReference, NotFound
from domain.invoice_status import STATUSES
from projections.runner import all_projections
from tests.helpers import completed_payment, customer, event_count, issued_invoice
from tests.integration.billing import runner_for


def _walk(pages, limit: int, between=lambda: None) -> list[str]:
    seen: list[str] = []
    cursor = None
    while True:
        page = pages(limit, cursor)
        seen += page
        cursor = pages.last_cursor
        if cursor is None:
            return seen
        between()


class _InvoicePages:
    def __init__(self, ledger, wanted: InvoiceQuery | None = None) -> None:
        self.queries = queries_for(ledger)
        self.wanted = wanted or InvoiceQuery()
        self.today = ledger.today()
        self.last_cursor: str | None = None

    def __call__(self, limit: int, cursor: str | None) -> list[str]:
        page = self.queries.invoices(self.wanted, self.today, limit=limit, cursor=cursor)
        self.last_cursor = page.next_cursor
        return [row["invoice_id"] for row in page.items]


def test_a_cursor_walk_returns_every_invoice_once_in_draft_order_while_others_are_added(
    ledger,
):
    customer(ledger)
    before = [ledger.create_invoice("ACME", "test") for _ in range(23)]

    added: list[UUID] = []
    seen = _walk(
        _InvoicePages(ledger),
        limit=5,
        between=lambda: added.append(ledger.create_invoice("ACME", "test")),
    )

    assert len(seen) == len(set(seen))  # no row twice
    assert seen[: len(before)] == [str(i) for i in before]  # the ones there at the start, in order
    assert set(seen) <= {str(i) for i in before + added}
    # rows added during the walk come after every earlier one (the order never shifts)
    assert seen[len(before) :] == [str(i) for i in added][: len(seen) - len(before)]


def test_every_list_pages_through_all_its_rows_once(ledger):
    for account in ("ACME", "BETA", "GAMMA"):
        customer(ledger, account)
        ledger.define_package("test", name=f"Trunk {account}", unit_price=D("5"), currency="GBP")
    numbers = [issued_invoice(ledger, account) for account in ("ACME", "BETA") for _ in range(3)]
    for number in numbers[:4]:
        ledger.issue_credit_note(number, "test", "goodwill", amount=D("1.00"))
    payments = [completed_payment(ledger, "GAMMA", "1.00") for _ in range(5)]
    queries = queries_for(ledger)

    def every(listing, column, **filters) -> list[str]:
        found, cursor = [], None
        while True:
            page = getattr(queries, listing)(limit=2, cursor=cursor, **filters)
            found += [row[column] for row in page.items]
            if page.next_cursor is None:
                return found
            cursor = page.next_cursor

    assert every("customers", "account_number") == ["ACME", "BETA", "GAMMA"]
    assert every("packages", "name") == ["Trunk ACME", "Trunk BETA", "Trunk GAMMA"]
    assert every("payments", "payment_id") == [str(p) for p in payments]
    assert [
        queries.aggregates([i])[0].invoice_number for i in every("credit_notes", "credit_note_id")
    ] == numbers[:4]
    balances = every("balances", "customer_account")
    assert balances == ["ACME", "BETA", "GAMMA"]


def test_status_filters_agree_with_each_invoices_own_status(ledger, clock):
    customer(ledger)
    ledger.create_invoice("ACME", "test")  # draft
    issued_invoice(ledger)  # issued, falls due in 14 days
    paid_number = issued_invoice(ledger, net="10.00")
    ledger.allocate(completed_payment(ledger, amount="12.00"), [(paid_number, D("12"))], "test")
    part = issued_invoice(ledger, net="10.00")
    ledger.allocate(completed_payment(ledger, amount="2.00"), [(part, D("2"))], "test")
    ledger.issue_credit_note(issued_invoice(ledger, net="5.00"), "test", "all", full=True)
    ledger.issue_credit_note(issued_invoice(ledger, net="5.00"), "test", "part", amount=D("1"))
    ledger.void_invoice(issued_invoice(ledger), "test", "duplicate")
    queries = queries_for(ledger)

    for today in (ledger.today(), ledger.today() + timedelta(days=30)):
        expected = {str(i.id): i.status(today) for i in LogFolds(ledger).invoices()}
        for status in STATUSES:
            page = queries.invoices(InvoiceQuery(status=status), today)
            found = {row["invoice_id"] for row in page.items}
            assert found == {i for i, s in expected.items() if s == status}, (today, status)
    assert {s for s in expected.values()} >= {"draft", "paid", "credited", "overdue", "void"}
    now = {str(i.id): i.status(ledger.today()) for i in LogFolds(ledger).invoices()}
    assert {"partly_paid", "partly_credited", "issued"} <= set(now.values())


def _invoice_with_id(ledger, hex_id: str) -> UUID:
    return ledger.create_invoice("ACME", "test", invoice_id=UUID(hex_id))


def test_lookups_by_number_and_id_prefix_read_the_index_not_the_log(ledger, monkeypatch):
    customer(ledger)
    number = issued_invoice(ledger)
    one = _invoice_with_id(ledger, "abcdef01-0000-4000-8000-000000000001")
    _invoice_with_id(ledger, "abcdef02-0000-4000-8000-000000000002")
    payment = completed_payment(ledger)

    def no_scan(*args, **kwargs):
        raise AssertionError("a lookup scanned the log")

    monkeypatch.setattr(type(ledger), "_ids_of", no_scan)
    monkeypatch.setattr(type(ledger), "all_events", no_scan)

    assert ledger.invoice(number).number == number
    assert ledger.invoice_id("abcdef01") == one
    assert ledger.invoice_id("ABCDEF01-0000") == one  # case and dashes as in the id
    assert ledger.payment(str(payment)[:8]).id == payment
    with pytest.raises(AmbiguousReference) as ambiguous:
        ledger.invoice("abcdef0")
    assert "abcdef01-0000-4000-8000-000000000001" in str(ambiguous.value)
    assert "abcdef02-0000-4000-8000-000000000002" in str(ambiguous.value)
    for unknown in ("INV-2099-000001", "ffffff", "abc", "not an id", "abcdef0g"):
        with pytest.raises(NotFound):
            ledger.invoice(unknown)
    with pytest.raises(NotFound):
        ledger.payment("000000")
    assert queries_for(ledger).invoices(InvoiceQuery(number=number), ledger.today()).items


def test_a_lookup_finds_a_document_written_since_the_read_models_last_caught_up(make_ledger):
    writer, reader = make_ledger(), make_ledger()
    customer(writer)
    queries_for(reader).customers()  # the reader's read models are current now
    draft = writer.create_invoice("ACME", "test")  # written by another process

    assert reader.invoice_id(str(draft)[:10]) == draft
    page = queries_for(reader).invoices(InvoiceQuery(), reader.today())
    assert [row["invoice_id"] for row in page.items] == [str(draft)]


@pytest.mark.parametrize("limit", [0, -1, 1001, 10**9])
def test_a_limit_outside_one_to_a_thousand_is_refused(ledger, limit):
    with pytest.raises(InvalidPage):
        queries_for(ledger).customers(limit=limit)


def test_a_cursor_only_works_for_the_list_and_filters_it_came_from(ledger):
    for account in ("ACME", "BETA"):
        customer(ledger, account)
        completed_payment(ledger, account)
    queries = queries_for(ledger)
    cursor = queries.customers(limit=1).next_cursor
    assert cursor is not None
    assert queries.customers(limit=1, cursor=cursor).items[0]["account_number"] == "BETA"
    acme = str(ledger.customer("ACME").id)
    payment_cursor = queries.payments(limit=1).next_cursor
    for wrong in (
        lambda: queries.packages(cursor=cursor),  # another list's
        lambda: queries.payments(customer_id=acme, cursor=payment_cursor),  # other filters
        lambda: queries.customers(cursor=cursor[:-2]),
        lambda: queries.customers(cursor=encode_cursor("customers", "x", [1])),
    ):
        with pytest.raises(InvalidPage):
            wrong()


def test_the_new_read_models_rebuilt_from_zero_equal_the_live_ones(ledger, store_url):
    customer(ledger)
    ledger.change_customer(
        "ACME",
        CustomerChanges.model_validate({"name": "Acme Two"}),
        "test",
        effective_from=date(2027, 1, 1),
    )
    ledger.change_customer("ACME", CustomerChanges.model_validate({"name": "Acme Now"}), "test")
    ledger.define_package("test", name="Port", unit_price=D("9.99"), currency="GBP")
    runner = runner_for(ledger, store_url, batch_size=3)
    runner.catch_up()  # live: read models following as events arrive
    for _ in range(3):
        number = issued_invoice(ledger)
        runner.catch_up()
    ledger.issue_credit_note(number, "test", "goodwill", amount=D("1.00"))
    ledger.change_package("Port", PackageChanges.model_validate({"unit_price": D("10.99")}), "test")
    completed_payment(ledger)
    runner.catch_up()
    tables = [t for p in all_projections() for t in p.tables]
    names = [p.name for p in all_projections()]

    def rows() -> dict[str, list[tuple]]:
        _, found = runner.store.snapshot(names, tables)
        return {
            name: sorted(tuple(sorted(r.items())) for r in table_rows)
            for name, table_rows in found.items()
        }

    live = rows()
    runner.rebuild()
    assert rows() == live
    [acme] = live["rm_directory_customer"]
    assert dict(acme)["name"] == "Acme Two"  # the latest-dated change, as Customer.latest
    assert event_count(ledger) > 0


def _sorted_world(ledger, clock) -> None:
    """Invoices whose every sort column has ties, nulls (drafts have no number) and amounts
    that sort differently as text ("9.60" > "120.00") than as numbers."""
    customer(ledger)
    customer(ledger, "BETA")
    for account, net in (("ACME", "8.00"), ("BETA", "100.00"), ("ACME", "100.00")):
        issued_invoice(ledger, account, net=net)
    paid = issued_invoice(ledger, "BETA", net="10.00")
    ledger.allocate(completed_payment(ledger, "BETA", amount="5.00"), [(paid, D("5"))], "test")
    clock.advance(days=40)  # the first ones fall due: overdue and issued mixed
    issued_invoice(ledger, net="0.50")
    ledger.create_invoice("BETA", "test")
    draft = ledger.create_invoice("ACME", "test")
    ledger.add_line(draft, "test", description="x", quantity=D(1), unit_price=D("7.00"))
    ledger.void_invoice(issued_invoice(ledger, net="3.00"), "test", "duplicate")


EXPECTED_KEY = {
    "number": lambda r: r["number"],
    "customer": lambda r: r["customer_account"],
    "date": lambda r: r["invoice_date"],
    "due_date": lambda r: r["due_date"],
    "status": lambda r: r["status"],
    "total": lambda r: r["total"],
    "due": lambda r: r["amount_due"],
}


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("sort", sorted(EXPECTED_KEY))
def test_every_sort_pages_in_sql_in_the_order_python_would_sort(ledger, clock, sort, descending):
    from adapters.queries.documents import amount_due
    from projections.invoice_register import status_of

    _sorted_world(ledger, clock)
    queries = queries_for(ledger)
    today = ledger.today()
    whole = queries.invoices(InvoiceQuery(), today, limit=1000).items
    for row in whole:
        row["status"], row["amount_due"] = status_of(row, today), amount_due(row)
    key = EXPECTED_KEY[sort]
    present = sorted(
        (r for r in whole if key(r) is not None),
        key=lambda r: (key(r), r["seq"]),
        reverse=descending,
    )
    missing = sorted(
        (r for r in whole if key(r) is None), key=lambda r: r["seq"], reverse=descending
    )
    expected = [r["invoice_id"] for r in present + missing]  # rows without a value: last

    wanted = InvoiceQuery(sort=sort, descending=descending)
    seen, cursor = [], None
    while True:
        page = queries.invoices(wanted, today, limit=2, cursor=cursor)
        assert len(page.items) <= 2
        seen += [row["invoice_id"] for row in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == expected
    assert len({key(r) for r in whole}) > 1  # the world really has something to sort


def test_the_amount_due_range_is_a_numeric_filter_in_sql_and_pages(ledger, clock):
    _sorted_world(ledger, clock)
    queries = queries_for(ledger)
    today = ledger.today()
    wanted = InvoiceQuery(due_min=D("9.00"), due_max=D("120.00"), sort="due")
    seen, cursor = [], None
    while True:
        page = queries.invoices(wanted, today, limit=1, cursor=cursor)
        seen += [(row["customer_account"], str(row["outstanding"])) for row in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    # 9.60 (8 + VAT) is inside although "9.60" > "120.00" as text; 0.60 and the draft's 8.40
    # are below; the void invoice owes nothing
    assert [amount for _, amount in seen] == ["9.60", "120.00", "120.00"]
    with pytest.raises(InvalidPage):  # a cursor of another range is refused
        queries.invoices(InvoiceQuery(due_min=D("9.01"), sort="due"), today, cursor=cursor)


def test_a_sorted_walk_never_repeats_or_skips_while_invoices_are_added(ledger, clock):
    _sorted_world(ledger, clock)
    queries = queries_for(ledger)
    today = ledger.today()
    before = {row["invoice_id"] for row in queries.invoices(InvoiceQuery(), today).items}
    wanted = InvoiceQuery(sort="total", descending=True)
    seen, cursor = [], None
    while True:
        page = queries.invoices(wanted, today, limit=3, cursor=cursor)
        seen += [row["invoice_id"] for row in page.items]
        issued_invoice(ledger, net="1.00")  # lands somewhere in the middle of the order
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert len(seen) == len(set(seen)) and before <= set(seen)


def _every_page(read, limit: int) -> tuple[list, int]:
    found, cursor, pages = [], None, 0
    while True:
        page = read(limit=limit, cursor=cursor)
        found += page.items
        pages += 1
        if page.next_cursor is None:
            return found, pages
        cursor = page.next_cursor


def test_aged_receivables_and_payment_history_page_through_the_read_models(
    ledger, clock, monkeypatch
):
    from adapters.queries import reports
    from projections.aged_receivables import MOVEMENTS, age
    from projections.payment_history import HISTORY

    for account in ("ACME", "BETA", "GAMMA", "ZED"):
        customer(ledger, account)
    customer(ledger, "EURO", currency="EUR")
    for account in ("ACME", "BETA", "ZED", "EURO"):
        issued_invoice(ledger, account, net="10.00")
    clock.advance(days=45)
    owed = issued_invoice(ledger, "ACME", net="5.00")
    ledger.allocate(
        completed_payment(ledger, "BETA", "12.00"),
        [(issued_invoice(ledger, "BETA"), D("12"))],
        "test",
    )
    ledger.allocate(completed_payment(ledger, "ACME", "1.00"), [(owed, D("1"))], "test")
    completed_payment(ledger, "GAMMA", "3.00")  # GAMMA owes nothing: no aged row
    queries = queries_for(ledger)
    today = ledger.today()
    queries.catch_up()
    everything = age(queries.store.select(MOVEMENTS), today)  # the whole table, aged at once
    history = queries.store.select(HISTORY, order_by="position")

    def fold(*args, **kwargs):
        raise AssertionError("a report folded the log")

    monkeypatch.setattr(LogFolds, "_every", fold)
    monkeypatch.setattr(type(ledger), "all_events", fold)

    aged, pages = _every_page(lambda **p: reports.aged(queries, today, **p), limit=1)
    assert [(r.customer_account, r.currency, r.buckets) for r in aged] == [
        (r.customer_account, r.currency, r.buckets) for r in everything
    ]
    assert [r.customer_account for r in aged] == ["ACME", "BETA", "EURO", "ZED"]
    assert pages > len(aged)  # GAMMA's pair took a page and showed nothing
    past, _ = _every_page(lambda **p: reports.aged(queries, today - timedelta(days=45), **p), 2)
    assert sum(r.total for r in past if r.currency == "GBP") == D("36.00")  # 3 x 12.00

    walked, _ = _every_page(lambda **p: reports.payment_history(queries, **p), limit=2)
    assert [r["position"] for r in walked] == [r["position"] for r in history]
    acme = str(ledger.customer("ACME").id)
    mine, _ = _every_page(
        lambda **p: reports.payment_history(queries, customer_id=acme, **p), limit=1
    )
    assert {r["kind"] for r in mine} == {"received", "allocated"}
    assert {r["customer_account"] for r in mine} == {"ACME"}
    with pytest.raises(InvalidPage):  # the history's cursor is not the aged report's
        cursor = reports.payment_history(queries, limit=1).next_cursor
        reports.aged(queries, today, cursor=cursor)
