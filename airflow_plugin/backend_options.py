"""The backend's kwargs: the amazon provider's, plus ours, with defaults and parsing.

Airflow passes ``backend_kwargs`` (JSON) as Python values, but per-key variables
``AIRFLOW__SECRETS__BACKEND_KWARG__<KEY>`` as raw strings. Strings are read by the
kwarg's type: ``"null"``/``"none"`` -> None; booleans, numbers and JSON through
:func:`pipeline_secrets.settings.parse_loose`; lists also as ``a,b,c``; plain string
kwargs (prefixes, patterns, ``sep``) stay strings.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pipeline_secrets import settings as _settings

log = logging.getLogger(__name__)

AWS_CONNECTION_KEYS = (
    "region_name",
    "endpoint_url",
    "profile_name",
    "role_arn",
    "assume_role_method",
    "assume_role_kwargs",
    "config_kwargs",
    "verify",
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "api_version",
    "use_ssl",
)


# Other AWS connection extras, passed as they are to the provider's session factory.
AWS_PASSTHROUGH_PREFIXES = ("assume_role_with_",)
AWS_PASSTHROUGH_KEYS = frozenset({"session_kwargs", "service_config"})


def _str_or_none(raw: Any, name: str) -> str | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        return None if raw.strip().lower() in {"null", "none"} else raw
    raise ValueError(f"backend kwarg {name!r} must be a string or null")


def _plain_str(raw: Any, name: str) -> str:
    if not isinstance(raw, str):
        raise ValueError(f"backend kwarg {name!r} must be a string")
    return raw


def _bool(raw: Any, name: str) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str):
        return _settings.parse_bool(raw)
    if isinstance(raw, int):
        return bool(raw)
    raise ValueError(f"backend kwarg {name!r} must be true or false")


def _float(raw: Any, name: str) -> float | None:
    if raw is None:
        return None
    value = _settings.parse_loose(raw) if isinstance(raw, str) else raw
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"backend kwarg {name!r} must be a number")
    if value < 0:
        raise ValueError(f"backend kwarg {name!r} cannot be negative")
    return float(value)


def _mapping(raw: Any, name: str) -> dict[str, Any] | None:
    value = _settings.parse_loose(raw) if isinstance(raw, str) else raw
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ValueError(f"backend kwarg {name!r} must be a JSON object")
    return dict(value)


def _str_list(raw: Any, name: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    if isinstance(raw, str):
        if raw.strip().lower() in {"null", "none", ""}:
            return ()
        return _settings.parse_list(raw)
    if isinstance(raw, list | tuple):
        return tuple(str(item) for item in raw)
    raise ValueError(f"backend kwarg {name!r} must be a list of strings")


def _bool_or_names(raw: Any, name: str) -> bool | tuple[str, ...]:
    """``true``/``false``, or a list of names (JSON list or ``a,b,c``)."""
    value = _settings.parse_loose(raw) if isinstance(raw, str) else raw
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and raw.strip().lower() in {"yes", "no", "on", "off", "1", "0"}:
        return _bool(raw, name)
    return _str_list(value if not isinstance(value, str) else raw, name)


def _loose(raw: Any, name: str) -> Any:
    return _settings.parse_loose(raw) if isinstance(raw, str) else raw


def _verify(raw: Any, name: str) -> bool | str | None:
    value = _loose(raw, name)
    if value is None or isinstance(value, bool | str):
        return value
    raise ValueError(f"backend kwarg {name!r} must be true, false or a CA bundle path")


@dataclass(frozen=True)
class BackendOptions:
    # -- the amazon provider's kwargs --------------------------------------------------
    connections_prefix: str | None = "airflow/connections"
    connections_lookup_pattern: str | None = None
    variables_prefix: str | None = "airflow/variables"
    variables_lookup_pattern: str | None = None
    config_prefix: str | None = "airflow/config"
    config_lookup_pattern: str | None = None
    sep: str = "/"
    extra_conn_words: Mapping[str, list[str]] | None = None
    aws: Mapping[str, Any] = field(default_factory=dict, repr=False)
    # -- ours -------------------------------------------------------------------------
    connections_fallback_prefixes: tuple[str, ...] = ()
    variables_fallback_prefixes: tuple[str, ...] = ()
    config_fallback_prefixes: tuple[str, ...] = ()
    version_stage: str = "AWSCURRENT"
    strict: bool = False
    multi_team: bool | None = None  # None: read [core] multi_team
    connections: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # The provider drops unknown JSON keys and returns {"value": ...} Variables as JSON
    # text; keeping those keys in extra and unwrapping are opt-in.
    unknown_keys_to_extra: bool = False
    rds_metadata_to_extra: bool = False
    variable_value_key: str | None = None
    # Masking (airflow_plugin.masking): values the user marks as secret, on top of
    # passwords and extra fields whose names Airflow treats as sensitive.
    mask_extra_fields: tuple[str, ...] = ()
    mask_variables: bool | tuple[str, ...] = False
    cache_ttl_seconds: float | None = None  # None: core default (300)
    negative_ttl_seconds: float | None = None  # core default 30
    max_stale_seconds: float | None = None  # core default 3600
    fallback_regions: tuple[str, ...] = ()
    region_endpoint_urls: Mapping[str, str] = field(default_factory=dict)
    prefetch: bool = False
    agent_address: str | None = None
    agent_token: str | None = field(default=None, repr=False)
    agent_token_file: str | None = None
    agent_timeout_seconds: float = 2.0
    agent_retry_after_seconds: float = 30.0
    agent_autostart: bool = False
    agent_idle_exit_seconds: float = 900.0
    agent_prefetch: bool = True

    def prefixes(self, kind: str) -> tuple[str | None, ...]:
        """The main prefix of ``kind`` then its fallbacks (empty if the kind is off)."""
        main: str | None = getattr(self, f"{kind}_prefix")
        if main is None:
            return ()
        fallbacks = getattr(self, f"{kind}_fallback_prefixes")
        return (main, *(p.rstrip(self.sep) if p else p for p in fallbacks))


_PARSERS: dict[str, Callable[[Any, str], Any]] = {
    "connections_prefix": _str_or_none,
    "connections_lookup_pattern": _str_or_none,
    "variables_prefix": _str_or_none,
    "variables_lookup_pattern": _str_or_none,
    "config_prefix": _str_or_none,
    "config_lookup_pattern": _str_or_none,
    "sep": _plain_str,
    "extra_conn_words": _mapping,
    "connections_fallback_prefixes": _str_list,
    "variables_fallback_prefixes": _str_list,
    "config_fallback_prefixes": _str_list,
    "version_stage": _plain_str,
    "strict": _bool,
    "multi_team": lambda raw, name: None if _loose(raw, name) is None else _bool(raw, name),
    "connections": _mapping,
    "unknown_keys_to_extra": _bool,
    "rds_metadata_to_extra": _bool,
    "variable_value_key": _str_or_none,
    "mask_extra_fields": _str_list,
    "mask_variables": _bool_or_names,
    "cache_ttl_seconds": _float,
    "negative_ttl_seconds": _float,
    "max_stale_seconds": _float,
    "fallback_regions": _str_list,
    "region_endpoint_urls": _mapping,
    "prefetch": _bool,
    "agent_address": _str_or_none,
    "agent_token": _str_or_none,
    "agent_token_file": _str_or_none,
    "agent_timeout_seconds": _float,
    "agent_retry_after_seconds": _float,
    "agent_autostart": _bool,
    "agent_idle_exit_seconds": _float,
    "agent_prefetch": _bool,
}
_AWS_PARSERS: dict[str, Callable[[Any, str], Any]] = {
    "assume_role_kwargs": _mapping,
    "config_kwargs": _mapping,
    "verify": _verify,
    "use_ssl": lambda raw, name: None if _loose(raw, name) is None else _bool(raw, name),
}


# The amazon provider's positional parameters, in its order.
POSITIONAL_KWARGS = (
    "connections_prefix",
    "connections_lookup_pattern",
    "variables_prefix",
    "variables_lookup_pattern",
    "config_prefix",
    "config_lookup_pattern",
    "sep",
    "extra_conn_words",
)


def positional_kwargs(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Merge positional arguments into kwargs the way the provider's signature binds them."""
    if len(args) > len(POSITIONAL_KWARGS):
        raise TypeError(
            f"SecretsManagerBackend takes at most {len(POSITIONAL_KWARGS)} positional "
            f"arguments ({', '.join(POSITIONAL_KWARGS)}), {len(args)} given"
        )
    merged = dict(kwargs)
    for name, value in zip(POSITIONAL_KWARGS, args, strict=False):
        if name in kwargs:
            raise TypeError(f"SecretsManagerBackend got multiple values for argument {name!r}")
        merged[name] = value
    return merged


