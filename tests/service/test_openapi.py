"""The OpenAPI document describes the API as the server behaves: readable operation ids, every
refusal as problem+json, the API-key schemes, the PDF, the accepted values; and the docs pages
load nothing from outside this server."""

from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate

from adapters.app.context import LONG_POLL_MAX_SECONDS, Services
from domain.package import FREQUENCIES
from tests.helpers import event_count
from tests.service.conftest import ok

CAMEL_CASE = re.compile(r"[a-z]+(?:[A-Z][a-z0-9]*)*")
EXTERNAL_URL = re.compile(r"""(?:https?:)?//[A-Za-z0-9.-]+""")
UNAUTHENTICATED = {"/health", "/health/live"}


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
        [declared] = [kind for kind in frequency["anyOf"] if kind.get("type") == "string"]
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
