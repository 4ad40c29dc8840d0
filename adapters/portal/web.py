"""The portal's plumbing: its state on the app, sign-in and role checks, CSRF, forms, rendering.

Every portal route uses ``PortalRoute``, which turns the portal's refusals into HTML: not signed
in -> the sign-in page; a role or CSRF refusal -> 403 page; an unknown id -> 404 page; any other
ledger refusal outside a form -> 409 page; anything unexpected -> a 500 page that names the
request id its traceback is logged under. Forms go through ``Fields`` (parse, submit): a ledger
refusal shows next to the field it concerns (``BillingError.field``) or the form's button, with
what the user typed.
"""

from __future__ import annotations

import functools
import hmac
import json
from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

import pydantic
import structlog
from fastapi import Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException

from adapters.app import bounds
from adapters.app.context import Services
from adapters.app.users import Session, Users
from adapters.queries.paging import InvalidPage
from domain.errors import BillingError, InvalidInput, NotFound
from domain.money import minor_units, parse_decimal, price_column, round_to_currency
from domain.values import parse_date

log = structlog.get_logger("tollbook.portal")
T = TypeVar("T")

PREFIX = "/portal"
HERE = Path(__file__).parent
SESSION_COOKIE = "tollbook_session"
LOGIN_CSRF_COOKIE = "tollbook_login_csrf"
FLASH_COOKIE = "tollbook_flash"
SECURITY_HEADERS = {
    # everything the pages use is served from here: no inline script, no third party
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
        " form-action 'self'; frame-ancestors 'none'; base-uri 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass
class Portal:
    services: Services
    users: Users
    templates: Jinja2Templates


class NotSignedIn(Exception):
    """No live session: go to the sign-in page, then back to ``next_url``."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


class Refused(Exception):
    """A 403: the role may not do this, or the form's CSRF token is wrong."""


def portal_of(request: Request) -> Portal:
    found = request.app.state.portal
    assert isinstance(found, Portal)
    return found


PortalDep = Annotated[Portal, Depends(portal_of)]


def current_session(request: Request) -> Session:
    token = request.cookies.get(SESSION_COOKIE)
    session = portal_of(request).users.session(token) if token else None
    if session is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise NotSignedIn(target if request.method == "GET" else PREFIX + "/invoices")
    request.state.session = session
    return session


Viewer = Annotated[Session, Depends(current_session)]


def editing_session(session: Viewer) -> Session:
    """Only finance and admin change anything; auditors read (enforced here, not in the page)."""
    if not session.user.can_write:
        raise Refused(
            f"{session.user.username} signed in as {session.user.role}: auditors can look at"
            " everything but cannot change anything"
        )
    return session


Editor = Annotated[Session, Depends(editing_session)]


async def checked_form(request: Request, session: Viewer) -> FormData:
    """The posted form, every value of a repeated field included (checkboxes), after its CSRF
    token was checked against the session's."""
    form = await request.form()
    token = form.get("csrf_token")
    token = token if isinstance(token, str) else ""
    if not hmac.compare_digest(token.encode(), session.csrf_token.encode()):
        raise Refused("this form is out of date or did not come from the portal: reload the page")
    return form


async def form_values(request: Request, session: Viewer) -> dict[str, str]:
    """The posted form, after its CSRF token was checked against the session's."""
    form = await checked_form(request, session)
    values = {key: value for key, value in form.items() if isinstance(value, str)}
    values.pop("csrf_token", None)
    return values


FormValues = Annotated[dict[str, str], Depends(form_values)]
CheckedForm = Annotated[FormData, Depends(checked_form)]


class PortalRoute(APIRoute):
    """Portal refusals as HTML pages, and the portal's security headers on every answer."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                response = await original(request)
            except NotSignedIn as signed_out:
                response = RedirectResponse(
                    f"{PREFIX}/login?next={quote(signed_out.next_url, safe='')}", status_code=303
                )
            except Refused as refused:
                response = error_page(request, 403, "Not allowed", str(refused))
            except NotFound as missing:
                response = error_page(request, 404, "Not found", str(missing))
            except InvalidPage as bad_page:
                response = error_page(request, 422, "Bad page", str(bad_page))
            except BillingError as error:
                response = error_page(request, 409, "Refused", str(error))
            except (HTTPException, RequestValidationError):
                raise  # answered by the app's problem handlers (413, bad path parameters)
            except Exception:
                # a failure that is ours, not the user's: logged with the traceback and the
                # request id (the outer middleware's page is the fallback if this page fails)
                log.exception("portal page failed", path=request.url.path)
                request_id = structlog.contextvars.get_contextvars().get("request_id", "")
                response = error_page(
                    request,
                    500,
                    "Something went wrong",
                    "the server could not handle this page; the error is logged"
                    + (f" under reference {request_id}" if request_id else ""),
                )
            for name, value in SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
            return response

        return handler


# ------------------------------------------------------------------ rendering


def money(value: Decimal | str | None, currency: str) -> str:
    """An amount at the currency's minor units, with thousands separators (1,234.50)."""
    if value is None or value == "":
        return ""
    amount = round_to_currency(Decimal(value), currency)
    return f"{amount:,.{minor_units(currency)}f}"


def plain(value: Decimal | None) -> str:
    """A decimal as typed in a form field: no exponent, no trailing zeros beyond need."""
    if value is None:
        return ""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


@functools.cache  # one compiled set per process: every app built in it renders the same pages
def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    env = templates.env
    env.filters["money"] = money
    env.filters["plain"] = plain
    env.filters["sentence"] = lambda text: str(text)[:1].upper() + str(text)[1:]
    env.filters["iso"] = lambda d: d.isoformat() if d else ""
    env.globals["PREFIX"] = PREFIX
    env.globals["STATUS_NAMES"] = STATUS_NAMES
    env.globals["minor_units"] = minor_units
    env.globals["price_column"] = price_column  # a table's unit prices share their decimals
    return templates


STATUS_NAMES = {
    "draft": "Draft",
    "issued": "Issued",
    "partly_paid": "Partly paid",
    "partly_credited": "Partly credited",
    "paid": "Paid",
    "credited": "Credited",
    "overdue": "Overdue",
    "void": "Void",
    "pending": "Pending",
    "completed": "Completed",
    "cancelled": "Cancelled",
}


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any],
    status_code: int = 200,
) -> HTMLResponse:
    session: Session | None = getattr(request.state, "session", None)
    flash = request.cookies.get(FLASH_COOKIE)
    response = portal_of(request).templates.TemplateResponse(
        request,
        template,
        {
            "session": session,
            "user": session.user if session else None,
            "can_write": bool(session and session.user.can_write),
            "csrf_token": session.csrf_token if session else "",
            "flash": _read_flash(flash),
            "errors": {},
            "values": {},
            **context,
        },
        status_code=status_code,
    )
    if flash:
        response.delete_cookie(FLASH_COOKIE, path=PREFIX)
    return response


