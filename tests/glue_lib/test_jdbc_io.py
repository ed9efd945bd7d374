"""read_jdbc / write_jdbc with local Spark against PostgreSQL (SCRAM) and MariaDB."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

from glue_lib import read_jdbc, write_jdbc
from tests.glue_lib.conftest import Db

pytestmark = [pytest.mark.spark, pytest.mark.slow]

ROWS = [(i, f"name-{i}", i * 1.5) for i in range(1, 41)]
SCHEMA = "id INT, name STRING, score DOUBLE"


def _seed(db: Db, table: str = "items", rows: list[tuple[Any, ...]] = ROWS) -> None:
    db.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, name VARCHAR(40), score FLOAT)")
    if rows:
        values = ", ".join(f"({i}, '{n}', {s})" for i, n, s in rows)
        db.execute(f"INSERT INTO {table} (id, name, score) VALUES {values}")


def _rows(db: Db, table: str) -> list[tuple[Any, ...]]:
    return [
        (int(i), str(n), float(s))
        for i, n, s in db.query(f"SELECT id, name, score FROM {table} ORDER BY id")
    ]


def _tables(db: Db) -> set[str]:
    if db.engine == "postgres":
        rows = db.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    else:
        rows = db.query("SHOW TABLES")
    return {r[0] for r in rows}


def test_read_table_query_and_partitioned(spark: Any, db: Db) -> None:
    _seed(db)
    df = read_jdbc(spark, db.secret_id, table="items")
    assert sorted(tuple(r) for r in df.collect()) == ROWS
    n = read_jdbc(
        spark, db.secret_id, query="SELECT id FROM items WHERE id > 30", action=lambda d: d.count()
    )
    assert n == 10
    parted = read_jdbc(
        spark,
        db.secret_id,
        table="items",
        partition_column="id",
        lower_bound=1,
        upper_bound=41,
        num_partitions=4,
        fetchsize=7,
    )
    assert parted.rdd.getNumPartitions() == 4
    assert sorted(r.id for r in parted.collect()) == list(range(1, 41))


@pytest.mark.parametrize("mode", ["append", "overwrite", "upsert"])
def test_write_modes(spark: Any, db: Db, mode: str) -> None:
    _seed(db, rows=ROWS[:10])
    first = 11 if mode == "append" else 6  # append must not collide with the primary key
    new = [(i, f"new-{i}", float(i)) for i in range(first, first + 10)]
    df = spark.createDataFrame(new, SCHEMA).repartition(3)
    result = write_jdbc(df, db.secret_id, "items", mode=mode, key_columns=["id"])
    assert result.attempts == 1
    expected: dict[int, tuple[Any, ...]] = {}
    if mode in {"append", "upsert"}:
        expected = {r[0]: r for r in ROWS[:10]}
    for r in new:
        expected[r[0]] = r
    assert _rows(db, "items") == [expected[k] for k in sorted(expected)]
    assert _tables(db) == {"items"}  # the staging table is gone


def test_write_creates_missing_table(spark: Any, db: Db) -> None:
    df = spark.createDataFrame(ROWS, SCHEMA).repartition(2)
    write_jdbc(df, db.secret_id, "fresh", mode="append")
    assert _rows(db, "fresh") == ROWS
    assert _tables(db) == {"fresh"}


def test_failed_move_leaves_target_untouched(spark: Any, db: Db) -> None:
    _seed(db, rows=ROWS[:10])
    df = spark.createDataFrame([(5, "dup", 1.0), (50, "x", 2.0)], SCHEMA)
    with pytest.raises(Exception, match=r"(?i)duplicate|unique"):
        write_jdbc(df, db.secret_id, "items", mode="append")
    assert _rows(db, "items") == ROWS[:10]
    assert _tables(db) == {"items"}


def test_read_survives_rotation_between_planning_and_execution(spark: Any, db: Db) -> None:
    """Planned with the old password; rotated (window left open: AWSCURRENT is still
    the old password, the database wants AWSPENDING) before the action runs."""
    _seed(db)
    seen: list[int] = []

    def rotate_once(attempt: int) -> None:
        seen.append(attempt)
        if attempt == 1:
            db.rotation.rotate(stop_after="setSecret")

    rows = read_jdbc(
        spark,
        db.secret_id,
        table="items",
        partition_column="id",
        lower_bound=1,
        upper_bound=41,
        num_partitions=3,
        after_plan=rotate_once,
        action=lambda df: sorted(tuple(r) for r in df.collect()),
    )
    assert rows == ROWS
    assert seen == [1, 2]
    db.rotation.finish()
    assert read_jdbc(spark, db.secret_id, table="items", action=lambda d: d.count()) == 40


def test_write_survives_rotation_between_planning_and_execution(spark: Any, db: Db) -> None:
    _seed(db, rows=ROWS[:10])
    new = [(i, f"new-{i}", float(i)) for i in range(5, 31)]
    df = spark.createDataFrame(new, SCHEMA).repartition(4)

    def rotate_once(attempt: int) -> None:
        if attempt == 1:
            db.rotation.rotate()  # a full rotation: AWSCURRENT moves

    result = write_jdbc(
        df, db.secret_id, "items", mode="upsert", key_columns=["id"], after_plan=rotate_once
    )
    assert result.attempts == 2
    expected = {r[0]: r for r in ROWS[:10]} | {r[0]: r for r in new}
    assert _rows(db, "items") == [expected[k] for k in sorted(expected)]
    assert _tables(db) == {"items"}


def test_unstaged_writes(spark: Any, db: Db) -> None:
    """staging=False: an overwrite is re-run after a rotation (idempotent); an append
    is not re-run (that could duplicate rows) and fails with one clear error."""
    _seed(db, rows=ROWS[:5])
    new = [(i, f"u{i}", 1.0) for i in range(100, 120)]
    df = spark.createDataFrame(new, SCHEMA).repartition(2)

    def rotate_first(attempt: int) -> None:
        if attempt == 1:
            db.rotation.rotate()

    result = write_jdbc(
        df, db.secret_id, "items", mode="overwrite", staging=False, after_plan=rotate_first
    )
    assert result.attempts == 2
    assert _rows(db, "items") == new
    assert _tables(db) == {"items"}  # truncate, not drop-and-recreate: the table stays

    from pipeline_secrets import AuthenticationFailedError

    more = spark.createDataFrame([(500, "x", 2.0)], SCHEMA)
    with pytest.raises(AuthenticationFailedError):
        write_jdbc(
            more, db.secret_id, "items", mode="append", staging=False, after_plan=rotate_first
        )
    assert _rows(db, "items") == new
    # The cached credentials are stale now; the login check refreshes them first.
    result = write_jdbc(more, db.secret_id, "items", mode="append", staging=False)
    assert result.attempts == 1
    assert _rows(db, "items") == [*new, (500, "x", 2.0)]


def test_summary_line_per_read_and_write_and_a_warning_per_refresh(
    spark: Any, db: Db, caplog: pytest.LogCaptureFixture
) -> None:
    """INFO: one line per read/write with rows, partitions, attempts, refreshes and
    seconds; WARNING when the credentials are refreshed; no password anywhere."""
    _seed(db)
    old_password = db.rotation.current()["password"]

    def rotate_once(attempt: int) -> None:
        if attempt == 1:
            db.rotation.rotate(stop_after="setSecret")

    caplog.set_level(logging.INFO, logger="glue_lib")
    read_jdbc(
        spark,
        db.secret_id,
        table="items",
        partition_column="id",
        lower_bound=1,
        upper_bound=41,
        num_partitions=3,
        after_plan=rotate_once,
        action=lambda df: df.write.format("noop").mode("overwrite").save(),
    )
    db.rotation.finish()
    df = spark.createDataFrame([(100, "x", 1.0), (101, "y", 2.0)], SCHEMA).repartition(2)
    write_jdbc(df, db.secret_id, "items", mode="append")

    mine = [r for r in caplog.records if r.name.startswith("glue_lib")]
    summaries = [r.getMessage() for r in mine if r.getMessage().startswith("JDBC ")]
    read_line = next(m for m in summaries if m.startswith("JDBC read items"))
    assert "rows=40 partitions=3 attempts=2 refreshes=1 seconds=" in read_line
    write_line = next(m for m in summaries if m.startswith("JDBC write (append, staged) items"))
    assert "rows=2 partitions=2 attempts=1 refreshes=0 seconds=" in write_line
    warnings = [r.getMessage() for r in mine if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and db.secret_id in warnings[0], warnings
    new_password = db.rotation.current()["password"]
    assert old_password not in caplog.text and new_password not in caplog.text


def test_staged_write_logs_in_twice(spark: Any, db: Db, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fixed cost of a staged write: one DB-API login to check the target and
    create the staging table, one to move the rows and drop it (each login is a SCRAM
    handshake)."""
    import glue_lib.jdbc_io as jdbc_io

    _seed(db, rows=ROWS[:10])
    logins: list[str] = []
    real = jdbc_io.dbapi_connect

    def counting(secret_id: str, **kwargs: Any) -> Any:
        logins.append(secret_id)
        return real(secret_id, **kwargs)

    monkeypatch.setattr(jdbc_io, "dbapi_connect", counting)
    df = spark.createDataFrame([(100, "x", 1.0), (101, "y", 2.0)], SCHEMA)
    result = write_jdbc(df, db.secret_id, "items", mode="append")
    assert result.rows_moved == 2
    assert len(logins) == 2
    assert _tables(db) == {"items"}


