"""Backend kwargs: the provider's defaults, env-string parsing, validation."""

from __future__ import annotations

import pytest

from airflow_plugin.backend_options import POSITIONAL_KWARGS, parse_options, positional_kwargs


def test_defaults_match_the_provider() -> None:
    o = parse_options({})
    assert (o.connections_prefix, o.variables_prefix, o.config_prefix) == (
        "airflow/connections",
        "airflow/variables",
        "airflow/config",
    )
    assert o.sep == "/" and o.version_stage == "AWSCURRENT" and not o.strict
    assert o.agent_address is None and not o.agent_autostart and not o.prefetch
    # The provider drops unknown keys and returns {"value": ...} Variables as JSON text.
    assert o.unknown_keys_to_extra is False and o.variable_value_key is None
    assert o.mask_extra_fields == () and o.mask_variables is False


def test_positional_arguments_bind_in_the_providers_order() -> None:
    args = ("c", "^a", "v")
    merged = positional_kwargs(args, {"sep": ":"})
    assert merged == {**dict(zip(POSITIONAL_KWARGS, args, strict=False)), "sep": ":"}
    with pytest.raises(TypeError, match="multiple values for argument 'connections_prefix'"):
        positional_kwargs(("c",), {"connections_prefix": "x"})
    with pytest.raises(TypeError, match="at most 8 positional"):
        positional_kwargs(tuple("abcdefghi"), {})


def test_session_kwargs_keys_are_used_when_not_given_at_top_level() -> None:
    keys = {"aws_access_key_id": "sk", "aws_secret_access_key": "ss"}
    assert parse_options({"session_kwargs": keys}).aws["aws_access_key_id"] == "sk"
    top = parse_options({"session_kwargs": keys, "aws_access_key_id": "top"})
    assert top.aws["aws_access_key_id"] == "top"


def test_env_strings() -> None:
    o = parse_options(
        {
            "connections_prefix": "NULL",
            "variables_prefix": "vars//",
            "sep": "/",
            "config_lookup_pattern": "none",
            "strict": "yes",
            "cache_ttl_seconds": "12.5",
            "negative_ttl_seconds": "null",
            "connections": '{"x": {"secret_id": "rds!db-1", "port": 5432}}',
            "connections_fallback_prefixes": '["a", "b/"]',
            "region_name": "eu-west-1",
            "verify": "false",
            "config_kwargs": '{"read_timeout": 2}',
            "use_ssl": "true",
        }
    )
    assert o.connections_prefix is None and o.prefixes("connections") == ()
    assert o.variables_prefix == "vars"
    assert o.config_lookup_pattern is None and o.strict is True
    assert o.cache_ttl_seconds == 12.5 and o.negative_ttl_seconds is None
    assert o.connections == {"x": {"secret_id": "rds!db-1", "port": 5432}}
    assert o.aws == {
        "region_name": "eu-west-1",
        "verify": False,
        "config_kwargs": {"read_timeout": 2},
        "use_ssl": True,
    }
    assert parse_options({"connections_fallback_prefixes": '["a", "b/"]'}).prefixes(
        "connections"
    ) == ("airflow/connections", "a", "b")


def test_string_kwargs_stay_strings() -> None:
    o = parse_options({"connections_prefix": "123", "sep": "_"})
    assert o.connections_prefix == "123" and o.sep == "_"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cache_ttl_seconds": "-1"}, "negative"),
        ({"strict": "maybe"}, "true/false"),
        ({"connections": '["x"]'}, "JSON object"),
        ({"connections": {"x": "rds!db"}}, "entry 'x'"),
        ({"verify": "[1]"}, "CA bundle"),
    ],
)
def test_invalid_values(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_options(kwargs)


def test_unknown_kwargs_are_logged_not_fatal(caplog: pytest.LogCaptureFixture) -> None:
    parse_options({"full_url_mode": "false"})
    assert "ignoring unknown backend kwarg 'full_url_mode'" in caplog.text


def test_agent_address_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIPELINE_SECRETS_AGENT_ADDRESS", "unix:/run/ps/agent.sock")
    assert parse_options({}).agent_address == "unix:/run/ps/agent.sock"
    assert parse_options({"agent_address": "http://127.0.0.1:1"}).agent_address == (
        "http://127.0.0.1:1"
    )
