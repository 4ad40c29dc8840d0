"""Connection settings: parsed from TOML/JSON, secrets from the environment, never shown."""

from __future__ import annotations

import pytest

from adapters.accounting.config import choose, load_connections, parse_connections
from adapters.config import ConfigError


def test_secrets_come_from_the_environment_and_never_show_in_reprs(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(
        '[connections.books]\nsystem = "clearbooks"\napi_key = "env:CB_KEY"\n', encoding="utf-8"
    )

    connections = load_connections({"TOLLBOOK_CONNECTIONS": str(path), "CB_KEY": "top-secret"})

    books = connections["books"]
    assert books.api_key.get_secret_value() == "top-secret"
    assert "top-secret" not in repr(books) and "top-secret" not in str(books.model_dump())
    assert books.mapping.sales_account == "1001001"  # the system's default mapping


def test_a_secret_naming_an_unset_variable_is_a_clear_error():
    with pytest.raises(ConfigError, match=r"books.api_key reads \$NOPE, which is not set"):
        parse_connections({"books": {"system": "clearbooks", "api_key": "env:NOPE"}}, {})


def test_an_unknown_system_or_setting_is_refused_with_the_connection_named():
    with pytest.raises(ConfigError, match=r"connection 'x'.*system"):
        parse_connections({"x": {"system": "sage"}}, {})
    with pytest.raises(ConfigError, match=r"connection 'x'.*colour"):
        parse_connections({"x": {"system": "xero", "colour": "blue"}}, {})


def test_mapping_entries_override_the_defaults_and_rates_match_in_any_spelling():
    [xero] = parse_connections(
        {"x": {"system": "xero", "mapping": {"tax_types": {"20.0": "TAX20"}}}}, {}
    ).values()
    from decimal import Decimal

    assert xero.mapping.tax_type_for(Decimal("20.00")) == "TAX20"
    assert xero.mapping.account_for("usage") == "200"


def test_choose_picks_every_connection_of_a_system_or_the_named_one():
    connections = parse_connections(
        {"a": {"system": "xero"}, "b": {"system": "xero"}, "c": {"system": "freshbooks"}}, {}
    )
    assert [c.name for c in choose(connections, "xero", None)] == ["a", "b"]
    assert [c.name for c in choose(connections, "freshbooks", "c")] == ["c"]
    with pytest.raises(ConfigError, match="no connection named 'z'"):
        choose(connections, "xero", "z")


def test_inline_json_in_the_environment_works_and_bad_json_is_explained():
    assert list(load_connections({"TOLLBOOK_CONNECTIONS": '{"a": {"system": "xero"}}'})) == ["a"]
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_connections({"TOLLBOOK_CONNECTIONS": "{nope"})
