"""The OpenAPI document and the API docs pages.

What FastAPI does not derive from the routes by itself is declared here, once for every
operation: readable operation ids (``listInvoices``, not ``list_invoices_invoices_get``), every
refusal as an RFC 9457 ``application/problem+json`` document, and the API-key security schemes
(the schemes themselves come from the dependencies in ``deps.require``). The docs pages
(``/docs`` Swagger UI, ``/redoc`` ReDoc) load their scripts from this server, never a CDN:
the assets are the ones the ``fastapi-offline`` package ships.
"""

from __future__ import annotations

import re
from importlib.resources import files
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import HTMLResponse

from adapters.http.conditional import MAX_HEADER, TAG_LIST
from adapters.http.input_rules import IDEMPOTENCY_KEY_HEADER, declare
from adapters.http.problems import PROBLEM_JSON

DOCS_URL = "/docs"
REDOC_URL = "/redoc"
ASSETS_URL = "/docs/assets"

# Where the verb integrators expect differs from the handler's name (``show_invoice`` ->
# ``getInvoice``). Any other route's id is its handler's name in camelCase.
OPERATION_IDS: dict[str, str] = {
    "show_settings": "getSettings",
    "change_settings": "updateSettings",
    "register_customer": "createCustomer",
    "show_customer": "getCustomer",
    "change_customer": "updateCustomer",
    "customer_history": "getCustomerHistory",
    "define_package": "createPackage",
    "show_package": "getPackage",
    "change_package": "updatePackage",
    "invoice_pdf": "getInvoicePdf",
    "show_invoice": "getInvoice",
    "invoice_history": "getInvoiceHistory",
    "add_line": "addInvoiceLine",
    "edit_line": "updateInvoiceLine",
    "remove_line": "deleteInvoiceLine",
    "change_dates": "updateInvoiceDates",
    "issue_credit_note": "createCreditNote",
    "show_credit_note": "getCreditNote",
    "record_payment": "createPayment",
    "show_payment": "getPayment",
    "payment_history": "getPaymentHistory",
    "balances": "listBalances",
    "feed": "listEvents",
    "feed_types": "listEventTypes",
    "stream": "streamEvents",
    "add_webhook": "createWebhook",
    "show_webhook": "getWebhook",
    "remove_webhook": "deleteWebhook",
    "webhook_deliveries": "listWebhookDeliveries",
    "health": "getHealth",
}


def camel_case(name: str) -> str:
    head, *rest = [part for part in re.split(r"[^A-Za-z0-9]+", name) if part]
    return head.lower() + "".join(part[:1].upper() + part[1:] for part in rest)


def operation_id(route: APIRoute) -> str:
    """FastAPI's ``generate_unique_id_function``: the route's readable operation id."""
    return OPERATION_IDS.get(route.name) or camel_case(route.name)


class FieldError(BaseModel):
    field: str = Field(description="Dotted path of the field, e.g. body.lines.0.quantity.")
    message: str
    type: str


