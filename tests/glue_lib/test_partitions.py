"""Per-partition writers and range readers that fetch the secret on the executors."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from glue_lib import PartitionWriter, partition_ranges, read_partitions
from tests.glue_lib.conftest import Db
from tests.glue_lib.standalone_job import GatedWrite, wait_for

pytestmark = [pytest.mark.spark, pytest.mark.slow]

SCHEMA = "id INT, name STRING, score DOUBLE"


def _create(db: Db, table: str = "target") -> None:
    db.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, name VARCHAR(60), score FLOAT)")


def _rows(db: Db, table: str = "target") -> list[tuple[Any, ...]]:
    return [
        (int(i), None if n is None else str(n), None if s is None else float(s))
        for i, n, s in db.query(f"SELECT id, name, score FROM {table} ORDER BY id")
    ]


def test_partition_ranges_cover_everything_once() -> None:
    assert partition_ranges(0, 10, 1) == [(None, None, True)]
    ranges = partition_ranges(0, 100, 4)
    assert ranges == [(None, 25, True), (25, 50, False), (50, 75, False), (75, None, False)]
    assert len(partition_ranges(0, 3, 10)) == 3
    with pytest.raises(ValueError):
        partition_ranges(0, 10, 0)


@pytest.mark.parametrize("method", ["copy", "insert"])
def test_partition_writer_append(spark: Any, db: Db, method: str) -> None:
    if db.engine != "postgres" and method == "copy":
        pytest.skip("COPY is PostgreSQL's")
    _create(db)
    rows = [(i, f"n\t{i}\\x\n'\"", i / 4) for i in range(200)] + [(1000, None, None)]
    df = spark.createDataFrame(rows, SCHEMA).repartition(4)
    df.foreachPartition(
        PartitionWriter(db.secret_id, "target", df.columns, method=method, batch_size=32)
    )
    assert _rows(db) == sorted(rows)


def test_partition_writer_upsert(spark: Any, db: Db) -> None:
    _create(db)
    db.execute("INSERT INTO target VALUES (1, 'old', 1.0), (2, 'old', 2.0)")
    df = spark.createDataFrame([(2, "new", 20.0), (3, "new", 30.0)], SCHEMA).repartition(2)
    df.foreachPartition(
        PartitionWriter(db.secret_id, "target", df.columns, mode="upsert", key_columns=["id"])
    )
    assert _rows(db) == [(1, "old", 1.0), (2, "new", 20.0), (3, "new", 30.0)]


def test_rotation_while_partition_write_runs(spark: Any, db: Db, tmp_path: Path) -> None:
    """The password is rotated (window open, then finished) while an 8-partition write
    is running on 2 cores: tasks that start later fetch the secret themselves, find
    AWSPENDING, and the job finishes on its first run with every row exactly once.

    Event-driven, no timing window: partitions 0 and 1 write first; the others wait
    for the rotation (a marker file); the window is closed only after a partition has
    written in it."""
    _create(db)
    partitions, per_partition = 8, 30
    n = partitions * per_partition
    rows = [(i, f"row-{i}", float(i)) for i in range(n)]
    refreshes = spark.sparkContext.accumulator(0)
    writer = PartitionWriter(
        db.secret_id, "target", ["id", "name", "score"], batch_size=10, refresh_counter=refreshes
    )
    rdd = spark.sparkContext.parallelize(rows, partitions)
    job_error: list[BaseException] = []
    group = f"rotation-write-{db.secret_id}"

    def run() -> None:
        try:
            spark.sparkContext.setJobGroup(group, "rotation while writing")
            rdd.mapPartitionsWithIndex(GatedWrite(writer, str(tmp_path))).collect()
        except BaseException as exc:  # reported below
            job_error.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    try:
        wait_for(tmp_path / "written-0")  # both first tasks wrote with the old password
        wait_for(tmp_path / "written-1")
        db.rotation.create_and_set()  # the database now wants AWSPENDING only
        (tmp_path / "rotated").touch()
        wait_for(tmp_path / "written-2")  # a task wrote inside the window
    finally:
        (tmp_path / "rotated").touch()  # never leave tasks waiting
        thread.join(120)
    db.rotation.finish()
    assert not job_error, repr(job_error[:1])
    tracker = spark.sparkContext.statusTracker()
    jobs = tracker.getJobIdsForGroup(group)
    assert len(jobs) == 1  # the job ran once; no stage was re-run
    stage_ids = tracker.getJobInfo(jobs[0]).stageIds
    assert [tracker.getStageInfo(s).numCompletedTasks for s in stage_ids] == [partitions]
    assert refreshes.value >= 1  # later tasks had to refresh the secret themselves
    assert db.query("SELECT COUNT(*), COUNT(DISTINCT id) FROM target")[0] == (n, n)
    assert _rows(db) == rows


def test_read_partitions_with_rotation_window(spark: Any, db: Db) -> None:
    _create(db)
    values = ", ".join(f"({i}, 'r{i}', {i}.5)" for i in range(100))
    db.execute(f"INSERT INTO target (id, name, score) VALUES {values}")
    db.rotation.create_and_set()  # executors must find AWSPENDING themselves
    refreshes = spark.sparkContext.accumulator(0)
    df = read_partitions(
        spark,
        db.secret_id,
        table="target",
        column="id",
        lower_bound=0,
        upper_bound=100,
        num_partitions=4,
        schema=SCHEMA,
        refresh_counter=refreshes,
    )
    assert df.rdd.getNumPartitions() == 4
    got = sorted(tuple(r) for r in df.collect())
    assert got == [(i, f"r{i}", i + 0.5) for i in range(100)]
    assert refreshes.value >= 1


def test_read_partitions_infers_schema(spark: Any, db: Db) -> None:
    _create(db)
    db.execute("INSERT INTO target VALUES (1, 'a', 1.0), (2, NULL, NULL)")
    df = read_partitions(
        spark,
        db.secret_id,
        query="SELECT id, name, score FROM target",
        column="id",
        lower_bound=1,
        upper_bound=3,
        num_partitions=2,
    )
    assert df.columns == ["id", "name", "score"]
    assert sorted(tuple(r) for r in df.collect()) == [(1, "a", 1.0), (2, None, None)]


def test_executors_fetch_the_secret_once_per_worker_process(spark: Any, db: Db) -> None:
    from glue_lib import SecretAccess
    from pipeline_secrets.cache import CachePolicy

    _create(db)
    # A SecretAccess of its own: this test's workers start with empty caches.
    import random

    access = SecretAccess(cache_policy=CachePolicy(ttl_seconds=1000 + random.random()))
    rows = [(i, f"r{i}", 1.0) for i in range(80)]
    df = spark.createDataFrame(rows, SCHEMA).repartition(8)
    df.foreachPartition(PartitionWriter(db.secret_id, "target", df.columns, access=access))
    assert db.query("SELECT COUNT(*) FROM target")[0][0] == 80

    def probe(_: Any) -> Any:
        import os

        from glue_lib.executor import executor_reconnector

        yield os.getpid(), executor_reconnector(access).cache.stats.api_calls("GetSecretValue")

    seen = dict(spark.sparkContext.parallelize(range(4), 4).mapPartitions(probe).collect())
    assert seen and all(calls <= 1 for calls in seen.values()), seen
    assert sum(seen.values()) >= 1  # the workers that wrote did fetch it themselves
