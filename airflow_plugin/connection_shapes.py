"""Secret text -> the serialized Airflow Connection the backend returns.

No Airflow import here. For every secret the amazon provider's backend understands,
the result deserializes to the same Connection fields; where that backend loses data
we keep it:

* URI strings are returned unchanged (Airflow parses them).
* JSON objects: the provider's key aliases, with its first-match-in-secret-order rule
  and ``extra_conn_words``, give login/password/host/port/schema/conn_type/extra.
  On top of that: ``dbname`` becomes ``schema`` when no alias key is present; an RDS engine
  name that supplied ``conn_type`` is mapped to the Airflow conn_type (postgres,
  aurora-postgresql -> postgres; mysql, aurora-mysql, mariadb -> mysql; redshift;
  oracle; sqlserver* -> mssql); keys nobody reads go into ``extra`` (RDS rotation
  metadata such as ``dbClusterIdentifier`` only when asked: DB-API hooks pass every
  extra to the driver); ``ssl: true`` of a PostgreSQL secret becomes
  ``extra.sslmode = "require"``.
* ``defaults`` (a base connection from the backend kwargs, for RDS-managed secrets
  that hold only username and password) fill fields the secret leaves empty.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from pipeline_secrets.engines import canonical_engine, engine_info
from pipeline_secrets.errors import SecretFormatError
from pipeline_secrets.model import parse_json_object

log = logging.getLogger(__name__)

# The amazon provider's aliases, in its order.
BASE_WORDS: dict[str, tuple[str, ...]] = {
    "login": ("login", "user", "username", "user_name"),
    "password": ("password", "pass", "key"),
    "host": ("host", "remote_host", "server"),
    "port": ("port",),
    "schema": ("database", "schema"),
    "conn_type": ("conn_type", "conn_id", "connection_type", "engine"),
    "extra": ("extra",),
}
CONNECTION_FIELDS = ("conn_type", "host", "login", "password", "schema", "port", "extra")
DBNAME_KEYS = ("dbname",)
# Keys AWS writes into RDS/Aurora/Redshift/DocumentDB rotation secrets.
RDS_METADATA_KEYS = frozenset(
    {
        "dbInstanceIdentifier",
        "dbClusterIdentifier",
        "namespaceName",
        "masterarn",
        "proxyName",
        "ssl",
        "engine",
    }
)


def word_lists(extra_conn_words: Mapping[str, list[str]] | None) -> dict[str, tuple[str, ...]]:
    """The alias lists extended the way the provider extends them (``user`` -> login)."""
    words = {name: list(aliases) for name, aliases in BASE_WORDS.items()}
    for conn_field, extra_words in (extra_conn_words or {}).items():
        target = "login" if conn_field == "user" else conn_field
        if target not in words:
            raise ValueError(
                f"extra_conn_words: unknown connection field {conn_field!r} "
                f"(expected one of {', '.join(['user', *words])})"
            )
        words[target].extend(str(w) for w in extra_words)
    return {name: tuple(aliases) for name, aliases in words.items()}


def standardize(secret: Mapping[str, Any], words: Mapping[str, tuple[str, ...]]) -> dict[str, Any]:
    """Exactly the provider's ``_standardize_secret_keys``: first key, in secret order."""
    return {
        conn_field: next((v for k, v in secret.items() if k in aliases), None)
        for conn_field, aliases in words.items()
    }


def airflow_conn_type(engine: str) -> str | None:
    """The Airflow conn_type for an RDS engine name, None if the name is not an engine."""
    canonical = canonical_engine(engine)
    return engine_info(canonical).airflow_conn_type if canonical else None


def connection_dict(
    secret: Mapping[str, Any],
    *,
    secret_id: str,
    words: Mapping[str, tuple[str, ...]],
    unknown_keys_to_extra: bool = True,
    rds_metadata_to_extra: bool = False,
    defaults: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The connection fields for a JSON secret (values may be None)."""
    conn = standardize(secret, words)
    used = {k for aliases in words.values() for k in aliases if k in secret}

    # conn_type supplied by an RDS engine name: map it to the hook's conn_type.
    conn_key = next((k for k in secret if k in words["conn_type"]), None)
    if conn_key == "engine" and isinstance(conn["conn_type"], str):
        mapped = airflow_conn_type(conn["conn_type"])
        if mapped:
            conn["conn_type"] = mapped
    if conn["schema"] is None:
        for key in DBNAME_KEYS:
            if secret.get(key) not in (None, ""):
                conn["schema"] = secret[key]
                break
    used.update(k for k in DBNAME_KEYS if k in secret)

    extra = _extra_dict(conn["extra"], secret_id)
    leftovers: dict[str, Any] = {}
    for key, value in secret.items():
        if key in used:
            continue
        if key == "ssl" and _is_postgres(conn["conn_type"]):
            if _truthy(value):
                leftovers.setdefault("sslmode", "require")
            continue
        if key in RDS_METADATA_KEYS and not rds_metadata_to_extra:
            continue
        if unknown_keys_to_extra:
            leftovers[key] = value
    if leftovers:
        if extra is None and isinstance(conn["extra"], str) and conn["extra"].strip():
            # Keep the provider's result: the extra string as it is.
            log.warning(
                "secret %r: field 'extra' is not a JSON object, so keys %s cannot be added "
                "to it; they are dropped",
                secret_id,
                ", ".join(repr(k) for k in sorted(leftovers)),
            )
        else:
            merged = dict(leftovers)
            merged.update(extra or {})  # the secret's own extra wins
            conn["extra"] = merged

    for name, value in (defaults or {}).items():
        if name not in CONNECTION_FIELDS:
            continue
        if name == "extra":
            base = _extra_dict(value, secret_id) or {}
            current = _extra_dict(conn["extra"], secret_id) or {}
            conn["extra"] = {**base, **current} if (base or current) else conn["extra"]
        elif conn.get(name) in (None, ""):
            conn[name] = value
    return conn


def connection_json(conn: Mapping[str, Any]) -> str:
    """Serialize for Airflow's ``Connection.from_json``."""
    return json.dumps(dict(conn))


def parse_connection_secret(text: str, secret_id: str) -> dict[str, Any] | None:
    """The JSON object in a connection secret, or None when it is a URI."""
    if not text.strip().startswith("{"):
        return None
    return parse_json_object(text, secret_id)


def _extra_dict(extra: Any, secret_id: str) -> dict[str, Any] | None:
    if extra is None or extra == "":
        return None
    if isinstance(extra, Mapping):
        return dict(extra)
    if isinstance(extra, str):
        try:
            parsed = json.loads(extra)
        except ValueError:
            return None
        return dict(parsed) if isinstance(parsed, dict) else None
    raise SecretFormatError(
        secret_id, "extra", f"must be an object or a string, not {type(extra).__name__}"
    )


def _is_postgres(conn_type: Any) -> bool:
    return isinstance(conn_type, str) and conn_type.lower() in {"postgres", "postgresql"}


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on", "require"}
    return bool(value)
