"""The OpenAPI document describes the API as the server behaves: readable operation ids, every
refusal as problem+json, the API-key schemes, the PDF, the accepted values; and the docs pages
load nothing from outside this server."""

from __future__ import annotations

import inspect
import re

import pytest
from fastapi.routing import APIRoute
from openapi_spec_validator import validate

from adapters.app.context import LONG_POLL_MAX_SECONDS, Services
from domain.package import FREQUENCIES
from tests.helpers import event_count
from tests.service.conftest import ok

CAMEL_CASE = re.compile(r"[a-z]+(?:[A-Z][a-z0-9]*)*")
EXTERNAL_URL = re.compile(r"""(?:https?:)?//[A-Za-z0-9.-]+""")
UNAUTHENTICATED = {"/health", "/health/live", "/ready"}


@pytest.fixture
def document(client) -> dict:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    return response.json()


def _operations(document: dict):
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            yield path, method, operation


def test_the_document_is_valid_openapi(document):
    validate(document)


def test_every_operation_has_a_unique_camel_case_id(document):
    ids = [operation["operationId"] for _, _, operation in _operations(document)]
    assert len(ids) > 40
    assert [i for i in ids if not CAMEL_CASE.fullmatch(i)] == []
    assert len(set(ids)) == len(ids)
    by_route = {(m, p): op["operationId"] for p, m, op in _operations(document)}
    assert by_route[("get", "/invoices")] == "listInvoices"
    assert by_route[("get", "/invoices/{ref}")] == "getInvoice"
    assert by_route[("post", "/payments")] == "createPayment"
    assert by_route[("get", "/customers/{ref}/history")] == "getCustomerHistory"
    assert by_route[("get", "/invoices/{ref}.pdf")] == "getInvoicePdf"


def test_every_operation_declares_its_refusals_as_problem_documents(document):
    problem = document["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "code", "detail"}
    for path, method, operation in _operations(document):
        responses = operation["responses"]
        for status in ("4XX", "5XX"):
            content = responses[status]["content"]
            assert list(content) == ["application/problem+json"], (method, path, status)
            assert content["application/problem+json"]["schema"] == {
                "$ref": "#/components/schemas/Problem"
            }
        # FastAPI's own 422 (a JSON document the server never sends) is not declared
        assert "422" not in responses, (method, path)


def test_the_api_key_schemes_are_declared_on_every_guarded_operation(document):
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key: `tollbook apikey create`",
    }
    assert schemes["apiKey"]["in"] == "header" and schemes["apiKey"]["name"] == "X-API-Key"
    for path, method, operation in _operations(document):
        if path in UNAUTHENTICATED:
            assert "security" not in operation
        else:
            assert {"bearer": []} in operation["security"], (method, path)


def test_the_pdf_is_declared_as_a_pdf(document):
    ok_response = document["paths"]["/invoices/{ref}.pdf"]["get"]["responses"]["200"]
    assert list(ok_response["content"]) == ["application/pdf"]
    assert ok_response["content"]["application/pdf"]["schema"]["format"] == "binary"


def test_package_frequency_is_the_enum_the_server_accepts(document, writer, services):
    schemas = document["components"]["schemas"]
    for name in ("PackageCreate", "PackageChange"):
        frequency = schemas[name]["properties"]["frequency"]
        kinds = frequency.get("anyOf", [frequency])  # an edit does not take null
        [declared] = [kind for kind in kinds if kind.get("type") == "string"]
        assert tuple(declared["enum"]) == FREQUENCIES
    ok(writer.post("/packages", {"name": "Line", "unit_price": "10", "frequency": "weekly"}), 201)
    before = event_count(services.ledger)
    refused = writer.patch("/packages/Line", {"frequency": "hourly"})
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["code"] == "validation_error"
    assert refused.json()["errors"][0]["field"] == "body.frequency"
    assert event_count(services.ledger) == before
    assert ok(writer.patch("/packages/Line", {"frequency": "daily"}))["frequency"] == "daily"


def test_the_long_poll_limit_is_the_same_in_the_document_and_the_server(
    document, reader, services: Services
):
    [wait] = [p for p in document["paths"]["/events"]["get"]["parameters"] if p["name"] == "wait"]
    assert wait["schema"]["maximum"] == LONG_POLL_MAX_SECONDS
    services.max_wait = 0.05  # the service may wait less than the limit (tests do)
    assert ok(reader.get("/events", wait=LONG_POLL_MAX_SECONDS))["events"] == []
    refused = reader.get("/events", wait=LONG_POLL_MAX_SECONDS + 1)
    assert refused.status_code == 422 and refused.json()["code"] == "validation_error"


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_pages_load_nothing_from_outside(client, page):
    response = client.get(page)
    assert response.status_code == 200
    assert EXTERNAL_URL.findall(response.text) == []
    # the browser is told so too
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "https:" not in policy
    # everything the page loads is served here
    for asset in re.findall(r"""(?:src|href)=["']([^"']+)["']""", response.text):
        assert asset.startswith("/"), asset
        assert client.get(asset).status_code == 200, asset
    assert "/openapi.json" in response.text