def _count_insert_statements(db: Db, table: str) -> Callable[[], int]:
    """A statement-level trigger on ``table``: how many INSERT statements reached it
    (one per row for a plain JDBC batch, one per up to 128 rows when pgjdbc rewrites)."""
    db.execute("CREATE TABLE insert_statements (seen TIMESTAMPTZ NOT NULL DEFAULT now())")
    db.execute(
        "CREATE FUNCTION note_insert() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN INSERT INTO insert_statements DEFAULT VALUES; RETURN NULL; END $$"
    )
    db.execute(
        f"CREATE TRIGGER {table}_inserts AFTER INSERT ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION note_insert()"
    )

    def seen() -> int:
        return int(db.query("SELECT COUNT(*) FROM insert_statements")[0][0])

    return seen


@pytest.mark.parametrize("db", ["postgres"], indirect=True)
def test_postgres_writes_send_batches_as_multi_row_inserts(spark: Any, db: Db) -> None:
    """write_jdbc sets pgjdbc's reWriteBatchedInserts (a batch goes as multi-row
    INSERTs, fewer round trips), unless the caller sets it; counted at the server."""
    _seed(db, rows=[])
    seen = _count_insert_statements(db, "items")
    rows = [(i, f"n{i}", 1.0) for i in range(1, 1001)]
    df = spark.createDataFrame(rows, SCHEMA).repartition(2)
    write_jdbc(df, db.secret_id, "items", mode="append", staging=False)
    rewritten = seen()
    assert 0 < rewritten <= len(rows) // 10
    db.execute("TRUNCATE items")
    before = seen()
    write_jdbc(
        df, db.secret_id, "items", mode="append", staging=False, reWriteBatchedInserts="false"
    )
    assert seen() - before == len(rows)  # the caller's choice wins: one INSERT per row
    assert len(_rows(db, "items")) == len(rows)


def test_staged_and_unstaged_writes_share_the_write_options(
    spark: Any, db: Db, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both write paths build Spark's options in one place (the batch properties for
    PostgreSQL, none for MariaDB's drivers)."""
    import glue_lib.jdbc_io as jdbc_io

    _seed(db, rows=[])
    built: list[dict[str, str]] = []
    real = jdbc_io._write_options

    def spy(*args: Any) -> Any:
        opts = real(*args)
        built.append(dict(opts))
        return opts

    monkeypatch.setattr(jdbc_io, "_write_options", spy)
    df = spark.createDataFrame(ROWS[:3], SCHEMA)
    write_jdbc(df, db.secret_id, "items", mode="append")
    write_jdbc(df, db.secret_id, "items", mode="overwrite", staging=False)
    assert len(built) == 2
    expected = "true" if db.engine == "postgres" else None
    assert [o.get("reWriteBatchedInserts") for o in built] == [expected, expected]
    assert _rows(db, "items") == ROWS[:3]
