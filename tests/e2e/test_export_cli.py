"""``tollbook export ...`` end to end through the CLI, against the fake Xero (both stores);
``export reconcile`` against all three fakes."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal as D

import pytest
import structlog

from adapters.cli.main import main
from adapters.ledger.folds import LogFolds
from tests.fakes import views
from tests.fakes.clearbooks import FakeClearBooks
from tests.fakes.freshbooks import FakeFreshBooks
from tests.fakes.server import FakeClock
from tests.fakes.xero import FakeXero
from tests.helpers import event_count
from tests.integration.accounting.helpers import LONG_ADDRESS, billing_cycle, correction_cycle
from tests.integration.accounting.test_export_addresses import remote_address

SECRET = "s3cr3t-never-printed"


@pytest.fixture
def xero():
    fake = FakeXero(FakeClock()).start()
    fake.CLIENT_SECRET = SECRET
    yield fake
    fake.stop()
    assert fake.spec_violations == []


@pytest.fixture
def cli(store_url, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TOLLBOOK_DATABASE_URL", store_url)
    monkeypatch.setenv("TOLLBOOK_LOG_LEVEL", "info")
    monkeypatch.setenv("XERO_SECRET", SECRET)

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        try:
            main(list(args))
            code = 0
        except SystemExit as stop:
            code = int(stop.code or 0)
        out, err = capsys.readouterr()
        assert SECRET not in out and SECRET not in err  # credentials are never shown
        return code, out, err

    yield run
    structlog.reset_defaults()  # main() bound logging to this test's captured stderr


def _configure(tmp_path, monkeypatch, fake):
    settings = fake.connection_settings()
    path = tmp_path / "connections.toml"
    path.write_text(
        f"""
[connections.acme-xero]
system = "xero"
base_url = "{settings["base_url"]}"
token_url = "{settings["token_url"]}"
tenant_id = "{settings["tenant_id"]}"
client_id = "{settings["client_id"]}"
client_secret = "env:XERO_SECRET"
timeout_seconds = 5

