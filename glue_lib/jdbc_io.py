"""Rotation-aware Spark JDBC reads and writes.

Spark serialises the JDBC password into the plan, and every task attempt reuses it:
a job planned before a rotation fails on every retry after it. These functions plan
and run the Spark action inside the core reconnect policy: when the job fails with an
authentication error anywhere (the classifier reads the Java cause chain of the Py4J
error), the secret is re-resolved (AWSPENDING included, for the single-user rotation
window), the job is planned again with the new credentials and run again, within a
time budget. Any other failure is raised at once.

Writes never duplicate or lose rows across such a re-run: Spark writes into a staging
table, which is emptied before every attempt; the staged rows then move into the
target in one database transaction (append, overwrite, or upsert on key columns).
Staged writes are supported for PostgreSQL and MySQL/MariaDB.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from glue_lib.dialects import MODES, Dialect, dialect_for
from glue_lib.driver_sql import committing, dbapi_connect, open_dbapi
from glue_lib.logs import (
    JdbcSummary,
    jdbc_rows_read,
    log_refresh,
    log_summary,
    sql_execution_count,
    summary_wanted,
)
from glue_lib.spark_options import SecretOptions, jdbc_options
from pipeline_secrets.credentials import DatabaseCredentials
from pipeline_secrets.jdbc import BATCH_WRITE_PROPERTIES
from pipeline_secrets.reconnect import NO_RETRY, Once, Reconnector, retry_login

log = logging.getLogger(__name__)

AfterPlan = Callable[[int], None]


def _reconnector(reconnector: Reconnector | None, budget_seconds: float | None) -> Reconnector:
    if reconnector is None:
        from pipeline_secrets.api import default_reconnector

        reconnector = default_reconnector()
    if budget_seconds is None:
        return reconnector
    policy = replace(reconnector.policy, budget_seconds=budget_seconds)
    return Reconnector(reconnector.cache, policy)


def read_jdbc(
    spark: Any,
    secret_id: str,
    *,
    table: str | None = None,
    query: str | None = None,
    action: Callable[[Any], Any] | None = None,
    flavor: str | None = None,
    defaults: Mapping[str, Any] | None = None,
    reconnector: Reconnector | None = None,
    budget_seconds: float | None = None,
    after_plan: AfterPlan | None = None,
    **spark_options: Any,
) -> Any:
    """Read ``table`` or ``query`` over JDBC and run a Spark action on it.

    With ``action`` (e.g. ``lambda df: df.write.parquet(path)``), returns what the
    action returns. Without it, the DataFrame is materialised with
    ``localCheckpoint()`` inside the retry loop and returned: it never goes back to
    the database, so a later rotation cannot break it. ``spark_options`` are Spark
    JDBC options (``partition_column``/``partitionColumn``, ``num_partitions``,
    ``fetchsize``, ``session_init_statement``...). ``after_plan(attempt)`` is called
    after planning, before the action (metrics, tests).
    """
    if (table is None) == (query is None):
        raise ValueError("give exactly one of table= or query=")
    started = time.monotonic()
    rec = _reconnector(reconnector, budget_seconds)
    attempts = 0
    refreshes = 0
    wanted = summary_wanted()
    mark = sql_execution_count(spark) if wanted else None

    def attempt(creds: DatabaseCredentials) -> Any:
        nonlocal attempts
        attempts += 1
        opts = jdbc_options(
            credentials=creds, table=table, query=query, flavor=flavor, **spark_options
        )
        df = spark.read.format("jdbc").options(**opts).load()
        if after_plan is not None:
            after_plan(attempts)
        if action is not None:
            return action(df)
        return df.localCheckpoint(eager=True)

    def refreshed(creds: DatabaseCredentials) -> None:
        nonlocal refreshes
        refreshes += 1
        log_refresh("read", secret_id, creds.version_id)

    result = rec.connect(secret_id, attempt, defaults=defaults, on_refresh=refreshed)
    if wanted:
        partitions = spark_options.get("num_partitions", spark_options.get("numPartitions"))
        log_summary(
            JdbcSummary(
                "read",
                secret_id,
                table or "(query)",
                jdbc_rows_read(spark, mark),
                int(partitions) if partitions is not None else 1,
                attempts,
                refreshes,
                time.monotonic() - started,
            )
        )
    return result


@dataclass(frozen=True)
class WriteResult:
    """What :func:`write_jdbc` did."""

    table: str
    mode: str
    attempts: int
    rows_moved: int | None
    seconds: float


def write_jdbc(
    df: Any,
    secret_id: str,
    table: str,
    *,
    mode: str = "append",
    key_columns: Sequence[str] = (),
    staging: bool = True,
    flavor: str | None = None,
    defaults: Mapping[str, Any] | None = None,
    reconnector: Reconnector | None = None,
    budget_seconds: float | None = None,
    after_plan: AfterPlan | None = None,
    **spark_options: Any,
) -> WriteResult:
    """Write ``df`` into ``table`` (``schema.table`` allowed), surviving a rotation.

    ``mode``: ``append``, ``overwrite`` (the target's rows are replaced in the same
    transaction that inserts the new ones) or ``upsert`` (rows whose ``key_columns``
    match are updated, the others inserted; no unique constraint needed). A missing
    target is created from the DataFrame's schema.

    ``staging=False`` writes straight into the target with Spark (any engine, modes
    ``append``/``overwrite``). An overwrite (``truncate``) is re-run after a rotation;
    an append is not, since some tasks may already have committed: the credentials are
    checked (and refreshed) with a DB-API login first, when a driver is installed.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    started = time.monotonic()
    rec = _reconnector(reconnector, budget_seconds)
    if not staging:
        direct = _write_direct(
            df, secret_id, table, mode, rec, flavor, defaults, after_plan, started, spark_options
        )
        if summary_wanted():
            log_summary(
                JdbcSummary(
                    f"write ({mode}, unstaged)",
                    secret_id,
                    table,
                    None,
                    _partitions(df),
                    direct.attempts,
                    None,
                    direct.seconds,
                )
            )
        return direct
    creds = rec.credentials(secret_id, defaults=defaults)
    dialect = dialect_for(creds.engine or "")
    columns = list(df.columns)

    def sql_connect() -> Any:
        return dbapi_connect(
            secret_id, driver=dialect.dbapi_driver, reconnector=rec, defaults=defaults
        )

    staged = dialect.staging_name(table)
    target_exists = _prepare_staging(sql_connect, dialect, table, staged)
    attempts = 0

    def attempt(attempt_creds: DatabaseCredentials) -> None:
        nonlocal attempts
        attempts += 1
        if target_exists and attempts > 1:
            # Rows of a failed attempt may have been committed by some tasks.
            _execute(sql_connect, [dialect.truncate_sql(staged)])
        opts = _write_options(attempt_creds, dialect.table(staged), flavor, spark_options)
        writer = df.write.format("jdbc").options(**opts)
        # A missing target: Spark (re)creates the staging table on every attempt.
        writer = writer.mode("append" if target_exists else "overwrite")
        if after_plan is not None:
            after_plan(attempts)
        writer.save()

    refreshes = 0

    def refreshed(fresh: DatabaseCredentials) -> None:
        nonlocal refreshes
        refreshes += 1
        log_refresh("write", secret_id, fresh.version_id)

    moved: int | None = None
    try:
        rec.connect(secret_id, attempt, defaults=defaults, on_refresh=refreshed)
        moved = _move(
            sql_connect,
            dialect,
            mode,
            staged,
            table,
            columns,
            key_columns,
            create_target=not target_exists,
        )
    finally:
        if moved is None:  # the move drops the staging table itself once it committed
            _drop_staging(sql_connect, dialect, staged)
    result = WriteResult(table, mode, attempts, moved, time.monotonic() - started)
    if summary_wanted():
        log_summary(
            JdbcSummary(
                f"write ({mode}, staged)",
                secret_id,
                table,
                moved,
                _partitions(df),
                attempts,
                refreshes,
                result.seconds,
            )
        )
    return result