def _read_flash(raw: str | None) -> str:
    if not raw:
        return ""
    try:
        text = json.loads(raw)
    except ValueError:
        return ""
    return text if isinstance(text, str) else ""


def done(url: str, message: str) -> RedirectResponse:
    """After a successful change: back to a page (303), with a one-time message."""
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(
        FLASH_COOKIE, json.dumps(message), path=PREFIX, httponly=True, samesite="lax"
    )
    return response


def error_page(request: Request, status: int, title: str, message: str) -> HTMLResponse:
    return render(request, "error.html", {"title": title, "message": message}, status)


# ------------------------------------------------------------------- forms


class Fields:
    """The portal's one form helper: parse a posted form field by field, run the ledger command,
    and put a refusal next to the field it concerns.

    Each ``text``/``amount``/``day``/``whole`` read keeps a bad value as that field's error.
    ``submit`` runs the command only when every field parsed; a ledger refusal
    (``BillingError``) goes next to the field it names (``error.field``, set where the domain
    raised it; ``<field>_<item>`` for one item of several, e.g. ``amount_<invoice id>``) when
    the form shows that field, else next to the form's button (``action``). The fields a form
    shows are the ones read through this helper unless ``shown`` says otherwise.
    """

    def __init__(
        self,
        values: Mapping[str, str],
        *,
        shown: Iterable[str] | None = None,
        action: str = "form",
    ) -> None:
        self.values = dict(values)
        self.errors: dict[str, str] = {}
        self.read: set[str] = set()
        self.shown = None if shown is None else set(shown)
        self.action = action

    def _raw(self, name: str) -> str:
        self.read.add(name)
        return self.values.get(name, "").strip()

    def text(self, name: str, *, required: str | None = None) -> str:
        value = self._raw(name)
        if required and not value:
            self.errors[name] = f"{required} is required"
        return value

    def amount(self, name: str, what: str, *, required: bool = False) -> Decimal | None:
        raw = self._raw(name)
        if not raw:
            if required:
                self.errors[name] = f"{what} is required"
            return None
        try:
            # its range is the command's to check, in the same words as the API and the CLI
            return parse_decimal(raw, what=what)
        except InvalidInput as error:
            self.errors[name] = str(error)
            return None

    def day(self, name: str, what: str, *, required: bool = False) -> date | None:
        raw = self._raw(name)
        if not raw:
            if required:
                self.errors[name] = f"{what} is required"
            return None
        try:
            return bounds.day_in_range(parse_date(raw, what=what))
        except InvalidInput as error:
            self.errors[name] = str(error)
        except bounds.OutOfBounds as error:
            self.errors[name] = f"{what}: {error}"
        return None

    def whole(self, name: str, what: str) -> int | None:
        """A whole number of days (ASCII digits: ``int`` would take "٣" and choke on "²")."""
        raw = self._raw(name)
        if not raw:
            return None
        if not bounds.WHOLE_NUMBER.fullmatch(raw):
            self.errors[name] = f"{what} must be a whole number of days, like 30"
            return None
        return int(raw)  # at most 18 digits; the range is the ledger's (docs/money.md)

    def require(self, name: str, value: object, message: str) -> None:
        """A rule of the form itself: ``message`` at ``name`` when ``value`` is missing and the
        field has no error yet."""
        if value in (None, "") and name not in self.errors:
            self.errors[name] = message

    @property
    def ok(self) -> bool:
        return not self.errors

    def submit(self, command: Callable[[], T]) -> T | None:
        """``command()`` when every field parsed (check ``ok`` after: it may return None);
        its refusal becomes an error next to the field it concerns, and None is returned."""
        if not self.ok:
            return None
        try:
            return command()
        except BillingError as error:
            self.errors[self.place(error.field, error.item)] = str(error)
        except pydantic.ValidationError as error:  # a change-set the model refuses
            first = error.errors()[0]
            name = str(first["loc"][0]) if first["loc"] else None
            self.errors[self.place(name)] = f"{(name or 'form').replace('_', ' ')}: {first['msg']}"
        return None

    def place(self, field: str | None, item: str | None = None) -> str:
        """Where a refusal about ``field`` (of ``item``) shows: that field (of that item) when
        the form shows it, else the form's button."""
        shown = self.read if self.shown is None else self.shown
        names = [f"{field}_{item}", field] if field and item else [field]
        return next((name for name in names if name in shown), self.action)


def actor_of(session: Session) -> str:
    """The event actor of a portal change: the signed-in user's name."""
    return session.user.username
