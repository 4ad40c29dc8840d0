"""``tollbook demo``: a scripted billing cycle a new user can read from top to bottom."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal as D
from pathlib import Path
from typing import Any
from uuid import UUID

import click

from adapters.cli.context import console, emit_json, say, table
from adapters.cli.invoices import print_invoice
from adapters.clock import SteppingClock
from adapters.config import build_ledger
from adapters.describe import describe
from adapters.ledger.application import Ledger
from adapters.ledger.folds import LogFolds
from adapters.pdf.batch import file_name, write_atomically
from adapters.pdf.render import render
from adapters.pdf.sources import invoice_source
from adapters.store.database import Database
from adapters.usage.billing import run_billing
from adapters.usage.importer import import_cdrs
from adapters.views import balance_doc, invoice_doc
from domain.changes import CustomerChanges, LineChanges, SettingsChanges
from domain.customer import Customer
from domain.invoice import Invoice
from domain.pricing import parse_price
from domain.tax_treatment import TaxTreatment
from domain.usage import Period
from projections.balances import Balances


@click.command()
@click.option(
    "--db",
    "path",
    default="var/demo.sqlite",
    show_default=True,
    help="SQLite file for the demo (recreated on every run).",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print only the end state (invoices, balances) as JSON."
)
def demo(path: str, as_json: bool) -> None:
    """Run a scripted billing cycle on a fresh embedded store and print what happens."""
    # the narration is for people: with --json it is silenced and the end state printed
    console.quiet = as_json
    try:
        ledger = _run(Path(path))
    finally:
        console.quiet = False
    try:
        if as_json:
            emit_json(
                {
                    "store": f"sqlite:///{path}",
                    "invoices": [
                        invoice_doc(i, ledger.today()) for i in LogFolds(ledger).invoices()
                    ],
                    "balances": [
                        balance_doc(b)
                        for b in Balances().fold(e for _, e in ledger.all_events()).all()
                    ],
                }
            )
    finally:
        ledger.close()


@dataclass
class _Demo:
    """What the steps of the scripted cycle share: the store, its clock, what earlier steps made."""

    target: Path
    clock: SteppingClock
    ledger: Ledger
    drafts: list[UUID] = field(default_factory=list)
    numbers: list[str] = field(default_factory=list)
    before_issue: datetime | None = None
    db: Database | None = None


def _run(target: Path) -> Ledger:
    """The scripted cycle; returns the demo's ledger (on the demo's clock), still open."""
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    clock = SteppingClock(datetime(2026, 10, 1, 9, 0, tzinfo=UTC))
    demo = _Demo(target, clock, build_ledger(f"sqlite:///{target}", clock=clock))
    steps = (
        _settings, _customers, _packages, _october_invoices, _issue, _payments, _credit_note,
        _balances, _history, _as_it_stood, _pdf, _email, _usage, _pricing, _bill, _prepaid,
        _statement,
    )  # fmt: skip
    for number, run in enumerate(steps, start=1):
        run(demo, f"{number}.")
    say(f"\nThe demo store is {target}; try: tollbook --db sqlite:///{target} invoice list")
    return demo.ledger


def _step(number: str, title: str) -> None:
    say(f"\n[bold underline]{number} {title}[/bold underline]")


def _settings(demo: _Demo, number: str) -> None:
    _step(number, "Account settings (the seller)")
    ledger = demo.ledger
    ledger.change_settings(
        SettingsChanges.model_validate(
            {
                "company_name": "Northwind Voice Ltd",
                "address": "1 Exchange Sq\nLondon EC2A 2BR",
                "tax_number": "GB123456789",
                "default_currency": "GBP",
                "default_tax_rate": "20",
                "default_tax_description": "VAT 20%",
                "default_payment_terms_days": 14,
                "payment_instructions": "Pay by bank transfer, quoting the invoice number",
                "registration_number": "01234567",
                "contact_email": "billing@northwind.example",
                "contact_phone": "+44 20 7946 0000",
                "sort_code": "20-00-00",
                "bank_account_number": "12345678",
            }
        ),
        "finance:ana",
    )
    s = ledger.settings()
    say(f"{s.company_name}, VAT {s.tax_number}, numbers like {s.invoice_number_format}")


def _customers(demo: _Demo, number: str) -> None:
    _step(number, "Customers")
    ledger = demo.ledger
    ledger.register_customer(
        "finance:ana",
        account_number="ZRH01",
        name="Zürich Telekom AG",
        billing_address="Bahnhofstrasse 1\n8001 Zürich",
        email="ap@zuerich-telekom.example, treasury@zuerich-telekom.example",
        currency="EUR",
        # 0 % under "Reverse charge", and the legal wording on every invoice
        tax_treatment=TaxTreatment.REVERSE_CHARGE,
        payment_terms_days=30,
        invoice_line_grouping="destination",
    )
    ledger.register_customer(
        "finance:ana",
        account_number="ACME",
        name="Acme Calls Ltd",
        billing_address="2 High St\nLeeds LS1 1AA",
        email="accounts@acme-calls.example",
    )
    table(
        "Customers",
        ["account", "name", "currency", "tax", "terms"],
        [
            [
                c.latest.account_number,
                c.latest.name,
                c.currency,
                c.latest.tax_description,
                c.latest.payment_terms_days,
            ]
            for c in LogFolds(ledger).customers()
        ],
    )


def _packages(demo: _Demo, number: str) -> None:
    _step(number, "Packages, assigned to customers")
    ledger = demo.ledger
    ledger.define_package(
        "finance:ana",
        name="SIP Trunk 30ch",
        unit_price=D("120.00"),
        setup_price=D("250.00"),
        currency="GBP",
    )
    ledger.define_package(
        "finance:ana",
        name="DID Number",
        unit_price=D("1.50"),
        currency="GBP",
        default_quantity=D("10"),
    )
    ledger.define_package("finance:ana", name="SIP Trunk EU", unit_price=D("99.00"), currency="EUR")
    ledger.assign_package("ACME", "SIP Trunk 30ch", "finance:ana", start_date=date(2026, 10, 1))
    ledger.assign_package(
        "ACME", "DID Number", "finance:ana", start_date=date(2026, 10, 1), quantity=D("25")
    )
    ledger.assign_package("ZRH01", "SIP Trunk EU", "finance:ana", start_date=date(2026, 10, 1))
    table(
        "Packages",
        ["name", "price", "setup", "currency", "default qty"],
        [
            [
                p.terms.name,
                p.terms.unit_price,
                p.terms.setup_price,
                p.terms.currency,
                p.terms.default_quantity,
            ]
            for p in LogFolds(ledger).packages()
        ],
    )


def _october_invoices(demo: _Demo, number: str) -> None:
    _step(number, "October invoices from packages (quantity, price and tax filled in)")
    ledger, clock = demo.ledger, demo.clock
    clock.set(datetime(2026, 11, 1, 8, 0, tzinfo=UTC))
    period: dict[str, Any] = {"period_start": date(2026, 10, 1), "period_end": date(2026, 10, 31)}
    acme = ledger.create_invoice("ACME", "finance:ana", **period)
    ledger.add_package_line(acme, "SIP Trunk 30ch", "finance:ana")
    setup = ledger.add_package_line(acme, "SIP Trunk 30ch", "finance:ana", setup=True)
    dids = ledger.add_package_line(acme, "DID Number", "finance:ana")
    ledger.add_line(
        acme,
        "finance:ana",
        description="Calls to UK mobiles",
        quantity=D("5321.5"),
        unit_price=D("0.0123"),
        unit="min",
    )
    # the assigned quantity
    ledger.edit_line(acme, dids, LineChanges(quantity=D("25")), "finance:ana")
    # a discount: a line of its own that follows the line it discounts (its tax rate too)
    ledger.add_discount(acme, "finance:ana", percent=D("50"), line_ref=setup)
    zrh = ledger.create_invoice("ZRH01", "finance:ana", **period)
    ledger.add_package_line(zrh, "SIP Trunk EU", "finance:ana", quantity=D("2"))
    acme_second = ledger.create_invoice("ACME", "finance:ana", memo="Extra DIDs", **period)
    ledger.add_package_line(acme_second, "DID Number", "finance:ana", quantity=D("5"))
    demo.drafts = [acme, zrh, acme_second]
    demo.before_issue = clock.advance(minutes=5)
    print_invoice(invoice_doc(ledger.invoice(acme), ledger.today()))


def _issue(demo: _Demo, number: str) -> None:
    _step(number, "Issue: gapless numbers, frozen lines, billing details copied")
    ledger = demo.ledger
    numbers = demo.numbers = [ledger.issue_invoice(ref, "finance:ana") for ref in demo.drafts]
    say("issued " + ", ".join(numbers))


def _payments(demo: _Demo, number: str) -> None:
    _step(number, "Payments: one partial, one across two invoices with credit left over")
    ledger, clock = demo.ledger, demo.clock
    numbers = demo.numbers
    clock.set(datetime(2026, 11, 10, 10, 0, tzinfo=UTC))
    p1 = ledger.record_payment(
        "ZRH01",
        "finance:ben",
        amount=D("100.00"),
        method="SEPA",
        reference="ZRH Oct",
        status="completed",
    )
    ledger.allocate(p1, [(numbers[1], D("100.00"))], "finance:ben")
    p2 = ledger.record_payment(
        "ACME",
        "finance:ben",
        amount=D("800.00"),
        reference="ACME-1101",
        idempotency_key="bank:ACME-1101",
    )
    ledger.complete_payment(p2, "finance:ben")
    first_total = ledger.invoice(numbers[0]).outstanding
    second_total = ledger.invoice(numbers[2]).outstanding
    ledger.allocate(p2, [(numbers[0], first_total), (numbers[2], second_total)], "finance:ben")
    table(
        "Invoices",
        ["number", "customer", "status", "currency", "total", "paid", "due"],
        [
            [
                i.label,
                i.customer_account,
                i.status(ledger.today()),
                i.currency,
                i.totals.total,
                i.allocated,
                i.outstanding,
            ]
            for i in LogFolds(ledger).invoices()
        ],
    )
    credit = ledger.payment(p2).unallocated
    say(f"ACME paid 800.00: {first_total} + {second_total} allocated, {credit} left as credit")


def _credit_note(demo: _Demo, number: str) -> None:
    _step(number, "A credit note corrects an issued invoice")
    ledger = demo.ledger
    numbers = demo.numbers
    note = ledger.credit_note(
        ledger.issue_credit_note(numbers[1], "finance:ana", "2 days of outage", amount=D("20.00"))
    )
    invoice = ledger.invoice(numbers[1])
    say(
        f"{note.number} credits {numbers[1]} {note.totals.total} {note.currency}"
        f" (2 days of outage): {invoice.outstanding} {invoice.currency} left to pay"
    )


def _balances(demo: _Demo, number: str) -> None:
    _step(number, "Balances, derived from the events")
    ledger = demo.ledger
    balances = Balances().fold(event for _, event in ledger.all_events())
    table(
        "Balances",
        ["customer", "currency", "invoiced", "credited", "paid", "credit", "outstanding"],
        [
            [
                d["customer_account"],
                d["currency"],
                d["invoiced"],
                d["credited"],
                d["allocated"],
                d["unallocated"],
                d["outstanding"],
            ]
            for d in map(balance_doc, balances.all())
        ],
    )


def _history(demo: _Demo, number: str) -> None:
    _step(number, f"The history of {demo.numbers[0]}")
    ledger = demo.ledger
    invoice_id = ledger.invoice_id(demo.numbers[0])
    table(
        None,
        ["v", "time (UTC)", "actor", "event", "what"],
        [
            [
                e.originator_version,
                f"{e.timestamp:%Y-%m-%dT%H:%M:%S}",
                e.actor,
                type(e).__name__,
                describe(e),
            ]
            for e in ledger.events_of(invoice_id)
        ],
    )


def _as_it_stood(demo: _Demo, number: str) -> None:
    _step(
        number,
        f"{demo.numbers[0]} as it stood at {demo.before_issue:%Y-%m-%d %H:%M}Z (before issue)",
    )
    ledger = demo.ledger
    invoice_id = ledger.invoice_id(demo.numbers[0])
    print_invoice(invoice_doc(ledger.as_of(Invoice, invoice_id, at=demo.before_issue)))


def _pdf(demo: _Demo, number: str) -> None:
    _step(number, f"{demo.numbers[0]} as a PDF to send")
    ledger = demo.ledger
    rendered = render(invoice_source(ledger, demo.numbers[0]))
    pdf_path = demo.target.parent / file_name(demo.numbers[0])
    digest = write_atomically(pdf_path, rendered.pdf)
    say(f"wrote {pdf_path}: open it, or print it ({rendered.page_count} page, sha256 {digest})")


def _email(demo: _Demo, number: str) -> None:
    _step(number, f"{demo.numbers[0]} by e-mail, to a local SMTP server the demo starts")
    try:
        from adapters.mail.local_server import local_smtp
    except ImportError:  # aiosmtpd is a dependency; a trimmed install skips this step
        say("skipped: aiosmtpd is not installed (pip install aiosmtpd)")
        return
    from adapters.mail.config import SmtpConfig
    from adapters.mail.sending import prepare_invoice, send

    with local_smtp() as (port, mailbox):
        config = SmtpConfig("127.0.0.1", port, "none", "billing@demo-carrier.example")
        prepared = prepare_invoice(demo.ledger, demo.numbers[0], config, {})
        outcome = send(demo.ledger, prepared, config, "finance:ana")
    for received in mailbox.messages:
        message = received.message
        (part,) = message.iter_attachments()
        say(f"server received from {received.mail_from} to {', '.join(received.recipients)}")
        say(f"  Subject: {message['Subject']}  Message-ID: {message['Message-ID']}")
        say(f"  attachment {part.get_filename()} ({len(part.get_content())} bytes)")
    say(f"recorded Invoice.Sent ({outcome.status})")


def _usage(demo: _Demo, number: str) -> None:
    _step(number, "November usage: import the switch's CDRs (one bad row goes to the rejects file)")
    ledger = demo.ledger
    db = demo.db = Database.from_url(f"sqlite:///{demo.target}")
    cdrs = write_demo_cdrs(demo.target.with_name("demo-cdrs-2026-11.csv"))
    imported = import_cdrs(ledger, db, cdrs)
    say(
        f"{imported.rows} rows: {imported.inserted} new, {imported.rejected} rejected"
        f" (see {imported.rejects_file})"
    )
    again = import_cdrs(ledger, db, cdrs)
    say(f"imported again: {again.inserted} new, {again.duplicates} already there")


def _pricing(demo: _Demo, number: str) -> None:
    _step(number, "Pricing: tiered minutes for ACME, a monthly minimum spend for ZRH01")
    ledger = demo.ledger
    tiers = parse_price("UK Mobile=graduated:0-10:0.0150,10-:0.0100")
    november = date(2026, 11, 1)
    ledger.change_customer("ACME", CustomerChanges(usage_prices=(tiers,)), "finance:ana", november)
    minimum = CustomerChanges(minimum_spend=D("5.00"))
    ledger.change_customer("ZRH01", minimum, "finance:ana", november)
    say(
        "ACME: UK Mobile minutes of a month at 0.0150 for the first 10, then 0.0100;"
        " ZRH01: usage topped up to 5.00 EUR a month"
    )


def _bill(demo: _Demo, number: str) -> None:
    _step(
        number,
        "Billing run for November: packages + usage per destination (ACME's tiered),"
        " ZRH01 topped up to its minimum",
    )
    ledger, clock = demo.ledger, demo.clock
    db = demo.db
    assert db is not None  # the usage step opened it
    clock.set(datetime(2026, 12, 1, 6, 0, tzinfo=UTC))
    november = Period.month("2026-11")
    preview = run_billing(ledger, db, november, dry_run=True)
    say(f"dry run: {preview.count('would create')} invoices would be created, nothing written")
    report = run_billing(ledger, db, november, actor="scheduler:billing")
    table(
        "Billing run 2026-11",
        ["customer", "action", "lines", "net", "total"],
        [[r.account, r.action, r.line_count, r.net, r.total] for r in report.results],
    )
    for result in report.results:  # ACME's tiers, ZRH01's top-up
        print_invoice(invoice_doc(ledger.invoice(result.invoice_id)))
    rerun = run_billing(ledger, db, november)
    say(f"run again: {rerun.count('created')} created, {rerun.count('exists')} already there")


def _prepaid(demo: _Demo, number: str) -> None:
    _step(number, "Prepaid: a top-up, applied automatically when the November invoice is issued")
    ledger = demo.ledger
    ref = "ZRH01"
    threshold = {"amount": "100.00", "currency": ledger.customer(ref).currency}
    ledger.change_customer(
        ref,
        CustomerChanges.model_validate(
            {"auto_apply_credit": True, "low_balance_threshold": threshold}
        ),
        "finance",
    )
    ledger.record_payment(ref, "finance", amount=D("150.00"), status="completed", method="top-up")
    say(f"{ref} topped up 150.00: credit {ledger.prepaid_balance(ref)}")
    assert demo.db is not None  # the usage step opened it
    report = run_billing(ledger, demo.db, Period.month("2026-11"), customers=[ref], issue=True)
    for result in report.results:
        invoice = ledger.invoice(result.invoice_id)
        say(
            f"{invoice.number}: total {invoice.totals.total}, credit applied {invoice.allocated},"
            f" outstanding {invoice.outstanding} ({invoice.status()})"
        )
    low = [e for _, e in ledger.all_events() if isinstance(e, Customer.PrepaidBalanceLow)]
    say(
        f"credit left {ledger.prepaid_balance(ref)}; low balance notices for integrators:"
        f" {len(low)}" + (f" (fell below {low[-1].threshold})" if low else "")
    )


def _statement(demo: _Demo, number: str) -> None:
    _step(number, "ACME's statement of account since October (docs/statements.md)")
    from adapters.app.statements import customer_statement
    from adapters.cli.statements import print_statement

    ledger = demo.ledger
    print_statement(customer_statement(ledger, "ACME", date(2026, 10, 1), ledger.today()))


def write_demo_cdrs(path: Path) -> Path:
    """A few calls as a softswitch would export them (UTC times, charges rated by the switch)."""
    header = (
        "call_id,account,start_time,duration,billed_duration,dialled_number,"
        "destination_prefix,destination,rate_per_minute,charge,currency"
    )
    rows = [
        "sw-1001,ACME,2026-11-03T09:12:44Z,185,240,447700900123,447,UK Mobile,0.0123,0.0492,GBP",
        "sw-1002,ACME,2026-11-03T10:01:02Z,42,60,441134960000,44,UK Fixed,0.0050,0.0050,GBP",
        "sw-1003,ACME,2026-11-17T16:40:00Z,600,600,447700900456,447,UK Mobile,0.0123,0.1230,GBP",
        "sw-1004,ZRH01,2026-11-05T08:00:00Z,300,300,41446681800,4144,Zurich,0.0210,0.1050,EUR",
        "sw-1005,ZRH01,2026-11-30T22:59:00Z,61,120,33140000000,33,France,0.0150,0.0300,EUR",
        "sw-1006,ZRH01,2026-11-12T11:00:00Z,30,60,41446681800,4144,Zurich,0.0210,0.0210,GBP",
    ]
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path
