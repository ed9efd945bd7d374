"""Per-partition database connections that fetch the secret on the executor.

:class:`PartitionWriter` is a callable for ``df.foreachPartition(writer)``;
:func:`read_partitions` reads a table over column ranges, one range per task. Each
task opens its own connection through the executor's reconnector (one cache per
Python worker, see :mod:`glue_lib.executor`): a task that starts during or after a
rotation refreshes the secret itself (AWSPENDING included) instead of failing, and
connections opened before the rotation stay valid, so a running job finishes without
re-running a stage. Nothing but the secret id travels with the task.

PostgreSQL (psycopg2: ``COPY`` or batched inserts) and MySQL/MariaDB (pymysql).
Each partition is written in ONE transaction: a task that fails leaves nothing
behind, so Spark's task retry cannot duplicate rows.
"""

from __future__ import annotations

import datetime as _dt
import io
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from glue_lib.dialects import Dialect, dialect_for
from glue_lib.driver_sql import committing
from glue_lib.executor import SecretAccess, executor_reconnector
from glue_lib.logs import log_refresh
from pipeline_secrets.credentials import DatabaseCredentials

log = logging.getLogger(__name__)


def _open(creds: DatabaseCredentials, dialect: Dialect) -> Any:
    if dialect.family == "postgres":
        import psycopg2

        return psycopg2.connect(**creds.dbapi_kwargs("psycopg2"))
    import pymysql

    return pymysql.connect(**creds.dbapi_kwargs("pymysql"), autocommit=False)


def _connect(
    secret_id: str,
    access: SecretAccess,
    defaults: Mapping[str, Any] | None,
    counter: Any,
) -> tuple[Any, Dialect]:
    rec = executor_reconnector(access)
    chosen: list[Dialect] = []

    def open_with(creds: DatabaseCredentials) -> Any:
        dialect = dialect_for(creds.engine or "")
        chosen[:] = [dialect]
        return _open(creds, dialect)

    def refreshed(creds: DatabaseCredentials) -> None:
        log_refresh("partition task", secret_id, creds.version_id)
        if counter is not None:
            counter.add(1)

    conn = rec.connect(secret_id, open_with, defaults=defaults, on_refresh=refreshed)
    return conn, chosen[0]


@dataclass(frozen=True)
class PartitionWriter:
    """``df.foreachPartition(PartitionWriter(secret_id, "schema.table", df.columns))``.

    ``mode``: ``append`` or ``upsert`` (on ``key_columns``; PostgreSQL needs a unique
    index or constraint on them, MySQL a unique or primary key). ``method``: ``copy``
    (PostgreSQL only, the fastest) or ``insert`` (batched multi-row inserts).
    ``refresh_counter``: an optional Spark accumulator counting credential refreshes
    on executors.
    """

    secret_id: str
    table: str
    columns: Sequence[str]
    mode: str = "append"
    key_columns: Sequence[str] = ()
    method: str = "copy"
    batch_size: int = 5000
    access: SecretAccess = field(default_factory=SecretAccess)
    defaults: Mapping[str, Any] | None = None
    refresh_counter: Any = None

    def __post_init__(self) -> None:
        if self.mode not in {"append", "upsert"}:
            raise ValueError("PartitionWriter mode must be 'append' or 'upsert'")
        if self.mode == "upsert" and not self.key_columns:
            raise ValueError("upsert needs key_columns")
        if self.method not in {"copy", "insert"}:
            raise ValueError("method must be 'copy' or 'insert'")
        object.__setattr__(self, "columns", tuple(self.columns))
        object.__setattr__(self, "key_columns", tuple(self.key_columns))

    def __call__(self, rows: Iterable[Any]) -> None:
        self.write(rows)

    def write(self, rows: Iterable[Any]) -> int:
        """Write ``rows`` (Spark Rows or tuples in ``columns`` order); returns the count."""
        iterator = iter(rows)
        try:
            first = next(iterator)
        except StopIteration:
            return 0  # an empty partition opens no connection
        conn, dialect = _connect(self.secret_id, self.access, self.defaults, self.refresh_counter)
        total = 0
        with committing(conn) as cur:
            batch: list[tuple[Any, ...]] = [tuple(first)]
            for row in iterator:
                batch.append(tuple(row))
                if len(batch) >= self.batch_size:
                    total += self._flush(cur, dialect, batch)
                    batch = []
            if batch:
                total += self._flush(cur, dialect, batch)
        return total

    def _flush(self, cur: Any, dialect: Dialect, batch: list[tuple[Any, ...]]) -> int:
        table = dialect.table(self.table)
        cols = ", ".join(dialect.quote(c) for c in self.columns)
        if dialect.family == "postgres" and self.method == "copy" and self.mode == "append":
            buf = io.StringIO()
            buf.writelines("\t".join(map(_copy_text, row)) + "\n" for row in batch)
            buf.seek(0)
            cur.copy_expert(f"COPY {table} ({cols}) FROM STDIN", buf)
            return len(batch)
        if dialect.family == "postgres":
            from psycopg2.extras import execute_values

            sql = f"INSERT INTO {table} ({cols}) VALUES %s"
            if self.mode == "upsert":
                keys = ", ".join(dialect.quote(k) for k in self.key_columns)
                others = [c for c in self.columns if c not in self.key_columns]
                if others:
                    sets = ", ".join(
                        f"{dialect.quote(c)} = EXCLUDED.{dialect.quote(c)}" for c in others
                    )
                    sql += f" ON CONFLICT ({keys}) DO UPDATE SET {sets}"
                else:
                    sql += f" ON CONFLICT ({keys}) DO NOTHING"
            execute_values(cur, sql, batch, page_size=len(batch))
            return len(batch)
        marks = ", ".join(["%s"] * len(self.columns))
        sql = f"INSERT INTO {table} ({cols}) VALUES ({marks})"
        if self.mode == "upsert":
            others = [c for c in self.columns if c not in self.key_columns] or [self.key_columns[0]]
            sets = ", ".join(f"{dialect.quote(c)} = VALUES({dialect.quote(c)})" for c in others)
            sql += f" ON DUPLICATE KEY UPDATE {sets}"
        cur.executemany(sql, batch)  # pymysql rewrites this into multi-row INSERTs
        return len(batch)


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value: Any) -> str:
    """One value in PostgreSQL's COPY text format."""
    kind = type(value)
    if kind is str:
        return str(value).translate(_COPY_ESCAPES)
    if kind is int or kind is float:
        return repr(value)
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, bytes | bytearray | memoryview):
        return "\\\\x" + bytes(value).hex()
    if isinstance(value, Decimal | int | float):
        return str(value)
    if isinstance(value, _dt.datetime | _dt.date | _dt.time):
        return value.isoformat()
    return str(value).translate(_COPY_ESCAPES)


