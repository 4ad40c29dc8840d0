"""Sign-in, sessions that expire, CSRF on every form, and read-only auditors (server-side)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from adapters.app.users import Users
from adapters.ledger.folds import LogFolds
from adapters.portal.web import SESSION_COOKIE, Portal
from tests.portal.support import PASSWORD, Browser, acme, completed_payment, issued


def test_pages_need_sign_in_and_come_back_after_it(anonymous: Browser) -> None:
    response = anonymous.get("/portal/customers/ACME")
    assert response.status_code == 303
    assert response.headers["location"] == "/portal/login?next=%2Fportal%2Fcustomers%2FACME"
    form = anonymous.client.get(response.headers["location"])
    assert 'name="next" value="/portal/customers/ACME"' in form.text
    signed = anonymous.client.post(
        "/portal/login",
        data={
            "username": "fiona",
            "password": PASSWORD,
            "csrf_token": anonymous.client.cookies.get("tollbook_login_csrf"),
            "next": "/portal/customers/ACME",
        },
        follow_redirects=False,
    )
    assert signed.status_code == 303
    assert signed.headers["location"] == "/portal/customers/ACME"
    cookie = signed.headers["set-cookie"].lower()
    assert "tollbook_session=" in cookie and "httponly" in cookie
    assert "path=/portal" in cookie and "samesite=lax" in cookie


def test_wrong_password_or_unknown_user_gets_the_same_plain_answer(anonymous: Browser) -> None:
    for username in ("fiona", "nobody"):
        response = anonymous.sign_in(username, "not the password")
        assert response.status_code == 401
        assert "The user name or the password is wrong." in response.text
        assert f'value="{username}"' in response.text  # the name is kept, the password is not
        assert "not the password" not in response.text
        assert SESSION_COOKIE not in response.cookies


def test_sign_in_needs_the_forms_own_token(anonymous: Browser) -> None:
    anonymous.client.get("/portal/login")
    response = anonymous.client.post(
        "/portal/login",
        data={"username": "fiona", "password": PASSWORD, "csrf_token": "forged"},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert SESSION_COOKIE not in response.cookies


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/docs"])
def test_after_sign_in_only_portal_pages(anonymous: Browser, target: str) -> None:
    form = anonymous.client.get("/portal/login", params={"next": target})
    assert 'name="next" value="/portal/invoices"' in form.text
    token = anonymous.client.cookies.get("tollbook_login_csrf")
    response = anonymous.client.post(
        "/portal/login",
        data={"username": "fiona", "password": PASSWORD, "csrf_token": token, "next": target},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/portal/invoices"


def test_sign_out_ends_the_session(finance: Browser) -> None:
    token = finance.client.cookies.get(SESSION_COOKIE)
    assert finance.get("/portal/invoices").status_code == 200
    assert finance.post("/portal/logout").status_code == 303
    finance.client.cookies.set(SESSION_COOKIE, token, path="/portal")
    assert finance.get("/portal/invoices").status_code == 303


def test_sessions_expire_when_idle_and_after_the_absolute_limit(app: Any, portal: Portal) -> None:
    now = [1_000_000.0]
    portal.users.clock = lambda: now[0]
    with TestClient(app) as client:
        browser = Browser(client)
        browser.sign_in("fiona")
        now[0] += 29 * 60  # used within the idle time: slides on
        assert browser.get("/portal/invoices").status_code == 200
        now[0] += 29 * 60
        assert browser.get("/portal/invoices").status_code == 200
        now[0] += 31 * 60  # idle too long
        response = browser.get("/portal/invoices")
        assert response.status_code == 303 and "/portal/login" in response.headers["location"]

        browser.sign_in("fiona")
        for _ in range(int(portal.users.max_seconds // (25 * 60))):
            now[0] += 25 * 60
            browser.get("/portal/invoices")
        now[0] += 25 * 60  # busy all day, still signed out at the absolute limit
        assert browser.get("/portal/invoices").status_code == 303


def test_removing_a_user_ends_their_sessions(finance: Browser, portal: Portal) -> None:
    portal.users.remove("fiona")
    assert finance.get("/portal/invoices").status_code == 303


def test_passwords_are_stored_only_as_argon2id_hashes(portal: Portal) -> None:
    with portal.users.db.connect() as conn:
        rows = conn.execute("SELECT username, password_hash FROM portal_users").fetchall()
    assert {row[0] for row in rows} == {"fiona", "audrey", "adam"}
    for _, stored in rows:
        assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert portal.users.authenticate("fiona", PASSWORD) is not None
    assert portal.users.authenticate("fiona", PASSWORD + "x") is None


def test_user_rules(portal: Portal) -> None:
    with pytest.raises(Exception, match="at least 10 characters"):
        portal.users.add("short", "finance", "2short")
    with pytest.raises(Exception, match="role must be one of"):
        portal.users.add("boss", "owner", PASSWORD)
    with pytest.raises(Exception, match="already exists"):
        portal.users.add("fiona", "auditor", PASSWORD)
    assert [u.username for u in Users(portal.users.db).list()] == ["adam", "audrey", "fiona"]


def test_every_form_needs_the_sessions_csrf_token(finance: Browser, ledger: Any) -> None:
    acme(ledger)
    for token in ("", "forged"):
        response = finance.post(
            "/portal/payments", {"customer": "ACME", "amount": "10.00"}, csrf=token
        )
        assert response.status_code == 403
        assert "out of date or did not come from the portal" in response.text
    assert LogFolds(ledger).payments("ACME") == []


def write_routes(ledger: Any) -> list[tuple[str, dict[str, str]]]:
    acme(ledger)
    draft = ledger.create_invoice("ACME", "setup")
    line = ledger.add_line(
        draft, "setup", description="Port", quantity=Decimal(1), unit_price=Decimal(5)
    )
    invoice = issued(ledger, "100.00")
    payment = completed_payment(ledger, "50.00")
    return [
        ("/portal/customers", {"account_number": "NEW", "name": "New", "currency": "GBP"}),
        ("/portal/customers/ACME/settings", {"name": "Renamed", "tax_rate": "0"}),
        ("/portal/customers/ACME/packages", {"package": "x", "start_date": "2026-10-01"}),
        ("/portal/invoices", {"customer": "ACME"}),
        (f"/portal/invoices/{draft}/lines", {"description": "x", "unit_price": "1"}),
        (f"/portal/invoices/{draft}/lines/{line}", {"description": "y", "quantity": "2"}),
        (f"/portal/invoices/{draft}/lines/{line}/remove", {}),
        (f"/portal/invoices/{draft}/dates", {"invoice_date": "2026-10-02"}),
        (f"/portal/invoices/{draft}/issue", {}),
        (f"/portal/invoices/{invoice}/void", {"reason": "x"}),
        (f"/portal/invoices/{invoice}/credit-notes", {"amount": "1", "reason": "x"}),
        (f"/portal/invoices/{invoice}/payments", {"payment": str(payment), "amount": "1"}),
        ("/portal/payments", {"customer": "ACME", "amount": "1"}),
        (f"/portal/payments/{payment}/complete", {}),
        (f"/portal/payments/{payment}/cancel", {}),
        (f"/portal/payments/{payment}/allocations", {f"amount_{invoice}": "1"}),
    ]


def test_auditors_read_everything_and_change_nothing(auditor: Browser, ledger: Any) -> None:
    routes = write_routes(ledger)
    before = [event for _, event in ledger.all_events()]
    for path, data in routes:
        response = auditor.post(path, data)
        assert response.status_code == 403, path
        assert "auditors can look at everything but cannot change anything" in response.text
    assert [event for _, event in ledger.all_events()] == before
    invoice = routes[9][0].split("/")[3]
    for page in (
        "/portal/invoices",
        "/portal/customers",
        "/portal/customers/ACME",
        "/portal/payments",
        f"/portal/invoices/{invoice}",
        f"/portal/invoices/{invoice}/payments",
        f"/portal/invoices/{invoice}/history",
    ):
        response = auditor.get(page)
        assert response.status_code == 200, page
        # no form but "sign out", and the bulk download of PDFs (reading, not changing)
        shown = response.text.replace('<form class="whoami" method="post"', "")
        shown = shown.replace('<form method="post" action="/portal/invoices/bulk"', "")
        assert '<form method="post"' not in shown, page
        assert 'value="issue"' not in shown and 'value="send"' not in shown, page
    assert auditor.get(f"/portal/invoices/{invoice}.pdf").status_code == 200


def test_portal_pages_carry_security_headers(finance: Browser) -> None:
    response = finance.get("/portal/invoices")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"


def test_five_wrong_passwords_lock_the_name_for_a_while_known_or_not(
    anonymous: Browser, portal: Portal
) -> None:
    now = [1_000_000.0]
    portal.users.clock = lambda: now[0]
    for username in ("fiona", "nobody"):
        for _ in range(5):
            assert anonymous.sign_in(username, "not the password").status_code == 401
        locked = anonymous.sign_in(username, PASSWORD)  # even the right password
        assert locked.status_code == 429
        assert "Too many wrong passwords for this user name: try again in 15 minutes" in (
            locked.text
        )
        assert locked.headers["retry-after"] == "900"
        assert SESSION_COOKIE not in locked.cookies
    assert anonymous.sign_in("audrey").status_code == 303  # other names are not affected

    now[0] += 15 * 60 + 1
    assert anonymous.sign_in("fiona").status_code == 303


def test_a_right_password_clears_the_count_of_wrong_ones(
    anonymous: Browser, portal: Portal
) -> None:
    for _ in range(4):
        assert anonymous.sign_in("fiona", "not the password").status_code == 401
    assert anonymous.sign_in("fiona").status_code == 303
    for _ in range(4):
        assert anonymous.sign_in("fiona", "not the password").status_code == 401
    assert anonymous.sign_in("fiona").status_code == 303
