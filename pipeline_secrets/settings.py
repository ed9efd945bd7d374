"""Where every setting comes from, in one place.

Precedence, for every setting of this library (and of the Airflow backend and
glue_lib, which pass their kwargs in as arguments):

1. an explicit argument (a constructor or function keyword, a backend kwarg, a hook's
   own AWS connection, a CLI flag);
2. the environment variable ``PIPELINE_SECRETS_<NAME>`` (upper case);
3. the built-in default.

boto3's own settings (``AWS_REGION``, ``AWS_DEFAULT_REGION``,
``AWS_ENDPOINT_URL_SECRETS_MANAGER``, ``AWS_PROFILE`` ...) keep boto3's meaning and
apply only where neither an argument nor a ``PIPELINE_SECRETS_*`` variable is set.

Which AWS settings, cache and agent a reader uses (the same rule, one level up):

1. what the reader is given: a hook's ``aws_conn_id`` / ``secrets_conn_id``
   connection, ``pipeline_secrets.configure(...)``, a CLI's flags;
2. else, inside Airflow with our secrets backend configured, the backend's: hooks,
   operators and sensors read through the backend's cache (and so its AWS settings
   and agent), and the core front door (``pipeline_secrets.get_secret``, glue_lib's
   helpers) adopts that cache once a hook or operator has resolved it;
3. else the environment: ``PIPELINE_SECRETS_*`` (``PIPELINE_SECRETS_AGENT_ADDRESS``
   reads through an agent), then boto3's defaults.

Every user-facing form of AWS configuration (backend kwargs, AWS connection extras,
CLI flags, the environment) becomes a ``ClientSettings`` through one function,
:func:`client_settings`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from pipeline_secrets.client import ClientSettings

T = TypeVar("T")
ENV_PREFIX = "PIPELINE_SECRETS_"


def env_name(name: str) -> str:
    return ENV_PREFIX + name.upper()


def resolve(
    name: str,
    argument: T | None,
    default: T,
    parse: Callable[[str], T],
    environ: Mapping[str, str] | None = None,
) -> T:
    """Apply the precedence rule to one setting."""
    if argument is not None:
        return argument
    raw = (os.environ if environ is None else environ).get(env_name(name))
    if raw is not None and raw.strip() != "":
        try:
            return parse(raw.strip())
        except ValueError as exc:
            raise ValueError(f"environment variable {env_name(name)} is not valid: {exc}") from None
    return default


def parse_bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"expected true/false, got {raw!r}")


def parse_seconds(raw: str) -> float:
    value = float(raw)
    if value < 0:
        raise ValueError("a duration cannot be negative")
    return value


def parse_list(raw: str) -> tuple[str, ...]:
    """A comma-separated list, or a JSON array."""
    raw = raw.strip()
    if raw.startswith("["):
        loaded = json.loads(raw)
        if not isinstance(loaded, list):
            raise ValueError("expected a JSON array")
        return tuple(str(item) for item in loaded)
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def parse_loose(raw: str) -> Any:
    """Read a string the way a human typing a config value means it.

    ``"null"``/``"none"`` -> None, ``"true"``/``"false"`` -> bool, numbers -> int/float,
    JSON objects and arrays -> dict/list, anything else stays a string.
    """
    text = raw.strip()
    lowered = text.lower()
    if lowered in {"null", "none"}:
        return None
    if lowered in {"true", "false"}:
        return lowered == "true"
    if text[:1] in '[{"' or _looks_numeric(text):
        try:
            return json.loads(text)
        except ValueError:
            return raw
    return raw


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return text.lower() not in {"nan", "inf", "-inf", "infinity", "-infinity"}


# Other names the same setting goes by: CLI flags (argparse dests), the core's own field
# names. (An AWS connection's login/password are passed in as the key names.)
_ALIASES = {
    "region": "region_name",
    "profile": "profile_name",
    "role_arns": "role_arn",
    "fallback_region": "fallback_regions",
    "botocore_config": "config_kwargs",
    "endpoint_urls_by_region": "region_endpoint_urls",
}
CLIENT_SETTING_KEYS = frozenset(
    {
        "region_name",
        "endpoint_url",
        "profile_name",
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
        "role_arn",
        "role_session_name",
        "assume_role_kwargs",
        "config_kwargs",
        "verify",
        "fallback_regions",
        "region_endpoint_urls",
        "use_ssl",
        "api_version",
    }
)


def client_settings(config: Mapping[str, Any] | None = None) -> ClientSettings:
    """The one mapping from user-facing AWS configuration to ``ClientSettings``.

    ``config`` may be backend kwargs, an AWS connection's extras (plus its login and
    password as ``aws_access_key_id`` / ``aws_secret_access_key``), ``vars()`` of
    parsed CLI arguments, or nothing. Keys
    that are not AWS settings are ignored; ``None`` and ``""`` mean "not set", so the
    ``PIPELINE_SECRETS_*`` variables and then boto3's defaults apply. Strings from
    connection forms and environment variables are read as their owners mean them
    (``config_kwargs`` as JSON, ``verify`` as true/false or a CA bundle path, lists
    as comma-separated or JSON).
    """
    from pipeline_secrets.client import ClientSettings

    given: dict[str, Any] = {}
    for key, value in (config or {}).items():
        name = _ALIASES.get(key, key)
        if name in CLIENT_SETTING_KEYS and value not in (None, "", [], ()):
            given.setdefault(name, value)
    botocore = given.get("config_kwargs")
    if isinstance(botocore, str):
        botocore = json.loads(botocore)
    verify = given.get("verify")
    if isinstance(verify, str) and verify.strip().lower() in {"true", "false"}:
        verify = parse_bool(verify)
    role = given.get("role_arn")
    fallbacks = given.get("fallback_regions")
    assume = given.get("assume_role_kwargs")
    if isinstance(assume, str):
        assume = json.loads(assume)
    endpoints = given.get("region_endpoint_urls")
    if isinstance(endpoints, str):
        endpoints = json.loads(endpoints)
    use_ssl = given.get("use_ssl")
    if isinstance(use_ssl, str):
        use_ssl = parse_bool(use_ssl)
    return ClientSettings.create(
        region_name=given.get("region_name"),
        endpoint_url=given.get("endpoint_url"),
        profile_name=given.get("profile_name"),
        aws_access_key_id=given.get("aws_access_key_id"),
        aws_secret_access_key=given.get("aws_secret_access_key"),
        aws_session_token=given.get("aws_session_token"),
        role_arn=role if isinstance(role, str) or role is None else tuple(role),
        role_session_name=given.get("role_session_name"),
        assume_role_kwargs=assume,
        botocore_config=botocore,
        verify=verify,
        fallback_regions=fallbacks
        if isinstance(fallbacks, str) or fallbacks is None
        else tuple(fallbacks),
        endpoint_urls_by_region=endpoints,
        use_ssl=use_ssl,
        api_version=given.get("api_version"),
    )
