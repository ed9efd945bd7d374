"""Driver-side SQL from a secret: a DB-API connection and a SQLAlchemy engine.

For pre- and post-actions around Spark jobs (create staging tables, swap, vacuum).
Both go through the core reconnect policy: a refused login refreshes the secret,
tries AWSPENDING during a rotation window, and retries within the time budget. The
SQLAlchemy engine holds no password: every new pooled connection fetches the
current credentials (``do_connect`` event).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from glue_lib.dialects import default_dbapi_driver
from pipeline_secrets.credentials import DatabaseCredentials
from pipeline_secrets.reconnect import Reconnector

_MODULES = {
    "psycopg2": "psycopg2",
    "psycopg": "psycopg",
    "pymysql": "pymysql",
    "mysql.connector": "mysql.connector",
    "redshift_connector": "redshift_connector",
    "oracledb": "oracledb",
    "pymssql": "pymssql",
}


def _reconnector(reconnector: Reconnector | None) -> Reconnector:
    if reconnector is not None:
        return reconnector
    from pipeline_secrets.api import default_reconnector

    return default_reconnector()


def open_dbapi(creds: DatabaseCredentials, driver: str | None = None, **connect_kwargs: Any) -> Any:
    """One DB-API connection with ``creds`` (no retry)."""
    creds.require("engine")
    driver = driver or default_dbapi_driver(creds.engine or "")
    if driver not in _MODULES:
        raise ValueError(f"unknown DB-API driver {driver!r}")
    module = importlib.import_module(_MODULES[driver])
    kwargs = creds.dbapi_kwargs(driver)
    kwargs.update(connect_kwargs)
    return module.connect(**kwargs)


def dbapi_connect(
    secret_id: str,
    *,
    driver: str | None = None,
    reconnector: Reconnector | None = None,
    defaults: Mapping[str, Any] | None = None,
    **connect_kwargs: Any,
) -> Any:
    """A DB-API connection (psycopg2, pymysql, ...) with the secret's credentials,
    surviving a rotation in progress. The caller closes it."""
    return _reconnector(reconnector).connect(
        secret_id, lambda creds: open_dbapi(creds, driver, **connect_kwargs), defaults=defaults
    )


@contextmanager
def transaction(
    secret_id: str,
    *,
    driver: str | None = None,
    reconnector: Reconnector | None = None,
    defaults: Mapping[str, Any] | None = None,
) -> Iterator[Any]:
    """``with transaction(secret_id) as cur:`` - commit on success, roll back on error."""
    conn = dbapi_connect(secret_id, driver=driver, reconnector=reconnector, defaults=defaults)
    with committing(conn) as cur:
        yield cur


@contextmanager
def committing(conn: Any) -> Iterator[Any]:
    """A cursor of the open DB-API connection ``conn``: commit on success, roll back on
    error; the cursor and the connection are closed either way."""
    try:
        cur = conn.cursor()
        try:
            yield cur
        finally:
            cur.close()
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    finally:
        conn.close()


def run_sql(
    secret_id: str,
    statements: Sequence[str | tuple[str, Sequence[Any]]],
    *,
    driver: str | None = None,
    reconnector: Reconnector | None = None,
    defaults: Mapping[str, Any] | None = None,
) -> None:
    """Run ``statements`` in one transaction (pre/post actions)."""
    with transaction(secret_id, driver=driver, reconnector=reconnector, defaults=defaults) as cur:
        for stmt in statements:
            if isinstance(stmt, str):
                cur.execute(stmt)
            else:
                cur.execute(stmt[0], tuple(stmt[1]))


def sqlalchemy_engine(
    secret_id: str,
    *,
    drivername: str | None = None,
    reconnector: Reconnector | None = None,
    defaults: Mapping[str, Any] | None = None,
    **engine_kwargs: Any,
) -> Any:
    """A SQLAlchemy engine (1.4 and 2.x) whose connections use the secret.

    The URL carries no password; each new DB-API connection the pool opens asks the
    reconnector for credentials (cached, refreshed on a refused login, AWSPENDING in a
    rotation window). Pooled connections opened before a rotation stay valid; pass
    ``pool_pre_ping=True`` or ``pool_recycle`` as usual.
    """
    from sqlalchemy import create_engine, event
    from sqlalchemy.engine import URL

    rec = _reconnector(reconnector)
    creds = rec.credentials(secret_id, defaults=defaults)
    full = creds.sqlalchemy_url(drivername)
    url = URL.create(  # everything but the password
        drivername=full.drivername,
        username=full.username,
        host=full.host,
        port=full.port,
        database=full.database,
        query=dict(full.query),
    )
    engine = create_engine(url, **engine_kwargs)

    @event.listens_for(engine, "do_connect")
    def _connect(dialect: Any, conn_rec: Any, cargs: Any, cparams: dict[str, Any]) -> Any:
        def open_with(fresh: DatabaseCredentials) -> Any:
            params = dict(cparams)
            params["user"] = fresh.username
            params["password"] = fresh.password
            return dialect.connect(*cargs, **params)

        return rec.connect(secret_id, open_with, defaults=defaults)

    return engine
