"""The database a secret's credentials log in to, read from the secret's JSON."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pipeline_secrets.credentials import parse_db_credentials
from pipeline_secrets.errors import SecretFormatError
from pipeline_secrets.rotation.tls import TlsPolicy, tls_policy

ROTATABLE_ENGINES = ("postgres", "mysql", "mariadb", "redshift")


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


def target_from_secret(
    secret: Mapping[str, Any], secret_id: str, label: str, *, dbname: str | None = None
) -> DbTarget:
    """Read a rotation secret (engine, host, port, username, password, dbname, ssl).

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
        tls=tls_policy(secret),
        label=label,
    )
