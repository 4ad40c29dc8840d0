"""Permanent refusals become visible dead letters; they block only their own customer."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from adapters.ledger.folds import LogFolds
from domain.errors import InvalidInput, InvalidState, NotFound
from tests.fakes import views
from tests.integration.accounting.helpers import connection_to

XERO_MAPPING = {"tax_types": {"20": "OUTPUT2", "17.5": "OUTPUT175", "0": "ZERORATEDOUTPUT"}}


def _customer(ledger, account, name, rate):
    ledger.register_customer(
        "t",
        account_number=account,
        name=name,
        currency="GBP",
        tax_rate=D(rate),
        tax_description=f"VAT {rate}%",
        payment_terms_days=14,
    )


def _invoice(ledger, account, quantity, price):
    invoice_id = ledger.create_invoice(account, "t")
    ledger.add_line(invoice_id, "t", description="Calls", quantity=D(quantity), unit_price=D(price))
    return ledger.issue_invoice(invoice_id, "t")


def _pay(ledger, account, number, amount):
    payment = ledger.record_payment(account, "t", amount=D(amount), status="completed")
    ledger.allocate(payment, [(number, D(amount))], "t")


def test_a_rejected_invoice_is_dead_lettered_parks_its_customer_and_spares_the_others(
    ledger, xero, make_exporter
):
    _customer(ledger, "OLD", "Old Rate Telecom", "17.5")  # the Xero org has no 17.5% tax rate
    _customer(ledger, "NEW", "New Rate Telecom", "20")
    old_invoice = _invoice(ledger, "OLD", "100", "1.00")
    new_invoice = _invoice(ledger, "NEW", "100", "1.00")
    _pay(ledger, "OLD", old_invoice, "50.00")
    _pay(ledger, "NEW", new_invoice, "50.00")
    exporter = make_exporter(ledger, connection_to(xero, mapping=XERO_MAPPING))

    report = exporter.run()

    assert report.stopped is None
    outcomes = {(i.kind, i.label.split()[-1]): i.outcome for i in report.items}
    assert outcomes[("invoice", old_invoice)] == "dead"
    assert outcomes[("payment", old_invoice)] == "parked"
    assert outcomes[("invoice", new_invoice)] == "exported"
    assert outcomes[("payment", new_invoice)] == "exported"
    letters = exporter.store.dead_letters("xero")
    assert [(d.status, d.kind, d.label) for d in letters] == [
        ("dead", "invoice", old_invoice),
        ("parked", "payment", f"50.00 GBP to {old_invoice}"),
    ]
    assert "TaxType code 'OUTPUT175' does not exist" in letters[0].error
    assert f"#{letters[0].id}" in letters[1].error
    assert report.position == ledger.recorder.max_notification_id()  # the run went past them

    with pytest.raises(InvalidState):
        exporter.retry(letters[1].id)  # the payment waits for its invoice

    xero.tax_rates["OUTPUT175"] = D("17.5")  # the accountant adds the rate in Xero
    retried = make_exporter(ledger, connection_to(xero, mapping=XERO_MAPPING)).retry(letters[0].id)

    assert [i.outcome for i in retried.items] == ["exported", "exported"]
    assert sorted(views.invoices(xero)) == sorted([old_invoice, new_invoice])
    assert views.payments(xero) == {old_invoice: D("50.00"), new_invoice: D("50.00")}
    assert exporter.store.dead_letters("xero") == []
    assert len(exporter.store.dead_letters("xero", statuses=("resolved",))) == 2
    with pytest.raises(InvalidState):
        exporter.retry(letters[0].id)
    with pytest.raises(NotFound):
        exporter.retry(999_999)


def test_a_missing_local_mapping_is_a_dead_letter_that_a_config_fix_and_retry_clears(
    ledger, xero, make_exporter
):
    _customer(ledger, "ZED", "Zed Telecom", "17.5")
    number = _invoice(ledger, "ZED", "3", "10.00")
    exporter = make_exporter(ledger, connection_to(xero))  # default mapping: no 17.5% entry

    exporter.run()

    [letter] = exporter.store.dead_letters("xero")
    assert "no tax type is mapped for a 17.5% tax rate" in letter.error
    assert views.invoices(xero) == {}

    fixed = connection_to(xero, mapping=XERO_MAPPING)
    xero.tax_rates["OUTPUT175"] = D("17.5")
    make_exporter(ledger, fixed).retry(letter.id)

    assert views.invoices(xero) == {number: D("35.25")}


def test_a_retry_that_is_refused_again_stays_dead_with_the_new_error(ledger, xero, make_exporter):
    _customer(ledger, "OLD", "Old Rate Telecom", "17.5")
    _invoice(ledger, "OLD", "1", "1.00")
    exporter = make_exporter(ledger, connection_to(xero, mapping=XERO_MAPPING))
    exporter.run()
    [letter] = exporter.store.dead_letters("xero")

    report = exporter.retry(letter.id)

    [again] = exporter.store.dead_letters("xero")
    assert report.items[0].outcome == "dead"
    assert (again.id, again.status, again.attempts) == (letter.id, "dead", 2)


def test_a_price_finer_than_xeros_4dp_still_lands_at_the_ledgers_total(ledger, xero, make_exporter):
    _customer(ledger, "RATE", "Per Second Telecom", "20")
    # 0.012345/min is finer than Xero's 4 decimals: sent as 0.0123 x 1234.5 Xero would book
    # 15.18 net (18.22 in all); sent as 1 x 15.24 with the rate in the text, it books 18.29.
    number = _invoice(ledger, "RATE", "1234.5", "0.012345")
    exporter = make_exporter(ledger, connection_to(xero))

    [preview] = [i for i in exporter.run(dry_run=True).items if i.kind == "invoice"]
    assert preview.detail == ""  # nothing to warn about: Xero will compute the ledger's total
    exporter.run()

    assert views.invoices(xero)[number] == ledger.invoice(number).totals.total == D("18.29")
    [remote] = xero.invoices.values()
    [line] = remote["LineItems"]
    assert (line["Quantity"], line["UnitAmount"], line["LineAmount"], line["TaxAmount"]) == (
        D(1),
        D("15.24"),
        D("15.24"),
        D("3.05"),
    )
    assert line["Description"] == "Calls (1234.5 × 0.012345)"
    assert exporter.store.reconciliation("xero") == [] and xero.tax_overrides == []


def test_exact_prices_leave_no_reconciliation_line(ledger, xero, make_exporter):
    _customer(ledger, "EXACT", "Exact Telecom", "20")
    _invoice(ledger, "EXACT", "1234.5", "0.0123")
    exporter = make_exporter(ledger, connection_to(xero))

    exporter.run()

    assert exporter.store.reconciliation("xero") == []


@pytest.mark.parametrize("system", ["xero", "clearbooks", "freshbooks"])
def test_an_unallocation_is_replayed_in_every_system_never_silently_dropped(
    system, ledger, fakes, make_exporter
):
    fake = fakes(system)
    _customer(ledger, "UNDO", "Undo Telecom", "20")
    number = _invoice(ledger, "UNDO", "10", "1.00")
    _pay(ledger, "UNDO", number, "12.00")
    payment = LogFolds(ledger).payments("UNDO")[0]
    ledger.unallocate(payment.id, number, D("12.00"), "t", "paid the wrong invoice")
    exporter = make_exporter(ledger, connection_to(fake))

    report = exporter.run()

    # every system replays it (a client must: AccountingClient.unallocate)
    assert [i.outcome for i in report.items][-1] == "exported"
    assert exporter.store.reconciliation(system) == []
    assert views.payments(fake).get(number, D(0)) == 0  # the remote payment is gone
    assert exporter.store.dead_letters(system) == []


def test_since_starts_a_new_connection_part_way_and_sends_older_customers_on_demand(
    ledger, xero, make_exporter
):
    _customer(ledger, "EARLY", "Early Telecom", "20")
    first = _invoice(ledger, "EARLY", "1", "5.00")
    start = ledger.recorder.max_notification_id()
    second = _invoice(ledger, "EARLY", "2", "5.00")

    report = make_exporter(ledger, connection_to(xero)).run(since=start)

    assert [i.label for i in report.items] == [second]
    assert list(views.invoices(xero)) == [second] and first not in views.invoices(xero)
    assert views.contacts(xero) == ["EARLY"]  # registered before the start, sent when needed


def test_every_currency_maps_by_its_iso_code_and_one_xero_lacks_is_one_dead_letter(
    ledger, xero, make_exporter
):
    # Xero's enum names Turkish lira TRY_LIRA (value "TRY"); South Sudanese pounds it lacks.
    for account, currency in (("IST", "TRY"), ("JUB", "SSP"), ("LON", "GBP")):
        ledger.register_customer(
            "t",
            account_number=account,
            name=f"{account} Telecom",
            currency=currency,
            tax_rate=D("20"),
            tax_description="VAT 20%",
            payment_terms_days=14,
        )
    numbers = {
        account: _invoice(ledger, account, "10", "2.50") for account in ("IST", "JUB", "LON")
    }
    exporter = make_exporter(ledger, connection_to(xero, mapping=XERO_MAPPING))

    report = exporter.run()

    assert report.stopped is None
    outcomes = {i.label.split()[-1]: i.outcome for i in report.items if i.kind == "invoice"}
    assert outcomes == {
        numbers["IST"]: "exported",
        numbers["JUB"]: "parked",  # behind its contact
        numbers["LON"]: "exported",
    }
    [letter] = [d for d in exporter.store.dead_letters("xero") if d.status == "dead"]
    assert (letter.kind, letter.label) == ("contact", "JUB")
    assert "Xero does not take the currency SSP" in letter.error
    [turkish] = [i for i in xero.invoices.values() if i["InvoiceNumber"] == numbers["IST"]]
    assert turkish["CurrencyCode"] == "TRY"


def test_skipping_a_dead_invoice_resumes_its_customer_and_what_needs_it_dies_plainly(
    ledger, xero, make_exporter
):
    _customer(ledger, "OLD", "Old Rate Telecom", "17.5")
    _customer(ledger, "NEW", "New Rate Telecom", "20")
    old_invoice = _invoice(ledger, "OLD", "100", "1.00")
    _pay(ledger, "OLD", old_invoice, "50.00")  # needs the invoice: parked
    later = ledger.create_invoice("OLD", "t")
    ledger.add_line(
        later, "t", description="Calls", quantity=D(2), unit_price=D(3), tax_rate=D("20")
    )
    later_number = ledger.issue_invoice(later, "t")  # does not need it: parked too
    new_invoice = _invoice(ledger, "NEW", "1", "1.00")
    exporter = make_exporter(ledger, connection_to(xero, mapping=XERO_MAPPING))
    exporter.run()
    dead, payment, invoice = exporter.store.dead_letters("xero")
    events = ledger.recorder.max_notification_id()

    report = exporter.settle(dead.id, "skipped", "credited in full offline", "anna")

    # The payment has no remote invoice to land on: it is now the customer's head, saying so.
    assert [(i.label, i.outcome) for i in report.items] == [
        (old_invoice, "skipped"),
        (payment.label, "dead"),
    ]
    [head, waiting] = exporter.store.dead_letters("xero")
    assert (head.id, head.status) == (payment.id, "dead")
    assert f"invoice {old_invoice} was never exported" in head.error
    assert (waiting.id, waiting.status) == (invoice.id, "parked")
    assert ledger.recorder.max_notification_id() == events + 1
    [decision] = LogFolds(ledger).export_resolutions()
    assert (decision.action, decision.event_key, decision.customer_id) == (
        "skipped",
        dead.event_key,
        ledger.customer("OLD").id,
    )
    [settled] = exporter.store.settlements("xero")
    assert (settled.letter_id, settled.reason, settled.actor) == (
        dead.id,
        "credited in full offline",
        "anna",
    )
    assert views.invoices(xero) == {new_invoice: D("1.20")}  # others were never held

    exporter.settle(head.id, "skipped", "the payment was refunded offline", "anna")

    assert exporter.store.dead_letters("xero") == []
    assert later_number in views.invoices(xero)
    assert ledger.recorder.max_notification_id() == events + 2


def test_a_parked_item_is_not_settled_by_itself_and_a_refused_reason_writes_nothing(
    ledger, xero, make_exporter
):
    _customer(ledger, "OLD", "Old Rate Telecom", "17.5")
    number = _invoice(ledger, "OLD", "100", "1.00")
    _pay(ledger, "OLD", number, "50.00")
    exporter = make_exporter(ledger, connection_to(xero, mapping=XERO_MAPPING))
    exporter.run()
    dead, parked = exporter.store.dead_letters("xero")
    events = ledger.recorder.max_notification_id()

    with pytest.raises(InvalidState, match="held behind"):
        exporter.settle(parked.id, "skipped", "no", "anna")
    with pytest.raises(InvalidInput, match="must not contain control characters"):
        exporter.settle(dead.id, "resolved", " \t", "anna")
    with pytest.raises(InvalidInput, match="needs a reason"):
        exporter.settle(dead.id, "resolved", "   ", "anna")
    with pytest.raises(InvalidInput, match="only when resolving"):
        exporter.settle(dead.id, "skipped", "ok", "anna", remote_id="abc")
    with pytest.raises(NotFound):
        exporter.settle(999_999, "skipped", "ok", "anna")

    assert ledger.recorder.max_notification_id() == events
    assert [d.status for d in exporter.store.dead_letters("xero")] == ["dead", "parked"]
    assert exporter.store.settlements("xero") == []