def _write_options(
    creds: DatabaseCredentials, table: str, flavor: str | None, spark_options: Mapping[str, Any]
) -> SecretOptions:
    """Spark's options for a JDBC write: the driver's batch-insert properties
    (``reWriteBatchedInserts`` for PostgreSQL) unless the caller set them."""
    opts = jdbc_options(credentials=creds, table=table, flavor=flavor, **spark_options)
    given = {key.lower() for key in opts}
    for key, value in BATCH_WRITE_PROPERTIES.get(opts["driver"], {}).items():
        if key.lower() not in given:
            opts[key] = value
    return opts


def _partitions(df: Any) -> int | None:
    try:
        return int(df._jdf.rdd().getNumPartitions())
    except Exception:
        return None


def _write_direct(
    df: Any,
    secret_id: str,
    table: str,
    mode: str,
    rec: Reconnector,
    flavor: str | None,
    defaults: Mapping[str, Any] | None,
    after_plan: AfterPlan | None,
    started: float,
    spark_options: dict[str, Any],
) -> WriteResult:
    if mode == "upsert":
        raise ValueError("upsert needs staging=True")
    attempts = 0

    def attempt(creds: DatabaseCredentials) -> None:
        nonlocal attempts
        attempts += 1
        opts = _write_options(creds, table, flavor, spark_options)
        if mode == "overwrite":
            opts.setdefault("truncate", "true")
        writer = df.write.format("jdbc").options(**opts).mode(mode)
        if after_plan is not None:
            after_plan(attempts)
        writer.save()

    if mode == "overwrite":  # idempotent: re-running is safe
        rec.connect(secret_id, attempt, defaults=defaults)
        return WriteResult(table, mode, attempts, None, time.monotonic() - started)
    # An append is run once: some tasks may have committed before the failure. Check the
    # credentials first (refreshing them if the database refuses), then write.
    creds = rec.connect(secret_id, lambda c: _probe(c), defaults=defaults)
    once = Once(
        creds,
        key=creds.version_id or "",
        label=f"version {creds.version_id or '?'} (an unstaged append is not re-run)",
        secret=creds.password,
    )
    retry_login(attempt, once, name=secret_id, policy=NO_RETRY, clock=rec.cache.clock)
    return WriteResult(table, mode, attempts, None, time.monotonic() - started)


