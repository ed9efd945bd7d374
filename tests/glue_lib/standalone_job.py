"""Driver script (and the task function its executors import) for the standalone-cluster
test: ``python -m tests.glue_lib.standalone_job SETTINGS_JSON``.

The write runs 8 partitions on two executors (one core each): partitions 0 and 1
write with the credentials each executor fetched, then every other partition waits
for the test to rotate the secret (a file ``rotated`` appears) and so meets a database
that refuses the cached password. After the write the driver waits for ``go-read``
(the test rotates again) and reads the rows back with :func:`read_partitions`.
Prints one JSON line with what happened; never a credential.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from glue_lib import PartitionWriter, read_partitions


def wait_for(path: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path.name} did not appear")
        time.sleep(0.05)


@dataclass(frozen=True)
class GatedWrite:
    """``rdd.mapPartitionsWithIndex(GatedWrite(...))``: partitions past the first two
    wait for the rotation before writing; yields (partition, pid, rows written)."""

    writer: PartitionWriter
    markers: str

    def __call__(self, index: int, rows: Iterable[Any]) -> Iterator[tuple[int, int, int]]:
        batch = list(rows)
        if index >= 2:
            wait_for(Path(self.markers, "rotated"))
        written = self.writer.write(batch)
        Path(self.markers, f"written-{index}").touch()
        yield index, os.getpid(), written


def main(settings_path: str) -> int:
    settings = json.loads(Path(settings_path).read_text())
    markers = Path(settings["markers"])
    from pyspark.sql import SparkSession

    builder = (
        SparkSession.builder.master(settings["master"])
        .appName("glue_lib-standalone")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.executor.cores", "1")
        .config("spark.cores.max", "2")
        .config("spark.executor.memory", "512m")
        .config("spark.python.worker.reuse", "true")
        .config("spark.task.maxFailures", "1")  # the library recovers, not Spark's retry
    )
    for key, value in settings["executor_env"].items():
        builder = builder.config(f"spark.executorEnv.{key}", value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    sc = spark.sparkContext
    secret_id, table, rows = settings["secret_id"], settings["table"], settings["rows"]

    write_refreshes = sc.accumulator(0)
    writer = PartitionWriter(
        secret_id, table, ["id", "name"], method="copy", refresh_counter=write_refreshes
    )
    data = sc.parallelize([(i, f"name-{i}") for i in range(rows)], 8)
    written = data.mapPartitionsWithIndex(GatedWrite(writer, str(markers))).collect()
    (markers / "write-done").touch()

    wait_for(markers / "go-read")
    read_refreshes = sc.accumulator(0)
    df = read_partitions(
        spark,
        secret_id,
        table=table,
        column="id",
        lower_bound=0,
        upper_bound=rows,
        num_partitions=4,
        schema="id BIGINT, name STRING",
        refresh_counter=read_refreshes,
    )
    ids = df.rdd.mapPartitions(lambda part: [(os.getpid(), [r[0] for r in part])]).collect()
    result = {
        "driver_pid": os.getpid(),
        "write_pids": sorted({pid for _, pid, _ in written}),
        "written": sum(n for _, _, n in written),
        "write_refreshes": write_refreshes.value,
        "read_pids": sorted({pid for pid, _ in ids}),
        "read_ids": sorted(i for _, part in ids for i in part) == list(range(rows)),
        "read_refreshes": read_refreshes.value,
        # the driver is listed too
        "executors": len(list(sc._jsc.sc().statusTracker().getExecutorInfos())) - 1,
    }
    print("RESULT " + json.dumps(result), flush=True)
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