class Problem(BaseModel):
    """An RFC 9457 problem document. ``code`` is stable and machine-readable; some refusals
    add members (``errors`` for invalid fields, ``field`` and ``item`` for the input a rule
    of the ledger refused, ``current_version`` on a version mismatch, ``existing_id`` when
    something already exists, ``request_id`` on a 500)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(examples=["/problems/over_allocation"])
    title: str
    status: int
    code: str = Field(examples=["over_allocation"])
    detail: str
    instance: str | None = None
    errors: list[FieldError] | None = None
    current_version: int | None = None
    existing_id: str | None = None
    field: str | None = Field(
        default=None,
        description="The input a refusal of the ledger concerns: the command's parameter"
        " (e.g. amount, tax_rate) or, for a look-up, what was looked up (e.g. customer).",
    )
    item: str | None = Field(
        default=None,
        description="Of a command over several items (allocating to several invoices), the"
        " id of the item refused.",
    )


def _problem(description: str) -> dict[str, Any]:
    # the model registers the Problem schema; ``openapi_document`` declares it as problem+json
    return {"model": Problem, "description": description}


#: Declared on every operation (``FastAPI(responses=...)``): what a refusal looks like.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": _problem(
        "Refused: 401 no or unknown API key, 403 scope too narrow, 404 not found, 409 a rule"
        " of the ledger, 412 If-Match does not match, 413 body too large, 422 invalid input"
        " (see `code`)"
    ),
    "5XX": _problem("The server could not handle the request (logged under `request_id`)"),
}


PROBLEM_SCHEMA = {"$ref": "#/components/schemas/Problem"}
# every POST takes one (adapters/http/idempotency.py); its rules are the middleware's
IDEMPOTENCY_KEY_PARAMETER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "Makes a retried POST happen once: the same key with the same request answers the"
        " first answer again; with another request, 422 idempotency_key_reused."
    ),
    "schema": IDEMPOTENCY_KEY_HEADER,
}
# an edit of a customer, package, invoice or payment honours it (adapters/http/deps.py
# ``check_if_match``); the routes that do say so with ``answers(..., if_match=True)``
IF_MATCH_PARAMETER = {
    "name": "If-Match",
    "in": "header",
    "required": False,
    "description": (
        'The ETag of the version the edit was made against, e.g. "7" (for allocations, refunds'
        " and un-allocations the payment's, for a credit note the invoice's). If the resource"
        " has moved on: 412 version_mismatch, nothing written. Absent or `*`: the edit applies"
        " to the current version."
    ),
    "schema": {
        "type": "string",
        "maxLength": MAX_HEADER,
        "pattern": TAG_LIST,
        "examples": ['"7"', "*"],
    },
}
IF_MATCH = {
    "parameters": [IF_MATCH_PARAMETER],
    "responses": {
        "412": {
            "description": (
                "If-Match names a version that is not current (`version_mismatch`, with"
                " `current_version`, and the current `ETag` header)"
            ),
            "headers": {
                "ETag": {
                    "description": 'The current version, e.g. "8".',
                    "required": True,
                    "schema": {"type": "string"},
                }
            },
            "content": {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}},
        }
    },
}
# a create on a collection answers where the new resource is
LOCATION_HEADER = {
    "description": "The new resource's path, e.g. /invoices/{id}.",
    "required": True,
    "schema": {"type": "string"},
}
EVENT_STREAM = "text/event-stream"
EVENT_STREAM_SCHEMA = {
    "type": "string",
    "description": (
        "Server-Sent Events: per event `id` (the position), `event` (the type, e.g."
        " Invoice.Issued) and `data` (the feed's JSON envelope, as in `GET /events`);"
        " comment lines keep a quiet stream open"
    ),
}


# OpenAPI links: what a client (and the stateful schemathesis run) can do next with what an
# answer returned. Every create on a collection (``POST /invoices``) links to each operation on
# the new resource (``/invoices/{ref}...``, ``ref`` = the new ``id``) by the rule in ``_links``;
# these are the others: a new customer's id as the customer of an invoice or payment, a new
# invoice's as the invoice of a credit note, a new line or assignment to its edit or end.
LINKS: dict[tuple[str, str], list[tuple[str, str, dict[str, str], dict[str, str] | None]]] = {
    ("post", "/customers"): [
        ("post", "/invoices", {}, {"customer": "$response.body#/id"}),
        ("post", "/payments", {}, {"customer": "$response.body#/id"}),
    ],
    ("post", "/invoices"): [("post", "/credit-notes", {}, {"invoice": "$response.body#/id"})],
    ("post", "/invoices/{ref}/lines"): [
        (
            method,
            "/invoices/{ref}/lines/{line_ref}",
            {"path.ref": "$request.path.ref", "path.line_ref": "$response.body#/line_id"},
            None,
        )
        for method in ("patch", "delete")
    ],
    ("post", "/customers/{ref}/assignments"): [
        (
            "post",
            "/customers/{ref}/assignments/{assignment_id}/end",
            {
                "path.ref": "$request.path.ref",
                "path.assignment_id": "$response.body#/assignment_id",
            },
            None,
        )
    ],
}
PATH_PARAMETER = re.compile(r"{(\w+)}")


def _links(paths: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    """The links of the 201 answer of ``method path``."""
    targets = list(LINKS.get((method, path), []))
    if method == "post" and "{" not in path:
        targets += [
            (target_method, target, {"path.ref": "$response.body#/id"}, None)
            for target, operations in paths.items()
            if target.startswith(path + "/{ref}") and set(PATH_PARAMETER.findall(target)) == {"ref"}
            for target_method in operations
        ]
    links = {}
    for target_method, target, parameters, body in targets:
        operation_id = paths[target][target_method]["operationId"]
        link: dict[str, Any] = {"operationId": operation_id, "parameters": parameters}
        if body is not None:
            link["requestBody"] = body
        links[operation_id] = link
    return links


def openapi_document(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document with the problem responses as ``application/problem+json``."""
    if app.openapi_schema:
        return app.openapi_schema
    document = FastAPI.openapi(app)
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            if method == "post":
                operation.setdefault("parameters", []).append(IDEMPOTENCY_KEY_PARAMETER)
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if status in PROBLEM_RESPONSES:
                    # FastAPI put the schema under the route's own media type
                    response["content"] = {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}}
                    continue
                if status == "201" and "{" not in path:
                    response.setdefault("headers", {})["Location"] = LOCATION_HEADER
                if status == "201" and (links := _links(document["paths"], path, method)):
                    response["links"] = links
                if "itemSchema" in content.get(EVENT_STREAM, {}):
                    # FastAPI describes SSE events with OpenAPI 3.2's itemSchema, which a 3.1
                    # document may not hold (validators refuse it): say it in words instead
                    content[EVENT_STREAM] = {"schema": EVENT_STREAM_SCHEMA}
    declare(document)
    app.openapi_schema = document
    return document


# The docs pages run only scripts and styles from this server; the spec is fetched from it too.
DOCS_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self'"
        " 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; worker-src 'self' blob:;"
        " font-src 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
}


def install(app: FastAPI) -> None:
    """Serve the OpenAPI document and offline docs pages on ``app`` (created with
    ``docs_url=None, redoc_url=None``, so FastAPI's CDN-loading pages are not there)."""
    app.openapi = lambda: openapi_document(app)  # type: ignore[method-assign]
    assets = files("fastapi_offline") / "static"
    app.mount(ASSETS_URL, StaticFiles(directory=str(assets)), name="docs-assets")

    @app.get(DOCS_URL, include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} API",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            # no badge fetched from the public validator
            swagger_ui_parameters={"validatorUrl": None},
        )
        return HTMLResponse(page.body, headers=DOCS_HEADERS)

    @app.get(REDOC_URL, include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} API",
            redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )
        return HTMLResponse(page.body, headers=DOCS_HEADERS)
