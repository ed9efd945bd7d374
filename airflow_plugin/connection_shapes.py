"""Secret text -> the serialized Airflow Connection the backend returns.

No Airflow import here. For every secret the amazon provider's backend understands,
the result deserializes to the same Connection fields; where that backend loses data
we keep it:

* URI strings are returned unchanged (Airflow parses them).
* JSON objects: the provider's key aliases (from the core's one table,
  ``pipeline_secrets.credentials.FIELD_ALIASES``), with its first-match-in-secret-order
  rule and ``extra_conn_words``, give login/password/host/port/schema/conn_type/extra.
  Where two of the provider's keys disagree (``user`` and ``username``), the first in the
  secret wins, as in the provider (a warning names both keys; the core refuses such a
  secret). On top of that: a field none of the provider's keys set is read from our
  keys (``dbname`` -> schema, ``hostname``/``endpoint`` -> host, ``passwd`` -> password,
  ``dialect`` -> conn_type), two of which disagreeing is a format error, as in the core;
  an RDS engine name that supplied ``conn_type`` is mapped to the Airflow conn_type
  (postgres, aurora-postgresql -> postgres; mysql, aurora-mysql, mariadb -> mysql;
  redshift; oracle; sqlserver* -> mssql); ``ssl: true`` of a PostgreSQL secret becomes
  ``extra.sslmode = "require"``. Keys nobody reads are dropped, as the provider does,
  or kept in ``extra`` with ``unknown_keys_to_extra`` (RDS rotation metadata such as
  ``dbClusterIdentifier`` only with ``rds_metadata_to_extra``: DB-API hooks pass every
  extra to the driver).
* ``defaults`` (a base connection from the backend kwargs, for RDS-managed secrets
  that hold only username and password) fill fields the secret leaves empty.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from pipeline_secrets.credentials import FIELD_ALIASES, pick_alias
from pipeline_secrets.engine_facts import canonical_engine, engine_info
from pipeline_secrets.errors import SecretFormatError
from pipeline_secrets.model import parse_json_object

log = logging.getLogger(__name__)

# The amazon provider's aliases, in its order, from the core's one alias table.
BASE_WORDS: dict[str, tuple[str, ...]] = {
    **{a.connection_field: a.provider for a in FIELD_ALIASES.values() if a.provider},
    "extra": ("extra",),
}
# Keys only we read (dbname, hostname, passwd ...), per core field, used when none of
# the provider's keys of that field is present.
OUR_WORDS: dict[str, tuple[str, tuple[str, ...]]] = {
    a.connection_field: (name, a.ours)
    for name, a in FIELD_ALIASES.items()
    if a.connection_field and a.ours
}
CONNECTION_FIELDS = ("conn_type", "host", "login", "password", "schema", "port", "extra")
ENGINE_KEYS = ("engine", "dialect")  # conn_type keys that hold an RDS engine name
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


def _warn_provider_order(
    secret: Mapping[str, Any], words: Mapping[str, tuple[str, ...]], secret_id: str
) -> None:
    """Keys of one field that disagree, one of them the provider's: the provider takes its
    first key in the secret's order, and so do we (a drop-in must), but say so."""
    core_names = {a.connection_field: name for name, a in FIELD_ALIASES.items()}
    for conn_field, keys in words.items():
        ours = OUR_WORDS.get(conn_field, ("", ()))[1]
        try:
            pick_alias(secret, core_names.get(conn_field, conn_field), (*keys, *ours), secret_id)
        except SecretFormatError as exc:
            log.warning(
                "%s; the first of them in the secret is used, as the amazon provider does", exc
            )


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
    _warn_provider_order(secret, words, secret_id)
    used = {k for aliases in words.values() for k in aliases if k in secret}
    conn_key = next((k for k in secret if k in words["conn_type"]), None)

    # Fields the provider's keys left empty: our keys (dbname, hostname ...), where two
    # keys that disagree are a format error, as in the core.
    for conn_field, (core_name, keys) in OUR_WORDS.items():
        if conn.get(conn_field) is None:
            key, value = pick_alias(secret, core_name, keys, secret_id)
            if key is not None and value != "":
                conn[conn_field] = value
                if conn_field == "conn_type":
                    conn_key = key
        used.update(k for k in keys if k in secret)

    # conn_type supplied by an RDS engine name: map it to the hook's conn_type.
    if conn_key in ENGINE_KEYS and isinstance(conn["conn_type"], str):
        mapped = airflow_conn_type(conn["conn_type"])
        if mapped:
            conn["conn_type"] = mapped

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
    # A byte-order mark is invisible in editors and consoles: tolerated, as in the core.
    stripped = text.strip().lstrip("\ufeff").strip()
    if not stripped.startswith("{"):
        return None
    return parse_json_object(stripped, secret_id)


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
