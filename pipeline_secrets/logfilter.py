"""A logging filter that keeps secret values out of botocore's DEBUG wire logs.

With botocore at DEBUG (``boto3.set_stream_logger('')``, Airflow's debug logging),
``botocore.parsers`` logs every response body - GetSecretValue and
BatchGetSecretValue bodies hold ``SecretString``/``SecretBinary``, GetRandomPassword's
holds ``RandomPassword``, STS AssumeRole's ``SecretAccessKey``/``SessionToken`` - and
``botocore.endpoint`` logs request parameters, whose bodies hold the values sent by
CreateSecret/PutSecretValue/UpdateSecret. :func:`install` puts
:class:`SecretValueFilter` on those loggers; :class:`pipeline_secrets.client.ClientFactory`
installs it before it builds any client, so every boto3 client of the project is covered.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Mapping
from typing import Any

REDACTED = "***"
SECRET_FIELDS = frozenset(
    {"SecretString", "SecretBinary", "RandomPassword", "SecretAccessKey", "SessionToken"}
)
# Loggers that may print request or response bodies.
WIRE_LOGGERS = (
    "botocore.parsers",
    "botocore.endpoint",
    "botocore.awsrequest",
    "botocore.httpsession",
    "botocore.hooks",
    "botocore.retryhandler",
    "botocore.auth",
    "botocore.client",
    "urllib3.connectionpool",
)
# Last resort for text we cannot parse: from the field name to the end of the line.
_FIELD_ANYWHERE = re.compile(
    r"(?P<key>\\*[\"']?(?:" + "|".join(sorted(SECRET_FIELDS)) + r")\\*[\"']?)[^\n]*"
)
_lock = threading.Lock()
_installed = False


class SecretValueFilter(logging.Filter):
    """Rewrites records whose arguments or message carry secret values. Never drops one."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True  # a broken record is the logging module's business
        if not any(name in message for name in SECRET_FIELDS):
            return True
        if record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            record.args = tuple(_redact_object(arg) for arg in args)
        if isinstance(record.msg, str | bytes):
            record.msg = _redact_object(record.msg)
        try:
            message = record.getMessage()
        except Exception:
            message = str(record.msg)
        if _has_value(message):
            record.msg, record.args = _FIELD_ANYWHERE.sub(r"\g<key>: " + REDACTED, message), ()
        return True


def _has_value(message: str) -> bool:
    for match in _FIELD_ANYWHERE.finditer(message):
        rest = match.group(0)[len(match.group("key")) :].lstrip(" :=\\\"'")
        if rest and not rest.startswith(REDACTED):
            return True
    return False


def _redact_object(value: Any) -> Any:
    if isinstance(value, bytes):
        if not any(name.encode() in value for name in SECRET_FIELDS):
            return value
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            return b"<body with a secret value, not shown>"
        redacted = _redact_json_text(text)
        return redacted.encode("utf-8") if redacted is not None else b"<body not shown>"
    if isinstance(value, str):
        if not any(name in value for name in SECRET_FIELDS):
            return value
        redacted = _redact_json_text(value)
        return redacted if redacted is not None else value
    if isinstance(value, Mapping):
        return {key: _redact_field(key, item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_redact_object(item) for item in value)
    return value


def _redact_field(key: Any, value: Any) -> Any:
    if key in SECRET_FIELDS and value is not None:
        return REDACTED
    return _redact_object(value)


def _redact_json_text(text: str) -> str | None:
    """The JSON document with secret fields replaced, or None if it is not JSON."""
    try:
        document = json.loads(text)
    except ValueError:
        return None
    return json.dumps(_redact_object(document))


def install() -> SecretValueFilter:
    """Put the filter on botocore's wire loggers (idempotent). Returns the filter."""
    global _installed
    with _lock:
        if not _installed:
            for name in WIRE_LOGGERS:
                logging.getLogger(name).addFilter(_FILTER)
            _installed = True
    return _FILTER


def uninstall() -> None:
    global _installed
    with _lock:
        for name in WIRE_LOGGERS:
            logging.getLogger(name).removeFilter(_FILTER)
        _installed = False


_FILTER = SecretValueFilter()
