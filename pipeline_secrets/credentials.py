"""Database credentials: one typed, immutable object from any secret shape.

Shapes read (detected from the content):

* RDS/Aurora/Redshift/DocumentDB rotation JSON: ``engine``, ``host``, ``port``,
  ``username``, ``password``, ``dbname`` (or ``database``), ``masterarn``,
  ``dbClusterIdentifier``, ``namespaceName``, ``ssl`` ...
* RDS-managed master secrets: only ``username`` and ``password``; host, port and engine
  come from the caller's ``defaults``.
* Airflow connection JSON: ``conn_type``, ``login``, ``password``, ``host``, ``port``,
  ``schema``, ``extra`` (object or JSON string), with the amazon provider's aliases.
* A connection URI: ``postgresql://user:p%40ss@host:5432/db?sslmode=require``.

Keys are read through ``FIELD_ALIASES``, the one alias table (the Airflow backend's
``connection_shapes`` reads it too). Two keys of one field with different values are a
format error naming both. Unknown keys are kept in ``extras``. Errors name the secret
and the field, never a value. ``DBAPI_EXTRAS`` is the one per-driver table of
``connect()`` keywords.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from pipeline_secrets.engine_facts import canonical_engine, engine_info
from pipeline_secrets.errors import SecretFormatError
from pipeline_secrets.model import SecretValue, parse_json_object

SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


@dataclass(frozen=True)
class FieldAliases:
    """The keys that may carry one credential field.

    ``provider``: the amazon provider's backend's keys, in its order (it takes the first
    of them *in the secret's order*); ``ours``: keys only this library reads.
    ``connection_field``: the Airflow Connection field it fills.
    """

    connection_field: str
    provider: tuple[str, ...]
    ours: tuple[str, ...] = ()

    @property
    def keys(self) -> tuple[str, ...]:
        return (*self.provider, *self.ours)


# The one alias table for every secret shape (the Airflow backend reads it too).
FIELD_ALIASES: dict[str, FieldAliases] = {
    "engine": FieldAliases(
        "conn_type", ("conn_type", "conn_id", "connection_type", "engine"), ("dialect",)
    ),
    "host": FieldAliases("host", ("host", "remote_host", "server"), ("hostname", "endpoint")),
    "port": FieldAliases("port", ("port",)),
    "username": FieldAliases("login", ("login", "user", "username", "user_name")),
    "password": FieldAliases("password", ("password", "pass", "key"), ("passwd",)),
    "dbname": FieldAliases("schema", ("database", "schema"), ("dbname", "db")),
    "ssl": FieldAliases("", (), ("ssl", "sslmode", "ssl_mode")),
}
PASSWORD_KEYS = FIELD_ALIASES["password"].keys
_KNOWN_KEYS = {k for aliases in FIELD_ALIASES.values() for k in aliases.keys} | {"extra"}

# Secret extras each DB-API driver accepts, as {secret key: connect() keyword}. The CA
# of a MySQL-family secret (sslrootcert or ssl_ca) is handled with its SSL mode below.
_PG_EXTRAS = {
    k: k
    for k in ("sslrootcert", "sslcert", "sslkey", "connect_timeout", "application_name", "options")
}
_MYSQL_EXTRAS = {
    k: k for k in ("charset", "connect_timeout", "read_timeout", "write_timeout", "init_command")
}
DBAPI_EXTRAS: dict[str, dict[str, str]] = {
    "psycopg2": _PG_EXTRAS,
    "psycopg": _PG_EXTRAS,
    "redshift_connector": {"sslrootcert": "sslrootcert", "application_name": "application_name"},
    "pymysql": _MYSQL_EXTRAS,
    "MySQLdb": _MYSQL_EXTRAS,
    "mysql.connector": {
        "charset": "charset",
        "connect_timeout": "connection_timeout",
        "init_command": "init_command",
    },
    "oracledb": {},
    "pymssql": {"charset": "charset", "connect_timeout": "login_timeout"},
}
MYSQL_CA_KEYS = ("sslrootcert", "ssl_ca")


@dataclass(frozen=True)
class DatabaseCredentials:
    """Everything needed to open a database connection. Never prints the password."""

    engine: str | None
    host: str | None
    port: int | None
    username: str
    password: str = field(repr=False)
    dbname: str | None = None
    ssl_mode: str | None = None
    extras: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}), repr=False)
    engine_raw: str | None = None
    secret_id: str | None = None
    version_id: str | None = None

    def __str__(self) -> str:
        return self.describe()

    def describe(self) -> str:
        """``postgres://user:***@host:5432/db`` - safe to log."""
        return self.to_uri(hide_password=True)

    # -- derived values ---------------------------------------------------------------
    @property
    def effective_port(self) -> int | None:
        if self.port is not None:
            return self.port
        return engine_info(self.engine).default_port if self.engine else None

    @property
    def effective_dbname(self) -> str | None:
        if self.dbname:
            return self.dbname
        return engine_info(self.engine).default_dbname if self.engine else None

    @property
    def is_alternating_users(self) -> bool:
        return bool(self.extras.get("masterarn"))

    def require(self, *fields: str) -> DatabaseCredentials:
        """Raise a SecretFormatError naming the first of ``fields`` that is missing."""
        for name in fields:
            if getattr(self, name) in (None, ""):
                raise SecretFormatError(
                    self.secret_id, name, "missing (give it in the secret or as a default)"
                )
        return self

    def with_defaults(self, **defaults: Any) -> DatabaseCredentials:
        """Fill fields the secret left empty (host/port/engine of RDS-managed secrets)."""
        changes: dict[str, Any] = {}
        for name, value in defaults.items():
            if value is None:
                continue
            if name == "engine":
                if self.engine is None:
                    changes["engine"] = canonical_engine(str(value))
                    changes["engine_raw"] = self.engine_raw or str(value)
            elif name == "port":
                if self.port is None:
                    changes["port"] = _port(value, self.secret_id)
            elif name in {"host", "dbname", "ssl_mode"}:
                if getattr(self, name) in (None, ""):
                    changes[name] = value
            else:
                raise TypeError(f"unknown default {name!r}")
        return replace(self, **changes) if changes else self

    # -- renderings -------------------------------------------------------------------
    def to_uri(self, *, hide_password: bool = True, scheme: str | None = None) -> str:
        """A connection URI; the password is ``***`` unless ``hide_password=False``."""
        scheme = scheme or self.engine_raw or self.engine or "db"
        password = "***" if hide_password else quote(self.password, safe="")
        netloc = f"{quote(self.username, safe='')}:{password}@{self.host or ''}"
        if self.port is not None:
            netloc += f":{self.port}"
        path = f"/{quote(self.dbname, safe='')}" if self.dbname else ""
        return f"{scheme}://{netloc}{path}"

    def sqlalchemy_url(self, drivername: str | None = None) -> Any:
        """A ``sqlalchemy.engine.URL`` (imports SQLAlchemy lazily)."""
        from sqlalchemy.engine import URL

        self.require("engine", "host")
        info = engine_info(self.engine or "")
        query: dict[str, str] = {}
        dialect = drivername or info.sqlalchemy_dialect
        if self.ssl_mode and info.family == "postgres" and "psycopg" in dialect:
            query["sslmode"] = self.ssl_mode
        return URL.create(
            drivername=dialect,
            username=self.username,
            password=self.password,
            host=self.host,
            port=self.effective_port,
            database=self.effective_dbname,
            query=query,
        )

    def dbapi_kwargs(self, driver: str) -> dict[str, Any]:
        """Keyword arguments for ``driver.connect(**kwargs)``: the one per-driver table
        (hooks, glue_lib and the core all call this).

        ``driver``: psycopg2, psycopg, redshift_connector, pymysql, MySQLdb,
        mysql.connector, oracledb, pymssql. Secret extras listed in ``DBAPI_EXTRAS``
        for the driver pass through; a MySQL-family CA (``sslrootcert`` or ``ssl_ca``)
        becomes the driver's CA setting.
        """
        if driver not in DBAPI_EXTRAS:
            raise ValueError(f"unknown DB-API driver {driver!r}")
        self.require("host")
        kwargs = self._dbapi_base(driver)
        for key, keyword in DBAPI_EXTRAS[driver].items():
            if key in self.extras and self.extras[key] not in (None, ""):
                kwargs[keyword] = self.extras[key]
        return kwargs

    def _dbapi_base(self, driver: str) -> dict[str, Any]:
        port = self.effective_port
        db = self.effective_dbname
        user = {"user": self.username, "password": self.password}
        if driver in {"psycopg2", "psycopg"}:
            kwargs: dict[str, Any] = {"host": self.host, "port": port, **user, "dbname": db}
            if self.ssl_mode:
                kwargs["sslmode"] = self.ssl_mode
            return kwargs
        if driver == "redshift_connector":
            kwargs = {"host": self.host, "port": port, **user, "database": db}
            if self.ssl_mode:
                kwargs["ssl"] = self.ssl_mode != "disable"
                if self.ssl_mode in {"verify-ca", "verify-full"}:
                    kwargs["sslmode"] = self.ssl_mode
            return kwargs
        if driver in {"pymysql", "mysql.connector", "MySQLdb"}:
            kwargs = {"host": self.host, "port": port, **user}
            if db:
                kwargs["database"] = db
            kwargs.update(self._mysql_tls(driver))
            return kwargs
        if driver == "oracledb":
            dsn = f"{self.host}:{port}/{db}" if db else f"{self.host}:{port}"
            return {**user, "dsn": dsn}
        kwargs = {"server": self.host, "port": port, **user}  # pymssql
        if db:
            kwargs["database"] = db
        return kwargs

    def _mysql_tls(self, driver: str) -> dict[str, Any]:
        """TLS keywords of a MySQL-family driver from the SSL mode and the CA file."""
        ca = next((self.extras[k] for k in MYSQL_CA_KEYS if self.extras.get(k)), None)
        mode = self.ssl_mode
        if mode == "disable":
            return {"ssl_disabled": True} if driver == "mysql.connector" else {}
        if mode not in {"require", "verify-ca", "verify-full"} and ca is None:
            return {}
        verify_identity = mode == "verify-full"
        if driver == "mysql.connector":
            out: dict[str, Any] = {"ssl_disabled": False, "ssl_verify_identity": verify_identity}
            if ca is not None:
                out["ssl_ca"] = ca
                out["ssl_verify_cert"] = True
            return out
        ssl = {"ca": ca} if ca is not None else {}
        if driver == "MySQLdb":
            return {"ssl": ssl} if ssl else {"ssl_mode": "REQUIRED"}
        return {"ssl": ssl, "ssl_verify_identity": verify_identity}


# -- parsing ---------------------------------------------------------------------------
def parse_db_credentials(
    secret: SecretValue | str | Mapping[str, Any],
    *,
    secret_id: str | None = None,
    defaults: Mapping[str, Any] | None = None,
) -> DatabaseCredentials:
    """Read database credentials from any supported secret shape.

    ``defaults`` (``host``, ``port``, ``engine``, ``dbname``, ``ssl_mode``) fill what
    the secret leaves out: the way to use RDS-managed secrets.
    """
    version_id: str | None = None
    if isinstance(secret, SecretValue):
        secret_id = secret_id or secret.name
        version_id = secret.version_id
        text = secret.text()
        creds = _parse_text(text, secret_id)
    elif isinstance(secret, str):
        creds = _parse_text(secret, secret_id)
    elif isinstance(secret, Mapping):
        creds = _from_mapping(secret, secret_id)
    else:
        raise SecretFormatError(
            secret_id, None, f"cannot read credentials from a {type(secret).__name__}"
        )
    if version_id:
        creds = replace(creds, version_id=version_id)
    if defaults:
        creds = creds.with_defaults(**dict(defaults))
    return creds


def _parse_text(text: str, secret_id: str | None) -> DatabaseCredentials:
    # A byte-order mark is invisible in editors and consoles: tolerate it.
    stripped = text.strip().lstrip("\ufeff").strip()
    if not stripped:
        raise SecretFormatError(secret_id, None, "the secret is empty")
    if stripped.startswith("{"):
        return _from_mapping(parse_json_object(stripped, secret_id), secret_id)
    if "://" in stripped:
        return _from_uri(stripped, secret_id)
    raise SecretFormatError(
        secret_id, None, "expected a JSON object or a connection URI (scheme://...)"
    )


def pick_alias(
    data: Mapping[str, Any], name: str, keys: Sequence[str], secret_id: str | None
) -> tuple[str | None, Any]:
    """The (key, value) carrying field ``name`` among ``keys``; (None, None) if absent.

    Two keys that disagree (``user`` "alice" and ``username`` "bob") are a format error
    naming both keys: guessing which one the writer meant could log in as someone else.
    """
    found = [(key, data[key]) for key in keys if key in data and data[key] is not None]
    if not found:
        return None, None
    first_key, first = found[0]
    for key, value in found[1:]:
        if _comparable(name, value) != _comparable(name, first):
            raise SecretFormatError(
                secret_id,
                name,
                f"keys {first_key!r} and {key!r} both set it, to different values; keep one",
            )
    return first_key, first


def _comparable(name: str, value: Any) -> Any:
    """Values equal for a field's purpose: 5432 and "5432"; postgres and postgresql."""
    if name == "ssl" and isinstance(value, bool):
        return _ssl_mode(value, None, name)
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return repr(value)
    text = str(value).strip()
    if name == "engine":
        return canonical_engine(text) or text.lower()
    if name == "port" and text.isascii() and text.isdigit():
        return int(text)
    if name == "ssl":
        try:
            return _ssl_mode(value, None, name)
        except SecretFormatError:
            return text
    return text


def _pick(data: Mapping[str, Any], name: str, secret_id: str | None) -> tuple[str | None, Any]:
    return pick_alias(data, name, FIELD_ALIASES[name].keys, secret_id)


def _from_mapping(data: Mapping[str, Any], secret_id: str | None) -> DatabaseCredentials:
    extras: dict[str, Any] = {}
    raw_extra = data.get("extra")
    if raw_extra is not None:
        extras.update(_extra_mapping(raw_extra, secret_id))
    for key, value in data.items():
        if key not in _KNOWN_KEYS:
            extras[key] = value

    _, engine_value = _pick(data, "engine", secret_id)
    engine_raw = _text(engine_value, "engine", secret_id) if engine_value is not None else None
    host_key, host = _pick(data, "host", secret_id)
    port_key, port = _pick(data, "port", secret_id)
    user_key, username = _pick(data, "username", secret_id)
    pass_key, password = _pick(data, "password", secret_id)
    db_key, dbname = _pick(data, "dbname", secret_id)
    ssl_key, ssl = _pick(data, "ssl", secret_id)
    if ssl is None:
        ssl = extras.get("sslmode")

    if username is None:
        raise SecretFormatError(secret_id, "username", "missing (also looked for login, user)")
    if password is None:
        raise SecretFormatError(secret_id, "password", "missing")
    return DatabaseCredentials(
        engine=canonical_engine(engine_raw),
        engine_raw=engine_raw,
        host=_text(host, host_key or "host", secret_id) if host is not None else None,
        port=_port(port, secret_id, port_key or "port") if port not in (None, "") else None,
        username=_text(username, user_key or "username", secret_id),
        password=_text(password, pass_key or "password", secret_id, allow_empty=True),
        dbname=_text(dbname, db_key or "dbname", secret_id) if dbname not in (None, "") else None,
        ssl_mode=_ssl_mode(ssl, secret_id, ssl_key or "ssl"),
        extras=MappingProxyType(extras),
        secret_id=secret_id,
    )


def _from_uri(uri: str, secret_id: str | None) -> DatabaseCredentials:
    try:
        parts = urlsplit(uri)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        raise SecretFormatError(secret_id, "host", "the URI's host is malformed") from None
    try:
        port = parts.port
    except ValueError:
        raise SecretFormatError(
            secret_id, "port", "the URI's port is not a number in 1-65535"
        ) from None
    if not parts.username:
        raise SecretFormatError(secret_id, "username", "the URI has no user name")
    if parts.password is None:
        raise SecretFormatError(secret_id, "password", "the URI has no password")
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    ssl = query.pop("sslmode", None) or query.pop("ssl", None)
    dbname = unquote(parts.path.lstrip("/")) or None
    scheme = parts.scheme.replace("-", "_") if parts.scheme else None
    engine_raw = parts.scheme or None
    return DatabaseCredentials(
        engine=canonical_engine(scheme) or canonical_engine(engine_raw),
        engine_raw=engine_raw,
        host=_text(unquote(parts.hostname), "host", secret_id) if parts.hostname else None,
        port=_port(port, secret_id) if port is not None else None,
        username=_text(unquote(parts.username), "username", secret_id),
        password=_text(unquote(parts.password), "password", secret_id, allow_empty=True),
        dbname=_text(dbname, "dbname", secret_id) if dbname else None,
        ssl_mode=_ssl_mode(ssl, secret_id, "sslmode"),
        extras=MappingProxyType(query),
        secret_id=secret_id,
    )


def _extra_mapping(raw: Any, secret_id: str | None) -> dict[str, Any]:
    if isinstance(raw, Mapping):
        return dict(raw)
    if isinstance(raw, str):
        if not raw.strip():
            return {}
        try:
            loaded = json.loads(raw)
        except ValueError:
            raise SecretFormatError(secret_id, "extra", "not valid JSON") from None
        if isinstance(loaded, dict):
            return loaded
    raise SecretFormatError(secret_id, "extra", f"expected an object, got {type(raw).__name__}")


def _text(value: Any, field_name: str, secret_id: str | None, allow_empty: bool = False) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise SecretFormatError(
            secret_id, field_name, f"expected a string, got {type(value).__name__}"
        )
    text = str(value)
    if not allow_empty and not text:
        raise SecretFormatError(secret_id, field_name, "is empty")
    if "\x00" in text:
        raise SecretFormatError(secret_id, field_name, "contains a NUL character")
    return text


def _port(value: Any, secret_id: str | None, field_name: str = "port") -> int:
    if isinstance(value, bool):
        raise SecretFormatError(secret_id, field_name, "expected a number, got bool")
    if isinstance(value, int):
        port = value
    elif isinstance(value, float) and value.is_integer():
        port = int(value)
    elif isinstance(value, str) and _is_port_text(value.strip()):
        port = int(value.strip())
    else:
        raise SecretFormatError(
            secret_id, field_name, f"expected a port number, got {type(value).__name__}"
        )
    if not 0 < port < 65536:
        raise SecretFormatError(secret_id, field_name, "out of range 1-65535")
    return port


def _is_port_text(text: str) -> bool:
    # ASCII digits only: str.isdigit() also accepts "²" (which int() rejects) and
    # other scripts' digits; and at most 5 of them (int() refuses >4300 digits).
    return 0 < len(text) <= 5 and text.isascii() and text.isdigit()


def _ssl_mode(value: Any, secret_id: str | None, field_name: str) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "require" if value else "disable"
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in {"true", "1", "yes", "on"}:
            return "require"
        if lowered in {"false", "0", "no", "off"}:
            return "disable"
        if lowered in SSL_MODES:
            return lowered
        mysql_names = {"required": "require", "preferred": "prefer", "disabled": "disable"}
        if lowered in mysql_names:  # MySQL's --ssl-mode spelling
            return mysql_names[lowered]
        if lowered in {"verify_full", "verify_identity", "verify-identity"}:
            return "verify-full"
        if lowered in {"verify_ca"}:
            return "verify-ca"
    raise SecretFormatError(
        secret_id, field_name, f"expected true/false or one of {', '.join(SSL_MODES)}"
    )