DOCUMENTED = {
    ("get", "/invoices"): "InvoiceSummary",
    ("get", "/invoices/{ref}"): "InvoiceDoc",
    ("post", "/invoices/{ref}/issue"): "InvoiceDoc",
    ("get", "/customers"): "CustomerDoc",
    ("get", "/customers/{ref}"): "CustomerDoc",
    ("get", "/customers/{ref}/history"): "EventDoc",
    ("get", "/packages/{ref}"): "PackageDoc",
    ("get", "/payments"): "PaymentDoc",
    ("post", "/payments"): "PaymentDoc",
    ("get", "/credit-notes/{ref}"): "CreditNoteDoc",
    ("get", "/balances"): "BalanceDoc",
    ("get", "/events"): "FeedPage",
    ("get", "/settings"): "SettingsDoc",
    ("patch", "/settings"): "SettingsDoc",
    ("get", "/webhooks"): "WebhookDoc",
    ("post", "/webhooks"): "WebhookCreated",
    ("get", "/webhooks/{ref}"): "WebhookDoc",
    ("delete", "/webhooks/{ref}"): "WebhookDoc",
    ("get", "/webhooks/{ref}/deliveries"): "DeliveryDoc",
    ("get", "/health"): "HealthDoc",
}


def test_list_and_get_operations_describe_their_body(document):
    for (method, path), model in DOCUMENTED.items():
        responses = document["paths"][path][method]["responses"]
        [(status, answer)] = [(s, r) for s, r in responses.items() if s.startswith("2")]
        schema = answer["content"]["application/json"]["schema"]
        ref = schema.get("items", schema)["$ref"]
        assert ref == f"#/components/schemas/{model}", (method, path, status)
        assert document["components"]["schemas"][model]["required"], model


def test_posts_declare_the_idempotency_key_and_creates_their_location(document, writer):
    for path, method, operation in _operations(document):
        headers = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
        assert ("Idempotency-Key" in headers) == (method == "post"), (method, path)
    created = document["paths"]["/payments"]["post"]["responses"]["201"]
    assert created["headers"]["Location"]["required"] is True
    line = document["paths"]["/invoices/{ref}/lines"]["post"]["responses"]["201"]
    assert "Location" not in line.get("headers", {})  # a line is not a resource of its own
    answer = writer.post("/packages", {"name": "Line", "unit_price": "10"})
    assert answer.status_code == 201
    assert answer.headers["Location"] == f"/packages/{answer.json()['id']}"


def test_the_event_types_are_declared_as_a_list_of_strings(document):
    answer = document["paths"]["/events/types"]["get"]["responses"]["200"]
    schema = answer["content"]["application/json"]["schema"]
    assert schema["type"] == "array" and schema["items"] == {"type": "string"}


def _honours_if_match(route: APIRoute) -> bool:
    source = inspect.getsource(route.endpoint)
    return "check_if_match(" in source or "_precondition(" in source


def _api_routes(routes: list) -> list[APIRoute]:
    """The app's API routes, including those of the routers it includes."""
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):  # an included router (FastAPI >= 0.160)
            found += _api_routes(route.original_router.routes)
    return [r for r in found if r.include_in_schema]


def test_every_edit_that_honours_if_match_declares_it_and_its_412(client, document):
    routes = _api_routes(client.app.routes)
    assert len(routes) > 40
    honouring = set()
    for route in routes:
        for method in route.methods:
            operation = document["paths"][route.path_format][method.lower()]
            headers = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
            assert ("If-Match" in headers) == _honours_if_match(route), (method, route.path)
            if "If-Match" in headers:
                honouring.add((method, route.path))
                refused = operation["responses"]["412"]
                assert refused["content"] == {
                    "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
                }
                assert refused["headers"]["ETag"]["required"] is True
    # the edits of invoices, payments, customers and packages, the credit-note create, the
    # due-date change, the discount grant and the invoice and credit-note sends (docs/email.md)
    assert len(honouring) == 20
    assert ("POST", "/credit-notes/{ref}/send") in honouring
    assert ("POST", "/payments/{ref}/allocations") in honouring
    assert ("POST", "/credit-notes") in honouring


def test_a_stale_if_match_is_the_declared_412(document, writer):
    ok(writer.post("/customers", {"account_number": "ACME", "name": "Acme"}), 201)
    refused = writer.patch("/customers/ACME", {"name": "Acme Ltd"}, headers={"If-Match": '"99"'})
    assert refused.status_code == 412
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["code"] == "version_mismatch"
    assert refused.headers["ETag"] == f'"{refused.json()["current_version"]}"'


def test_creates_link_to_what_can_follow(document):
    ids = {op["operationId"] for _, _, op in _operations(document)}
    links = {
        (method, path): operation["responses"]["201"].get("links", {})
        for path, method, operation in _operations(document)
        if "201" in operation["responses"]
    }
    for (method, path), found in links.items():
        assert set(found) <= ids, (method, path)
        for link in found.values():
            assert link["operationId"] in ids
    invoice = links[("post", "/invoices")]
    assert invoice["getInvoice"]["parameters"] == {"path.ref": "$response.body#/id"}
    assert {"addInvoiceLine", "issueInvoice", "createCreditNote"} <= set(invoice)
    assert links[("post", "/customers")]["createInvoice"]["requestBody"] == {
        "customer": "$response.body#/id"
    }
    line = links[("post", "/invoices/{ref}/lines")]["updateInvoiceLine"]
    assert line["parameters"]["path.line_ref"] == "$response.body#/line_id"
    # every create on a collection links somewhere
    assert all(links[("post", p)] for (m, p) in links if "{" not in p)