# -- reading over ranges ---------------------------------------------------------------
@dataclass(frozen=True)
class _RangeReader:
    secret_id: str
    sql: str
    column: str
    access: SecretAccess
    defaults: Mapping[str, Any] | None
    fetch_size: int
    refresh_counter: Any = None

    def __call__(self, bounds: tuple[Any, Any, bool]) -> Iterator[tuple[Any, ...]]:
        low, high, with_nulls = bounds
        conn, dialect = _connect(self.secret_id, self.access, self.defaults, self.refresh_counter)
        col = dialect.quote(self.column)
        where: list[str] = []
        params: list[Any] = []
        if low is not None:
            where.append(f"{col} >= %s")
            params.append(low)
        if high is not None:
            where.append(f"{col} < %s")
            params.append(high)
        cond = " AND ".join(where) or "1 = 1"
        if with_nulls:
            cond = f"({cond}) OR {col} IS NULL"
        sql = f"SELECT * FROM ({self.sql}) ps_src WHERE {cond}"
        try:
            if dialect.family == "postgres":
                cur = conn.cursor(name="ps_range")  # server-side cursor: streams
                cur.itersize = self.fetch_size
            else:
                import pymysql.cursors

                cur = conn.cursor(pymysql.cursors.SSCursor)
            cur.execute(sql, tuple(params))
            while True:
                chunk = cur.fetchmany(self.fetch_size)
                if not chunk:
                    break
                yield from (tuple(r) for r in chunk)
            cur.close()
            conn.rollback()
        finally:
            conn.close()


def partition_ranges(
    lower: int, upper: int, num_partitions: int
) -> list[tuple[int | None, int | None, bool]]:
    """Spark's split of ``[lower, upper)`` into strides: the first range is open below
    and also takes NULLs, the last is open above, so every row is read exactly once."""
    if num_partitions < 1:
        raise ValueError("num_partitions must be at least 1")
    if upper <= lower or num_partitions == 1:
        return [(None, None, True)]
    n = min(num_partitions, upper - lower)
    stride = (upper - lower) / n
    cuts = [lower + round(stride * i) for i in range(1, n)]
    ranges: list[tuple[int | None, int | None, bool]] = []
    previous: int | None = None
    for cut in cuts:
        ranges.append((previous, cut, previous is None))
        previous = cut
    ranges.append((previous, None, False))
    return ranges


def read_partitions(
    spark: Any,
    secret_id: str,
    *,
    column: str,
    lower_bound: int,
    upper_bound: int,
    num_partitions: int,
    table: str | None = None,
    query: str | None = None,
    schema: Any = None,
    access: SecretAccess | None = None,
    defaults: Mapping[str, Any] | None = None,
    fetch_size: int = 10_000,
    refresh_counter: Any = None,
) -> Any:
    """A DataFrame read over ``num_partitions`` ranges of ``column``, each range by
    one task that fetches the secret itself and reconnects on a refused login.

    ``schema``: a StructType or DDL string; when omitted it is taken from the driver
    with a zero-row JDBC read of the same query (needs the JDBC driver jar there).
    """
    if (table is None) == (query is None):
        raise ValueError("give exactly one of table= or query=")
    access = access or SecretAccess()
    if table is not None:
        from pipeline_secrets.api import default_reconnector

        creds = default_reconnector().credentials(secret_id, defaults=defaults)
        sql = f"SELECT * FROM {dialect_for(creds.engine or '').table(table)}"
    else:
        sql = str(query)
    if schema is None:
        from glue_lib.jdbc_io import read_jdbc

        schema = read_jdbc(
            spark,
            secret_id,
            query=f"SELECT * FROM ({sql}) ps_src WHERE 1 = 0",
            defaults=defaults,
            action=lambda df: df.schema,
        )
    ranges = partition_ranges(lower_bound, upper_bound, num_partitions)
    reader = _RangeReader(
        secret_id, sql, column, access, defaults, fetch_size, refresh_counter=refresh_counter
    )
    rdd = spark.sparkContext.parallelize(ranges, len(ranges)).flatMap(reader)
    return spark.createDataFrame(rdd, schema)
