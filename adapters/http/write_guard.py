"""A request never writes what it could not then show.

Every write answers with the document of what it changed, and the portal shows the changed
page next. If a value the ledger accepted made that document impossible to compute (an amount
whose products overflow the decimal context, a date past the calendar's end), the request used
to fail after its events were stored, and every later read of that aggregate failed with it.
So, during an HTTP request, each aggregate the ledger is about to save is first rendered as
the API renders it; if that fails the save is refused (``Unrepresentable``, 422) and nothing is
written. The domain's own limits should make this unreachable; this is the HTTP layer's
guarantee whatever the domain accepts.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, TypeVar
from uuid import UUID

import structlog
from starlette.types import ASGIApp, Receive, Scope, Send

from adapters.ledger.application import Ledger
from adapters.views import credit_note_doc, customer_doc, invoice_doc, package_doc, payment_doc
from domain.credit_note import CreditNote
from domain.customer import Customer
from domain.errors import InvalidInput
from domain.invoice import Invoice
from domain.package import Package
from domain.payment import Payment

log = structlog.get_logger("tollbook.http")
A = TypeVar("A")

_IN_REQUEST: ContextVar[bool] = ContextVar("tollbook_write_guard", default=False)
#: the aggregates this request saved, by id, as saved (see ``saved``)
_SAVED: ContextVar[dict[UUID, object] | None] = ContextVar("tollbook_saved", default=None)
_GUARDED = "_tollbook_write_guard"


class Unrepresentable(InvalidInput):
    """The change would leave a document whose amounts or dates cannot be computed."""

    code = "value_out_of_range"


def render(aggregate: object, ledger: Ledger) -> Any:
    """The aggregate's API document (what the response and the pages show), or None for
    aggregates no response shows (numbering sequences, settings)."""
    today = ledger.today()
    if isinstance(aggregate, Invoice):
        return invoice_doc(aggregate, today)
    if isinstance(aggregate, Payment):
        return payment_doc(aggregate)
    if isinstance(aggregate, Customer):
        return customer_doc(aggregate, today)
    if isinstance(aggregate, Package):
        return package_doc(aggregate)
    if isinstance(aggregate, CreditNote):
        return credit_note_doc(aggregate)
    return None


def check(aggregates: tuple[object, ...], ledger: Ledger) -> None:
    for aggregate in aggregates:
        try:
            render(aggregate, ledger)
        except (ArithmeticError, ValueError) as error:  # decimal.InvalidOperation, OverflowError
            log.warning(
                "write refused: its result cannot be rendered",
                aggregate_id=str(getattr(aggregate, "id", "")),
                aggregate=type(aggregate).__name__,
                error=repr(error),
            )
            raise Unrepresentable(
                f"this change would leave {type(aggregate).__name__.lower()}"
                f" {getattr(aggregate, 'id', '')} with amounts or dates too large to compute"
                " (nothing was saved): use smaller values"
            ) from None


def install(ledger: Ledger) -> None:
    """Wrap ``ledger.save`` (once) so saves made inside an HTTP request are checked first.

    The ledger's commands all save through ``Application.save``; wrapping the instance keeps
    the check out of the domain, and outside requests (CLI, workers) nothing changes.
    """
    if getattr(ledger.save, _GUARDED, False):
        return
    save: Callable[..., Any] = ledger.save

    def guarded_save(*aggregates: Any, **kwargs: Any) -> Any:
        if _IN_REQUEST.get():
            check(aggregates, ledger)
        recordings = save(*aggregates, **kwargs)
        kept = _SAVED.get()
        if kept is not None:
            kept.update((aggregate.id, aggregate) for aggregate in aggregates)
        return recordings

    setattr(guarded_save, _GUARDED, True)
    ledger.save = guarded_save  # type: ignore[method-assign]


class WriteGuard:
    """Marks the request's context so the ledger's saves inside it are checked (and kept, for
    ``saved``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = _IN_REQUEST.set(True)
        kept = _SAVED.set({})
        try:
            await self.app(scope, receive, send)
        finally:
            _SAVED.reset(kept)
            _IN_REQUEST.reset(token)


def saved(cls: type[A], ref: str) -> A | None:
    """The aggregate ``ref`` (an id) as this request's own save left it, or None when the
    request saved no such aggregate. A write answers with what it wrote without reading it
    back from the store (it holds exactly what a read would fold: the same events)."""
    kept = _SAVED.get()
    if not kept:
        return None
    try:
        found = kept.get(UUID(ref))
    except ValueError:
        return None
    return found if isinstance(found, cls) else None