[connections.acme-xero.mapping]
sales_account = "200"
bank_account = "090"
tax_types = {{ "20" = "OUTPUT2", "17.5" = "OUTPUT175", "5" = "RROUTPUT", "0" = "ZERORATEDOUTPUT" }}
""",
        encoding="utf-8",
    )
    monkeypatch.setenv("TOLLBOOK_CONNECTIONS", str(path))


def test_export_dry_run_then_export_then_status_and_retry(
    cli, make_ledger, xero, tmp_path, monkeypatch
):
    ledger = make_ledger()
    cycle = billing_cycle(ledger)
    ledger.register_customer(
        "t",
        account_number="OLD",
        name="Old Rate Telecom",
        currency="GBP",
        tax_rate=D("17.5"),
        tax_description="VAT 17.5%",
        payment_terms_days=14,
    )
    old = ledger.create_invoice("OLD", "t")
    ledger.add_line(old, "t", description="Calls", quantity=D(10), unit_price=D(1))
    old_number = ledger.issue_invoice(old, "t")
    _configure(tmp_path, monkeypatch, xero)

    code, out, _ = cli("export", "xero", "--dry-run")
    assert code == 0 and all(number in out for number in cycle.numbers)
    assert xero.requests == []

    code, out, err = cli("export", "xero", "--connection", "acme-xero", "--json")
    assert code == 0, err
    [report] = json.loads(out)
    assert report["stopped"] is None
    assert {i["label"] for i in report["items"] if i["outcome"] == "dead"} == {old_number}
    assert "acme-xero" in err  # structured log lines name the connection

    code, out, _ = cli("export", "status", "--json")
    status = json.loads(out)
    [row] = status["connections"]
    assert (row["connection"], row["lag"], row["dead"]) == ("acme-xero", 0, 1)
    [letter] = status["dead_letters"]
    assert "OUTPUT175" in letter["error"]

    code, out, _ = cli("export", "status")
    assert code == 0 and "Dead letters" in out and old_number in out

    xero.tax_rates["OUTPUT175"] = D("17.5")
    code, out, err = cli("export", "retry", str(letter["id"]))
    assert code == 0, err
    assert old_number in views.invoices(xero)
    code, out, _ = cli("export", "status", "--json")
    assert json.loads(out)["dead_letters"] == []


def test_export_reports_a_missing_or_wrong_configuration_plainly(cli, monkeypatch, tmp_path):
    monkeypatch.delenv("TOLLBOOK_CONNECTIONS", raising=False)
    code, _, err = cli("export", "clearbooks")
    assert code == 5 and "no clearbooks connection is configured" in err

    monkeypatch.setenv(
        "TOLLBOOK_CONNECTIONS",
        json.dumps({"connections": {"books": {"system": "clearbooks", "api_key": "k"}}}),
    )
    code, _, err = cli("export", "xero", "--connection", "books")
    assert code == 5 and "is a clearbooks connection, not xero" in err


def test_export_stops_with_exit_5_when_xero_stays_down_and_resumes_later(
    cli, make_ledger, xero, tmp_path, monkeypatch
):
    ledger = make_ledger()
    cycle = billing_cycle(ledger)
    _configure(tmp_path, monkeypatch, xero)
    monkeypatch.setattr("time.sleep", lambda seconds: None)  # the CLI's real waits, skipped
    xero.outage(50, status=503)

    code, _, err = cli("export", "xero")
    assert code == 5 and "run again to resume" in err

    xero._outage.clear()
    code, _, err = cli("export", "xero")
    assert code == 0, err
    assert sorted(views.invoices(xero)) == sorted(cycle.numbers)


def test_export_file_lists_a_periods_documents_as_csv_and_json(cli, make_ledger, tmp_path):
    ledger = make_ledger()
    cycle = billing_cycle(ledger)

    code, out, _ = cli("export", "file", "--from", "2026-10-01", "--to", "2026-10-31")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0
    invoices = [r for r in rows if r["type"] == "invoice"]
    assert [r["number"] for r in invoices] == cycle.numbers  # the draft is not there
    assert invoices[0]["total"] == "39.60" and invoices[2]["status"] == "void"
    assert [r["number"] for r in rows if r["type"] == "credit_note"] == [cycle.credit_note]
    assert sorted(r["total"] for r in rows if r["type"] == "payment") == ["30.00", "54.00"]

    target = tmp_path / "october.json"
    code, _, _ = cli(
        "export",
        "file",
        "--from",
        "2026-10-01",
        "--to",
        "2026-10-31",
        "--format",
        "json",
        "--output",
        str(target),
    )
    assert code == 0 and len(json.loads(target.read_text())) == len(rows)

    code, _, err = cli("export", "file", "--from", "2026-10-31", "--to", "2026-10-01")
    assert code == 2 and "before" in err


def _stuck_customer(ledger) -> tuple[str, str]:
    """OLD's first invoice is at 17.5 %, a rate Xero lacks (a dead letter); its second, at 20 %,
    waits behind it (parked)."""
    ledger.register_customer(
        "t",
        account_number="OLD",
        name="Old Rate Telecom",
        currency="GBP",
        tax_rate=D("17.5"),
        tax_description="VAT 17.5%",
        payment_terms_days=14,
    )
    numbers = []
    for rate in ("17.5", "20"):
        invoice = ledger.create_invoice("OLD", "t")
        ledger.add_line(
            invoice, "t", description="Calls", quantity=D(10), unit_price=D(1), tax_rate=D(rate)
        )
        numbers.append(ledger.issue_invoice(invoice, "t"))
    return numbers[0], numbers[1]


def test_a_skipped_dead_letter_is_an_event_shown_by_status_and_its_customer_resumes(
    cli, make_ledger, xero, tmp_path, monkeypatch
):
    ledger = make_ledger()
    dead, parked = _stuck_customer(ledger)
    _configure(tmp_path, monkeypatch, xero)
    monkeypatch.setenv("TOLLBOOK_ACTOR", "bookkeeper@acme")
    assert cli("export", "xero")[0] == 0
    letters = json.loads(cli("export", "status", "--json")[1])["dead_letters"]
    assert [(d["label"], d["status"]) for d in letters] == [(dead, "dead"), (parked, "parked")]
    before = event_count(ledger)

    code, out, err = cli(
        "export", "skip", str(letters[0]["id"]), "--reason", "booked as a journal", "--json"
    )

    assert code == 0, err
    assert [(i["label"], i["outcome"]) for i in json.loads(out)["items"]] == [
        (dead, "skipped"),
        (parked, "exported"),
    ]
    assert list(views.invoices(xero)) == [parked]
    assert event_count(make_ledger()) == before + 1
    [decision] = LogFolds(make_ledger()).export_resolutions()
    assert (decision.action, decision.label, decision.connection) == ("skipped", dead, "acme-xero")
    status = json.loads(cli("export", "status", "--json")[1])
    assert status["dead_letters"] == []
    [settled] = status["settled"]
    assert (settled["action"], settled["reason"], settled["actor"]) == (
        "skipped",
        "booked as a journal",
        "bookkeeper@acme",
    )
    assert status["connections"][0]["settled"] == 1
    code, out, _ = cli("export", "status")
    assert "settled by a person" in out and "booked as a journal" in out
    # A later run (even from the start) never sends the skipped invoice.
    assert cli("export", "xero", "--since", "0")[0] == 0
    assert list(views.invoices(xero)) == [parked]


def test_a_dead_letter_resolved_by_hand_names_the_remote_invoice_for_later_payments(
    cli, make_ledger, xero, tmp_path, monkeypatch
):
    ledger = make_ledger()
    dead, _ = _stuck_customer(ledger)
    payment = ledger.record_payment("OLD", "t", amount=D("11.75"), status="completed")
    ledger.allocate(payment, [(dead, D("11.75"))], "t")
    _configure(tmp_path, monkeypatch, xero)
    assert cli("export", "xero")[0] == 0
    [first, *_] = json.loads(cli("export", "status", "--json")[1])["dead_letters"]
    # The bookkeeper adds the 17.5 % rate in Xero and keys the invoice in by hand.
    xero.tax_rates["OUTPUT175"] = D("17.5")
    by_hand = xero.invoice_by_hand(dead, "OLD", D("10.00"), "OUTPUT175")

    code, out, err = cli(
        "export",
        "resolve",
        str(first["id"]),
        "--reason",
        "keyed in by hand",
        "--remote-id",
        by_hand,
        "--json",
    )

    assert code == 0, err
    assert [i["outcome"] for i in json.loads(out)["items"]] == ["resolved", "exported", "exported"]
    assert views.payments(xero) == {dead: D("11.75")}
    assert xero.invoices[by_hand]["AmountDue"] == 0
    assert json.loads(cli("export", "status", "--json")[1])["dead_letters"] == []


def test_a_settled_dead_letter_cannot_be_settled_or_retried_again(
    cli, make_ledger, xero, tmp_path, monkeypatch
):
    ledger = make_ledger()
    _stuck_customer(ledger)
    _configure(tmp_path, monkeypatch, xero)
    assert cli("export", "xero")[0] == 0
    dead = json.loads(cli("export", "status", "--json")[1])["dead_letters"][0]["id"]
    assert cli("export", "skip", str(dead), "--reason", "journal")[0] == 0
    before = event_count(make_ledger())

    for args in (("skip", str(dead), "--reason", "again"), ("resolve", str(dead), "--reason", "x")):
        code, _, err = cli("export", *args)
        assert (code, "was skipped" in err) == (1, True), err
    code, _, err = cli("export", "retry", str(dead))
    assert (code, "was skipped" in err) == (1, True), err
    assert event_count(make_ledger()) == before


@pytest.fixture
def clearbooks():
    fake = FakeClearBooks().start()
    yield fake
    fake.stop()


@pytest.fixture
def freshbooks():
    fake = FakeFreshBooks().start()
    yield fake
    fake.stop()


def _configure_system(tmp_path, monkeypatch, fake) -> str:
    """One connection to ``fake``, configured as a person would; its name."""
    if isinstance(fake, FakeXero):
        _configure(tmp_path, monkeypatch, fake)
        return "acme-xero"
    settings = fake.connection_settings()
    name = f"acme-{settings['system']}"
    path = tmp_path / "connections.json"
    path.write_text(json.dumps({"connections": {name: settings}}), encoding="utf-8")
    monkeypatch.setenv("TOLLBOOK_CONNECTIONS", str(path))
    return name


def _remote_invoice_id(fake, number: str) -> str:
    if isinstance(fake, FakeXero):
        return next(i["InvoiceID"] for i in fake.invoices.values() if i["InvoiceNumber"] == number)
    if isinstance(fake, FakeClearBooks):
        return str(next(n for n in fake.invoices if fake.number(n) == number))
    return next(k for k, i in fake.invoices.items() if i["invoice_number"] == number)


def _tamper(fake, number: str) -> D:
    """A person changes the money on invoice ``number`` by hand in the accounting system's own
    screens; what that adds to its amount due."""
    invoice_id = _remote_invoice_id(fake, number)
    with fake.lock:
        if isinstance(fake, FakeXero):  # deletes the payment
            [paid] = [
                p
                for p in fake.payments.values()
                if p["Status"] == "AUTHORISED"
                and p.get("Invoice", {}).get("InvoiceID") == invoice_id
            ]
            fake._delete_payment(paid["PaymentID"], {"Status": "DELETED"})
            return D(paid["Amount"])
        if isinstance(fake, FakeClearBooks):  # voids the payment
            [paid] = [
                k
                for k, p in fake.payments.items()
                if not p["void"] and any(str(a["id"]) == invoice_id for a in p["invoices"])
            ]
            amount = D(fake.payments[paid]["invoices"][0]["amount"])
            assert fake._m_voidPayment({"id": paid, "type": "sales"})["success"]
            return amount
        [paid] = [  # changes the payment's amount
            k
            for k, p in fake.payments.items()
            if str(p["invoiceid"]) == invoice_id and p["vis_state"] == 0 and not p["from_credit"]
        ]
        before = D(fake.payments[paid]["amount"]["amount"])
        fake._update_payment(paid, {"amount": {"amount": "4.00", "code": "GBP"}})
        return before - D("4.00")


SYSTEM_NAMES = {"xero": "Xero", "clearbooks": "Clear Books", "freshbooks": "FreshBooks"}


@pytest.mark.parametrize(
    ("system", "store_url"),
    [
        ("xero", "postgres"),  # the one PostgreSQL run: the cycle does not depend on storage
        ("xero", "sqlite"),
        ("clearbooks", "sqlite"),
        ("freshbooks", "sqlite"),
    ],
    indirect=["store_url"],
)
def test_export_reconcile_reads_the_correction_cycle_back_equal_then_reports_a_hand_change(
    system, cli, make_ledger, request, tmp_path, monkeypatch
):
    fake = request.getfixturevalue(system)
    # The CLI's waits (its own limiter, Xero's Retry-After) pass on the fake's clock at once.
    monkeypatch.setattr("time.sleep", getattr(fake, "clock", FakeClock()).sleep)
    ledger = make_ledger()
    cycle = correction_cycle(ledger)
    name = _configure_system(tmp_path, monkeypatch, fake)
    code, out, err = cli("export", system, "--json")
    assert code == 0, err
    [report] = json.loads(out)
    refunds = [i for i in report["items"] if i["kind"] == "refund"]
    others = [i for i in report["items"] if i["kind"] != "refund"]
    assert {i["outcome"] for i in others} == {"exported"}
    if system == "xero":  # refunded from an overpayment, as Xero documents
        assert {i["outcome"] for i in refunds} == {"exported"}
    else:  # the refunded credit never reached the system: said so in words, nothing sent
        why = f"refund: nothing to send - {SYSTEM_NAMES[system]} never held the unallocated credit"
        assert [(i["outcome"], i["detail"].startswith(why)) for i in refunds] == [
            ("noted", True),
            ("noted", True),
        ]
    status = json.loads(cli("export", "status", "--json")[1])
    assert status["dead_letters"] == []
    assert [line["note"] for line in status["reconciliation"]] == [
        i["detail"] for i in refunds if i["detail"]
    ]
    # the customer with the long structured address arrived whole
    assert remote_address(fake, "ZRH")["city"] == LONG_ADDRESS["city"]

    code, out, err = cli("export", "reconcile", name, "--json")

    assert code == 0, err
    result = json.loads(out)
    assert (result["system"], result["checked"], result["differing"]) == (
        system,
        len(cycle.documents),
        0,
    )
    by_number = {d["number"]: d for d in result["documents"]}
    assert set(by_number) == set(cycle.documents)
    assert all(d["differences"] == [] for d in result["documents"])

    def pair(number, field):
        return by_number[number][f"ledger_{field}"], by_number[number][f"remote_{field}"]

    assert pair(cycle.voided, "status") == ("voided", "voided")
    assert pair(cycle.numbers[0], "status") == ("paid", "paid")  # part paid, credited, paid
    assert pair(cycle.numbers[1], "status") == ("open", "open")
    assert D(pair(cycle.numbers[1], "amount_due")[0]) == D("28.25")  # 38.25 - 30 + 20 back
    assert D(pair(cycle.numbers[1], "amount_due")[1]) == D("28.25")
    assert pair(cycle.numbers[4], "status") == ("paid", "paid")  # credited in full
    assert D(pair(cycle.numbers[4], "amount_due")[1]) == 0
    for note in (cycle.credit_note, cycle.full_credit):  # all of its credit used
        assert pair(note, "status") == ("paid", "paid")
        assert D(pair(note, "amount_due")[1]) == 0
    code, out, _ = cli("export", "reconcile", name)
    assert code == 0 and "0 differ from the ledger" in out and cycle.numbers[0] in out

    added = _tamper(fake, cycle.numbers[1])

    code, out, err = cli("export", "reconcile", name, "--json")

    assert code == 1 and err.strip().endswith("[differences_found]")
    result = json.loads(out)
    [differing] = [d for d in result["documents"] if d["differences"]]
    assert (differing["number"], differing["differences"]) == (cycle.numbers[1], ["amount due"])
    assert D(differing["remote_amount_due"]) - D(differing["ledger_amount_due"]) == added > 0
    code, out, err = cli("export", "reconcile", name)
    assert code == 1 and "amount due" in out, err
    assert f"1 of {len(cycle.documents)} documents" in err


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_export_reconcile_names_an_unknown_connection_and_an_unreachable_system(
    cli, make_ledger, xero, tmp_path, monkeypatch
):
    _configure(tmp_path, monkeypatch, xero)
    code, _, err = cli("export", "reconcile", "nope")
    assert code == 5 and "no connection named 'nope'" in err and "acme-xero" in err

    billing_cycle(make_ledger())
    assert cli("export", "xero")[0] == 0
    monkeypatch.setattr("time.sleep", lambda seconds: None)  # the CLI's real waits, skipped
    xero.outage(50, status=503)

    code, out, err = cli("export", "reconcile", "acme-xero", "--json")

    assert code == 5 and err.strip().endswith("[config]"), err
    assert "xero unavailable" in err and "nothing was compared" in err
    assert out == ""