def _probe(creds: DatabaseCredentials) -> DatabaseCredentials:
    """Log in once with a DB-API driver when one is installed; return ``creds``."""
    try:
        conn = open_dbapi(creds)
    except ImportError:
        return creds  # no Python driver for this engine here: Spark will tell
    conn.close()
    return creds


def _prepare_staging(connect: Callable[[], Any], dialect: Dialect, table: str, staged: str) -> bool:
    """Whether ``table`` exists and, if so, a fresh staging table like it: one login
    (each login costs a SCRAM handshake, tens of milliseconds)."""
    sql, params = dialect.table_exists_sql(table)
    with committing(connect()) as cur:
        cur.execute(sql, params)
        row = cur.fetchone()
        exists = bool(row and row[0])
        if exists:
            cur.execute(dialect.drop_sql(staged))
            cur.execute(dialect.create_like_sql(staged, table, staging=True))
    return exists


def _drop_staging(connect: Callable[[], Any], dialect: Dialect, staged: str) -> None:
    try:
        _execute(connect, [dialect.drop_sql(staged)])
    except Exception as exc:  # do not hide the real error; the name says what to drop
        log.warning("could not drop staging table %s: %s", staged, type(exc).__name__)


def _execute(connect: Callable[[], Any], statements: Sequence[str]) -> None:
    with committing(connect()) as cur:
        for stmt in statements:
            cur.execute(stmt)


def _move(
    connect: Callable[[], Any],
    dialect: Dialect,
    mode: str,
    staged: str,
    table: str,
    columns: Sequence[str],
    key_columns: Sequence[str],
    *,
    create_target: bool,
) -> int:
    """Move the staged rows into ``table`` in one transaction, then drop the staging
    table on the same connection; returns rows inserted or updated."""
    statements = dialect.move_sql(mode, staged, table, columns, key_columns)
    if create_target:
        if dialect.family == "mysql":
            # MySQL commits DDL on its own: create the empty target first.
            _execute(connect, [dialect.create_like_sql(table, staged)])
        else:
            statements = [dialect.create_like_sql(table, staged), *statements]
    conn = connect()
    moved = 0
    try:
        cur = conn.cursor()
        for stmt in statements:
            cur.execute(stmt)
            if stmt.lstrip().upper().startswith(("INSERT", "UPDATE")) and cur.rowcount > 0:
                moved += cur.rowcount
        cur.close()
        conn.commit()
    except BaseException:
        conn.rollback()
        conn.close()
        raise
    try:  # the same login drops the staging table
        cur = conn.cursor()
        cur.execute(dialect.drop_sql(staged))
        cur.close()
        conn.commit()
    except Exception as exc:  # the rows are in: report, do not fail the write
        log.warning("could not drop staging table %s: %s", staged, type(exc).__name__)
    finally:
        conn.close()
    return moved