_SESSION_KEY_NAMES = ("aws_access_key_id", "aws_secret_access_key", "aws_session_token")


def _lift_session_kwargs_keys(aws: dict[str, Any]) -> None:
    """Keys given in ``session_kwargs`` (deprecated in the provider, still read by it)
    are used when not given at the top level, as the provider's connection wrapper does."""
    session_kwargs = aws.get("session_kwargs")
    if not isinstance(session_kwargs, Mapping) or aws.get("aws_access_key_id"):
        return
    for name in _SESSION_KEY_NAMES:
        if session_kwargs.get(name):
            aws[name] = session_kwargs[name]


def parse_options(kwargs: Mapping[str, Any]) -> BackendOptions:
    """Validate and convert backend kwargs. Unknown kwargs are logged and ignored."""
    values: dict[str, Any] = {}
    aws: dict[str, Any] = {}
    for name, raw in kwargs.items():
        if name in _PARSERS:
            values[name] = _PARSERS[name](raw, name)
        elif name in AWS_CONNECTION_KEYS:
            parser = _AWS_PARSERS.get(name, _str_or_none)
            value = parser(raw, name)
            if value is not None:
                aws[name] = value
        elif name.startswith(AWS_PASSTHROUGH_PREFIXES) or name in AWS_PASSTHROUGH_KEYS:
            # Read by the amazon provider's session factory (SAML, web identity ...).
            value = _loose(raw, name)
            if value is not None:
                aws[name] = value
        else:
            log.warning("SecretsManagerBackend: ignoring unknown backend kwarg %r", name)
    _lift_session_kwargs_keys(aws)
    sep = values.get("sep", "/")
    for kind in ("connections", "variables", "config"):
        key = f"{kind}_prefix"
        if values.get(key):
            values[key] = values[key].rstrip(sep)  # as the provider does
    if values.get("region_endpoint_urls") is None:
        values.pop("region_endpoint_urls", None)
    for name in ("agent_timeout_seconds", "agent_retry_after_seconds", "agent_idle_exit_seconds"):
        if name in values and values[name] is None:
            del values[name]
    values["agent_address"] = _settings.resolve(
        "agent_address", values.get("agent_address"), None, str
    )
    connections = values.get("connections") or {}
    for conn_id, spec in connections.items():
        if not isinstance(spec, Mapping):
            raise ValueError(f"backend kwarg 'connections': entry {conn_id!r} must be an object")
    return BackendOptions(aws=aws, **values)
