"""API keys: 401 without a valid key, 403 below the needed scope, hashed storage, actor."""

from __future__ import annotations

import hashlib
import json

from adapters.app.context import Services
from tests.service.conftest import Api, make_customer, ok

PROBLEM = "application/problem+json"


def test_no_key_is_401_with_a_problem_document(client, keys):
    response = client.get("/customers")
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["www-authenticate"].startswith("Bearer")
    body = response.json()
    assert body["status"] == 401 and body["code"] == "unauthorised"
    assert body["type"] == "/problems/unauthorised" and body["instance"] == "/customers"


def test_unknown_and_revoked_keys_are_401(client, keys, services: Services):
    assert Api(client, "tbk_not-a-key").get("/customers").status_code == 401
    assert Api(client, keys["read"]).get("/customers").status_code == 200
    services.api_keys.revoke("read-key")
    response = Api(client, keys["read"]).get("/customers")
    assert response.status_code == 401 and "revoked" in response.json()["detail"]


def test_read_key_cannot_write_and_write_key_cannot_administer(reader, writer, admin):
    refused = reader.post("/customers", {"account_number": "A1", "name": "A"})
    assert refused.status_code == 403
    assert refused.headers["content-type"] == PROBLEM
    assert refused.json()["code"] == "forbidden"
    assert ok(reader.get("/customers")) == []  # nothing was written

    assert writer.patch("/settings", {"company_name": "X"}).status_code == 403
    assert writer.get("/webhooks").status_code == 403
    assert ok(admin.patch("/settings", {"company_name": "Tolls Ltd"}))["company_name"] == (
        "Tolls Ltd"
    )


def test_every_write_records_the_key_name_as_actor(writer, admin, reader):
    make_customer(writer)
    ok(admin.patch("/settings", {"default_tax_rate": "20"}))
    ok(writer.patch("/customers/ACME", {"email": "bills@acme.test", "reason": "new inbox"}))
    history = ok(reader.get("/customers/ACME/history"))
    assert [event["actor"] for event in history] == ["write-key", "write-key"]
    assert history[1]["reason"] == "new inbox"
    events = ok(reader.get("/events"))["events"]
    assert {e["actor"] for e in events} == {"write-key", "admin-key"}


def test_keys_are_stored_only_as_sha256_hashes(keys, services: Services):
    with services.db.connect() as conn:
        rows = conn.execute("SELECT name, scope, key_hash, hint FROM api_keys").fetchall()
    stored = json.dumps([list(row) for row in rows])
    for key in keys.values():
        assert key not in stored
        assert hashlib.sha256(key.encode()).hexdigest() in stored
    assert sorted((row[0], row[1]) for row in rows) == [
        ("admin-key", "admin"),
        ("read-key", "read"),
        ("write-key", "write"),
    ]


def test_apikey_commands_create_list_and_revoke(tollbook, client):
    created = tollbook("apikey", "create", "billing-bot", "--scope", "write", "--json")
    assert created.code == 0, created.err
    key = json.loads(created.out)["key"]
    assert Api(client, key).post(
        "/customers", {"account_number": "B", "name": "B"}
    ).status_code == (201)
    listed = tollbook("apikey", "list", "--json")
    assert [(k["name"], k["scope"], k["revoked_at"]) for k in json.loads(listed.out)] == [
        ("billing-bot", "write", None)
    ]
    assert key not in listed.out
    assert tollbook("apikey", "create", "billing-bot").code == 1  # name taken
    assert tollbook("apikey", "create", "x", "--scope", "root").code == 2
    assert tollbook("apikey", "revoke", "billing-bot").code == 0
    assert Api(client, key).get("/customers").status_code == 401
    assert tollbook("apikey", "revoke", "billing-bot").code == 3
