"""Sign-in and sign-out.

The sign-in form has no session yet, so its CSRF token is a double-submit cookie: a random
value set with the form, which the post must carry back in a hidden field.
"""

from __future__ import annotations

import hmac
import math
import os
import secrets

import structlog
from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from adapters.app.users import SignInLocked
from adapters.portal.web import (
    LOGIN_CSRF_COOKIE,
    PREFIX,
    SESSION_COOKIE,
    FormValues,
    Portal,
    PortalDep,
    PortalRoute,
    Refused,
    Viewer,
    render,
)

log = structlog.get_logger("tollbook.portal")
router = APIRouter(prefix=PREFIX, route_class=PortalRoute, include_in_schema=False)


def _secure(request: Request) -> bool:
    """Cookies only over HTTPS: when the request is, or when a TLS proxy in front says so via
    TOLLBOOK_PORTAL_SECURE_COOKIES=1 (uvicorn then sees plain HTTP)."""
    return request.url.scheme == "https" or os.environ.get("TOLLBOOK_PORTAL_SECURE_COOKIES") == "1"


def _safe_next(target: str) -> str:
    """Only ever go back to a portal page (never to another site)."""
    if target.startswith(PREFIX + "/") and not target.startswith("//") and "\\" not in target:
        return target
    return f"{PREFIX}/invoices"


@router.get("")
def home() -> RedirectResponse:
    return RedirectResponse(f"{PREFIX}/invoices", status_code=303)


@router.get("/login")
def login_form(request: Request, next: str = "") -> Response:
    token = secrets.token_urlsafe(24)
    response = render(request, "login.html", {"login_csrf": token, "next": _safe_next(next)})
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        path=PREFIX,
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )
    return response


@router.post("/login")
async def login(request: Request, portal: PortalDep) -> Response:
    values = await _login_form(request)
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    username = values.get("username", "").strip()
    target = _safe_next(values.get("next", ""))
    try:
        user = await run_in_threadpool(
            portal.users.authenticate, username, values.get("password", "")
        )
    except SignInLocked as locked:
        return _locked_out(request, expected, target, username, locked)
    if user is None:
        log.info("portal sign-in refused", username=username)
        return _sign_in_refused(
            request, expected, target, username, "The user name or the password is wrong.", 401
        )
    token, _ = await run_in_threadpool(portal.users.start_session, user)
    log.info("portal sign-in", username=user.username, role=user.role)
    return _signed_in(request, portal, token, target)


async def _login_form(request: Request) -> dict[str, str]:
    """The posted sign-in form, once its double-submit CSRF token matched the cookie's."""
    form = await request.form()
    values = {key: value for key, value in form.items() if isinstance(value, str)}
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    sent = values.get("csrf_token", "")
    if not expected or not hmac.compare_digest(expected.encode(), sent.encode()):
        raise Refused("the sign-in form is out of date: reload the page and sign in again")
    return values


def _locked_out(
    request: Request, login_csrf: str, target: str, username: str, locked: SignInLocked
) -> Response:
    minutes = max(1, math.ceil(locked.retry_after / 60))
    log.warning("portal sign-in locked", username=username)
    refused = _sign_in_refused(
        request,
        login_csrf,
        target,
        username,
        f"Too many wrong passwords for this user name: try again in {minutes}"
        f" minute{'s' if minutes > 1 else ''}.",
        429,
    )
    refused.headers["Retry-After"] = str(math.ceil(locked.retry_after))
    return refused


def _signed_in(request: Request, portal: Portal, token: str, target: str) -> Response:
    """Back to ``target`` with the session cookie (and without the sign-in form's)."""
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        path=PREFIX,
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        max_age=int(portal.users.max_seconds),
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=PREFIX)
    return response


def _sign_in_refused(
    request: Request, login_csrf: str, target: str, username: str, message: str, status: int
) -> Response:
    """The sign-in form again, with the name kept (never the password) and why."""
    return render(
        request,
        "login.html",
        {
            "login_csrf": login_csrf,
            "next": target,
            "values": {"username": username},
            "errors": {"form": message},
        },
        status,
    )


@router.post("/logout")
def logout(request: Request, portal: PortalDep, session: Viewer, form: FormValues) -> Response:
    del form  # checked for its CSRF token; nothing else in it
    token = request.cookies.get(SESSION_COOKIE, "")
    portal.users.end_session(token)
    log.info("portal sign-out", username=session.user.username)
    response = RedirectResponse(f"{PREFIX}/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return response
