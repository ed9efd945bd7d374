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

Unknown keys are kept in ``extras``. Errors name the secret and the field, never a value.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from pipeline_secrets.engines import canonical_engine, engine_info
from pipeline_secrets.errors import SecretFormatError
from pipeline_secrets.model import SecretValue, parse_json_object

SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")

# Field -> the keys that may carry it, first match wins.
_ALIASES: dict[str, tuple[str, ...]] = {
    "engine": ("engine", "conn_type", "connection_type", "conn_id", "dialect"),
    "host": ("host", "remote_host", "server", "hostname", "endpoint"),
    "port": ("port",),
    "username": ("username", "login", "user", "user_name"),
    "password": ("password", "pass", "passwd", "key"),
    "dbname": ("dbname", "database", "schema", "db"),
    "ssl": ("ssl", "sslmode", "ssl_mode"),
}
_KNOWN_KEYS = {k for keys in _ALIASES.values() for k in keys} | {"extra"}


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
        """Keyword arguments for ``driver.connect(**kwargs)``.

        ``driver``: psycopg2, psycopg, redshift_connector, pymysql, mysql.connector,
        oracledb, pymssql.
        """
        self.require("host")
        port = self.effective_port
        db = self.effective_dbname
        if driver in {"psycopg2", "psycopg"}:
            kwargs: dict[str, Any] = {
                "host": self.host,
                "port": port,
                "user": self.username,
                "password": self.password,
                "dbname": db,
            }
            if self.ssl_mode:
                kwargs["sslmode"] = self.ssl_mode
            for key in (
                "sslrootcert",
                "sslcert",
                "sslkey",
                "connect_timeout",
                "application_name",
                "options",
            ):
                if key in self.extras:
                    kwargs[key] = self.extras[key]
            return kwargs
        if driver == "redshift_connector":
            kwargs = {
                "host": self.host,
                "port": port,
                "user": self.username,
                "password": self.password,
                "database": db,
            }
            if self.ssl_mode:
                kwargs["ssl"] = self.ssl_mode != "disable"
                if self.ssl_mode in {"verify-ca", "verify-full"}:
                    kwargs["sslmode"] = self.ssl_mode
            return kwargs
        if driver in {"pymysql", "mysql.connector", "MySQLdb"}:
            kwargs = {
                "host": self.host,
                "port": port,
                "user": self.username,
                "password": self.password,
            }
            if db:
                kwargs["database"] = db
            if self.ssl_mode and self.ssl_mode not in {"disable", "allow", "prefer"}:
                if driver == "pymysql":
                    kwargs["ssl"] = (
                        {"ca": self.extras["sslrootcert"]} if ("sslrootcert" in self.extras) else {}
                    )
                    kwargs["ssl_verify_identity"] = self.ssl_mode == "verify-full"
                elif driver == "mysql.connector":
                    kwargs["ssl_disabled"] = False
            elif self.ssl_mode == "disable" and driver == "mysql.connector":
                kwargs["ssl_disabled"] = True
            return kwargs
        if driver == "oracledb":
            dsn = f"{self.host}:{port}/{db}" if db else f"{self.host}:{port}"
            return {"user": self.username, "password": self.password, "dsn": dsn}
        if driver == "pymssql":
            kwargs = {
                "server": self.host,
                "port": port,
                "user": self.username,
                "password": self.password,
            }
            if db:
                kwargs["database"] = db
            return kwargs
        raise ValueError(f"unknown DB-API driver {driver!r}")


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


def _pick(data: Mapping[str, Any], name: str) -> tuple[str | None, Any]:
    for key in _ALIASES[name]:
        if key in data and data[key] is not None:
            return key, data[key]
    return None, None


def _from_mapping(data: Mapping[str, Any], secret_id: str | None) -> DatabaseCredentials:
    extras: dict[str, Any] = {}
    raw_extra = data.get("extra")
    if raw_extra is not None:
        extras.update(_extra_mapping(raw_extra, secret_id))
    for key, value in data.items():
        if key not in _KNOWN_KEYS:
            extras[key] = value

    _, engine_value = _pick(data, "engine")
    engine_raw = _text(engine_value, "engine", secret_id) if engine_value is not None else None
    host_key, host = _pick(data, "host")
    port_key, port = _pick(data, "port")
    user_key, username = _pick(data, "username")
    pass_key, password = _pick(data, "password")
    db_key, dbname = _pick(data, "dbname")
    ssl_key, ssl = _pick(data, "ssl")
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
        if lowered in {"verify_full", "verify_identity", "verify-identity"}:
            return "verify-full"
        if lowered in {"verify_ca"}:
            return "verify-ca"
    raise SecretFormatError(
        secret_id, field_name, f"expected true/false or one of {', '.join(SSL_MODES)}"
    )
