"""Where every setting comes from, in one place.

Precedence, for every setting of this library (and of the Airflow backend and
glue_lib, which pass their kwargs in as arguments):

1. an explicit argument (a constructor or function keyword, a backend kwarg);
2. the environment variable ``PIPELINE_SECRETS_<NAME>`` (upper case);
3. the built-in default.

boto3's own settings (``AWS_REGION``, ``AWS_DEFAULT_REGION``,
``AWS_ENDPOINT_URL_SECRETS_MANAGER``, ``AWS_PROFILE`` ...) keep boto3's meaning and
apply only where neither an argument nor a ``PIPELINE_SECRETS_*`` variable is set.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

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
