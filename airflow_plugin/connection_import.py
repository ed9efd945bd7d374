"""Airflow-format connections (URI, JSON, export entries) -> the connection JSON our
backend serves, for importing them into Secrets Manager (``pipeline-secrets migrate``).

URIs are parsed by Airflow's own ``Connection`` where Airflow is installed (so
``__extra__``, typed query values and scheme rules follow the installed Airflow), and
by a stdlib parser that follows the same rules where it is not. Choose with
``parser=`` or ``PIPELINE_SECRETS_CONNECTION_PARSER`` (``auto``, ``airflow``,
``stdlib``). Errors name the conn id, never a value: Airflow's own exceptions (which
can quote the URI) are replaced, not chained.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sys
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from airflow_plugin.connection_shapes import CONNECTION_FIELDS
from pipeline_secrets.settings import resolve

PARSERS = ("auto", "airflow", "stdlib")
# Airflow 3's conn id rule (airflow.models.connection.sanitize_conn_id): 1-250
# characters of word characters, ``#!()-.:/\`` and inner spaces.
_CONN_ID = re.compile(r"^[\w#!()\-.:/\\][\w#!()\-.:/\\ ]{0,249}$")
# What a Secrets Manager name may hold (the conn id becomes part of one).
_SECRET_NAME_CHARS = re.compile(r"^[A-Za-z0-9/_+=.@\-]+$")


class ConnectionInputError(ValueError):
    """A connection could not be read. Names the item and where it came from, never
    its value."""


def validate_conn_id(conn_id: str, where: str) -> str:
    """``conn_id`` if Airflow accepts it and it can be part of a secret name. An invalid
    id is not repeated in the error (it may be part of a value: a line that was split
    in the wrong place); ``where`` (``path:line``, ``env NAME``) says which one."""
    if not _CONN_ID.match(conn_id):
        raise ConnectionInputError(f"{where}: not a valid Airflow conn id")
    if not _SECRET_NAME_CHARS.match(conn_id):
        raise ConnectionInputError(
            f"{where}: the conn id has characters a Secrets Manager name cannot hold"
        )
    return conn_id


def choose_parser(parser: str | None = None) -> str:
    chosen = resolve("connection_parser", parser, "auto", _parse_parser)
    if chosen == "auto":
        return "airflow" if _airflow_connection_class() is not None else "stdlib"
    return chosen


def _parse_parser(raw: str) -> str:
    if raw not in PARSERS:
        raise ValueError(f"expected one of {', '.join(PARSERS)}")
    return raw


def connection_from_uri(uri: str, conn_id: str, parser: str | None = None) -> dict[str, Any]:
    """Airflow's URI format: ``type://login:password@host:port/schema?extra=..``."""
    if choose_parser(parser) == "airflow":
        return _from_uri_with_airflow(uri, conn_id)
    return _from_uri_stdlib(uri, conn_id)


def connection_from_value(value: Any, conn_id: str, parser: str | None = None) -> dict[str, Any]:
    """A connection from an env value or export entry: a URI, JSON text or a mapping."""
    if isinstance(value, Mapping):
        return _clean_connection(dict(value), conn_id, parser)
    if not isinstance(value, str):
        raise ConnectionInputError(f"connection {conn_id!r}: expected a URI or a JSON object")
    text = value.strip()
    if text.startswith("{"):
        try:
            loaded = json.loads(text)
        except ValueError:
            raise ConnectionInputError(f"connection {conn_id!r}: not valid JSON") from None
        return connection_from_value(loaded, conn_id, parser)
    return connection_from_uri(text, conn_id, parser)


# -- Airflow's parser ----------------------------------------------------------------------
def _airflow_connection_class() -> Any:
    """Airflow's Connection, imported with its logging set-up kept off stdout and the
    root logger as it was (importing Airflow configures logging)."""
    if "airflow.models.connection" in sys.modules:
        return sys.modules["airflow.models.connection"].Connection
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            from airflow.models.connection import Connection
    except Exception:  # not installed, or an Airflow that cannot start here
        return None
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    return Connection


