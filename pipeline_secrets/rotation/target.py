"""The database a secret's credentials log in to, read from the secret's JSON."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pipeline_secrets.credentials import parse_db_credentials
from pipeline_secrets.errors import SecretFormatError
from pipeline_secrets.rotation.tls import TlsPolicy, tls_policy

ROTATABLE_ENGINES = ("postgres", "mysql", "mariadb", "redshift")
#: engines that share a wire protocol and driver (a master may be labelled either way)
ENGINE_FAMILY = {
    "postgres": "postgres",
    "redshift": "postgres",
    "mysql": "mysql",
    "mariadb": "mysql",
}


@dataclass(frozen=True)
class DbTarget:
    """Where and as whom to log in. Its repr never shows the password."""

    engine: str  # canonical: postgres | mysql | mariadb | redshift
    engine_raw: str
    host: str
    port: int | None
    username: str
    password: str = field(repr=False)
    dbname: str | None
    tls: TlsPolicy
    label: str = "current"  # which secret version this is (for messages)

    def describe(self) -> str:
        return f"{self.label} credentials ({self.username!r} at {self.host}:{self.port})"

    def same_database_problem(self, other: DbTarget, *, engine_family: bool = False) -> str | None:
        """Why ``other`` is not the same database as this one (engine, host, port,
        dbname), or None. Host names compare without case; ``engine_family=True``
        compares engines by protocol (MySQL/MariaDB, PostgreSQL/Redshift)."""
        if engine_family:
            if ENGINE_FAMILY[self.engine] != ENGINE_FAMILY[other.engine]:
                return "engine"
        elif self.engine != other.engine:
            return "engine"
        if self.host.strip().lower() != other.host.strip().lower():
            return "host"
        if self.port != other.port:
            return "port"
        if (self.dbname or "") != (other.dbname or ""):
            return "dbname"
        return None


def target_from_secret(
    secret: Mapping[str, Any],
    secret_id: str,
    label: str,
    *,
    dbname: str | None = None,
    master: bool = False,
) -> DbTarget:
    """Read a rotation secret (engine, host, port, username, password, dbname, ssl).

    ``master=True`` for a master secret (its TLS default is stricter, see :mod:`.tls`).

    Raises a :class:`SecretFormatError` naming the field that is missing or wrong.
    """
    creds = parse_db_credentials(secret, secret_id=secret_id)
    creds.require("engine", "host")
    engine = creds.engine or ""
    if engine not in ROTATABLE_ENGINES:
        raise SecretFormatError(
            secret_id,
            "engine",
            f"engine {creds.engine_raw!r} cannot be rotated here "
            f"(supported: {', '.join(ROTATABLE_ENGINES)} and their Aurora variants)",
        )
    return DbTarget(
        engine=engine,
        engine_raw=creds.engine_raw or engine,
        host=creds.host or "",
        port=creds.effective_port,
        username=creds.username,
        password=creds.password,
        dbname=dbname if dbname is not None else creds.effective_dbname,
        tls=tls_policy(secret, host=creds.host, master=master),
        label=label,
    )
