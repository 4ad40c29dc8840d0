"""What the fake Xero checks every request body against.

Always: the official xero-python SDK's own models (``xero_python.accounting.models``). Each body
is read the way the SDK reads Xero's JSON, key by key through the model's ``attribute_map`` and
``openapi_types``: an unknown key, a value of the wrong type, an enum value Xero does not define
(a Status, a LineAmountTypes, a Type) is a violation. The SDK's own deserialiser skips unknown keys
silently, so the walk below looks for them itself.

Additionally, when ``TOLLBOOK_XERO_OPENAPI`` names Xero's official OpenAPI document, every
request is also validated against it with openapi-core. The document is not in the repository
(a user's clone must pass without it); CI points the variable at the shared specs folder and
``.ci/run`` fails when CI=true and the file is missing.
"""

from __future__ import annotations

import os
import warnings
from enum import Enum
from functools import cache
from pathlib import Path
from typing import Any

from xero_python.accounting import models as xero_models
from xero_python.api_client import ModelFinder
from xero_python.api_client.deserializer import LIST_DATA_TYPE, deserialize

OPENAPI_ENV = "TOLLBOOK_XERO_OPENAPI"

# The envelope model of each collection a write sends, as the SDK's AccountingApi declares
# its body parameter (create_invoices(invoices: Invoices), create_payment(payment: Payment)...).
ENVELOPES = {
    "Contacts": "Contacts",
    "Invoices": "Invoices",
    "CreditNotes": "CreditNotes",
    "Payments": "Payments",
    "Allocations": "Allocations",
    "BankTransactions": "BankTransactions",
}
_FINDER = ModelFinder(xero_models)


def _walk(data_type: str, data: Any, where: str) -> list[str]:
    """Unknown keys under ``where``, recursively (the deserialiser checks the values)."""
    listed = LIST_DATA_TYPE.match(data_type)
    if listed:
        if not isinstance(data, list):
            return [f"{where}: expected a list, got {type(data).__name__}"]
        return [
            p for i, item in enumerate(data) for p in _walk(listed.group(1), item, f"{where}[{i}]")
        ]
    model = getattr(xero_models, data_type, None)
    if model is None or (isinstance(model, type) and issubclass(model, Enum)):
        return []
    if not isinstance(data, dict):
        return [f"{where}: expected an object for {data_type}, got {type(data).__name__}"]
    by_key = {key: attr for attr, key in model.attribute_map.items()}
    problems = [
        f"{where}.{key}: not a field of the SDK's {data_type}" for key in data if key not in by_key
    ]
    for key, value in data.items():
        attr = by_key.get(key)
        if attr is not None and value is not None:
            problems += _walk(model.openapi_types[attr], value, f"{where}.{key}")
    return problems


def sdk_violations(model_name: str, body: Any) -> str:
    """Why ``body`` is not a valid ``model_name`` for the xero-python SDK ("" if it is)."""
    problems = _walk(model_name, body, model_name)
    if not problems:
        try:
            deserialize(model_name, body, _FINDER)
        except (ValueError, TypeError, ArithmeticError) as error:
            problems.append(f"{model_name}: {error}")
    return "; ".join(problems)


def model_for(method: str, parts: list[str], body: Any) -> str | None:
    """The SDK model a write's body must be, from its path (None for reads and unknown paths)."""
    if method not in ("PUT", "POST") or not parts:
        return None
    name = parts[-1] if parts[-1] in ENVELOPES else parts[0]
    if parts[0] == "Payments" and len(parts) == 2:
        return "PaymentDelete"  # delete_payment(payment_delete: PaymentDelete)
    if name == "Payments" and isinstance(body, dict) and "Payments" not in body:
        return "Payment"  # create_payment sends one Payment, not the envelope
    return ENVELOPES.get(name)


def openapi_document_path() -> Path | None:
    """The OpenAPI document named by the environment, or None when none is named."""
    named = os.environ.get(OPENAPI_ENV)
    if not named:
        return None
    path = Path(named)
    if not path.is_file():
        # Named but missing is a broken set-up, never a silent skip of the stricter check.
        raise FileNotFoundError(f"{OPENAPI_ENV}={named} does not name a file")
    return path


def _drop_read_only(node: Any) -> None:
    # The SDK sends read-only fields such as HasAttachments back; Xero ignores them.
    if isinstance(node, dict):
        node.pop("readOnly", None)
        for value in node.values():
            _drop_read_only(value)
    elif isinstance(node, list):
        for value in node:
            _drop_read_only(value)


@cache
def _openapi_document(path: Path) -> dict[str, Any]:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with path.open(encoding="utf-8") as handle:
        document: dict[str, Any] = yaml.load(handle, Loader=loader)
    _drop_read_only(document)
    return document


def openapi_validator(base_url: str) -> Any | None:
    """An openapi-core validator for requests to ``base_url``, or None without a document."""
    path = openapi_document_path()
    if path is None:
        return None
    from openapi_core import Config, OpenAPI

    document = dict(_openapi_document(path))
    document["servers"] = [{"url": base_url}]
    return OpenAPI.from_dict(document, config=Config(spec_validator_cls=None))


def openapi_violations(validator: Any, request: Any) -> str:
    try:
        with warnings.catch_warnings():
            # openapi-core cannot check OAuth2 itself (the fake does): no noise.
            warnings.simplefilter("ignore", UserWarning)
            validator.validate_request(request)
    except Exception as error:  # openapi-core raises several error types
        detail = "; ".join(str(e) for e in getattr(error, "schema_errors", []) or [])
        return f"{type(error).__name__}: {error} {detail}".strip()
    return ""