def _from_uri_with_airflow(uri: str, conn_id: str) -> dict[str, Any]:
    connection_class = _airflow_connection_class()
    if connection_class is None:
        raise ConnectionInputError("Airflow is not installed: use the stdlib parser")
    if "://" not in uri:
        raise ConnectionInputError(f"connection {conn_id!r}: the URI has no scheme")
    try:
        with contextlib.redirect_stdout(sys.stderr):
            conn = connection_class(conn_id=conn_id, uri=uri)
            extra = conn.extra_dejson if conn.extra else None
            port = conn.port
    except Exception:  # Airflow's messages can quote the URI: never chain them
        raise ConnectionInputError(f"connection {conn_id!r}: not a valid URI") from None
    return _clean_connection(
        {
            "conn_type": conn.conn_type,
            "host": conn.host,
            "login": conn.login,
            "password": conn.password,
            "schema": conn.schema,
            "port": port,
            "extra": extra,
        },
        conn_id,
    )


# -- stdlib parser (Airflow's rules) -------------------------------------------------------
def _from_uri_stdlib(uri: str, conn_id: str) -> dict[str, Any]:
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        raise ConnectionInputError(f"connection {conn_id!r}: not a valid URI") from None
    if not parts.scheme or "://" not in uri:
        raise ConnectionInputError(f"connection {conn_id!r}: the URI has no scheme")
    conn_type = parts.scheme.replace("-", "_")
    if conn_type == "postgresql":
        conn_type = "postgres"
    query = parse_qsl(parts.query, keep_blank_values=True)
    extra: Any = None
    if query:
        pairs = dict(query)
        if "__extra__" in pairs:
            try:
                extra = json.loads(pairs["__extra__"])
            except ValueError:
                raise ConnectionInputError(
                    f"connection {conn_id!r}: __extra__ is not valid JSON"
                ) from None
        else:
            # As Airflow 3 does: values that parse as JSON (numbers, booleans) are typed.
            extra = {key: _json_or_text(value) for key, value in pairs.items()}
    return _clean_connection(
        {
            "conn_type": conn_type,
            "host": unquote(parts.hostname) if parts.hostname else None,
            "login": unquote(parts.username) if parts.username else None,
            "password": unquote(parts.password) if parts.password is not None else None,
            "schema": unquote(parts.path.lstrip("/")) or None,
            "port": port,
            "extra": extra,
        },
        conn_id,
    )


def _json_or_text(value: str) -> Any:
    if not value:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _clean_connection(
    data: dict[str, Any], conn_id: str, parser: str | None = None
) -> dict[str, Any]:
    if "conn_type" not in data and "conn_uri" not in data:
        for alias in ("connection_type", "type"):
            if alias in data:
                data["conn_type"] = data.pop(alias)
    if data.get("uri"):
        return connection_from_uri(str(data["uri"]), conn_id, parser)
    extra = data.get("extra")
    if isinstance(extra, str) and extra.strip():
        try:
            extra = json.loads(extra)
        except ValueError:
            raise ConnectionInputError(f"connection {conn_id!r}: extra is not valid JSON") from None
    port = data.get("port")
    if port not in (None, ""):
        try:
            port = int(port)
        except (TypeError, ValueError):
            raise ConnectionInputError(f"connection {conn_id!r}: port is not a number") from None
    out = {name: data.get(name) for name in CONNECTION_FIELDS}
    out["port"] = port if port not in (None, "") else None
    out["extra"] = extra or None
    if data.get("description"):
        out["description"] = data["description"]
    if not out["conn_type"]:
        raise ConnectionInputError(f"connection {conn_id!r}: no conn_type")
    return {k: v for k, v in out.items() if v not in (None, "")}
