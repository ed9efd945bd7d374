"""Spark JDBC through glue_lib against raw Spark JDBC, on the same rows, in one run.

Starts a moto server and a throwaway PostgreSQL cluster with SCRAM passwords (or uses
the local MariaDB with ``--engine mariadb``), then, on local Spark:

* write N rows with raw ``df.write.jdbc``, with ``glue_lib.write_jdbc`` (staging
  table + one-transaction move), with ``write_jdbc(staging=False)`` (the JDBC path
  alone: same Spark write, plus secret lookup and retry wrapper), and with the
  per-partition writer (COPY on
  PostgreSQL, batched inserts on MariaDB);
* read them back with raw ``spark.read.jdbc`` and with ``glue_lib.read_jdbc``
  (partitioned on ``id``), and with ``glue_lib.read_partitions``.

Prints a table and writes JSON to ``bench/results/``. Usage::

    PYTHONPATH=. python bench/bench_spark.py            # 1,000,000 rows
    PYTHONPATH=. python bench/bench_spark.py --rows 50000 --repeat 1
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

JARS = {
    "postgres": "/usr/share/java/postgresql.jar",
    "mariadb": "/usr/share/java/mariadb-java-client.jar",
}
DDL = "CREATE TABLE {name} (id BIGINT PRIMARY KEY, name VARCHAR(40), score DOUBLE PRECISION)"


def _timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement")
    parser.add_argument("--engine", choices=["postgres", "mariadb"], default="postgres")
    parser.add_argument("--batchsize", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)

    import logging
    import secrets as pysecrets

    from devstack.moto_server import start_moto

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    moto = start_moto()
    os.environ.update(moto.env())
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PIPELINE_SECRETS_MARIADB_JDBC_FLAVOR"] = "mariadb-as-mysql"
    cluster = None
    password = f"bench-{pysecrets.token_urlsafe(12)}"
    if args.engine == "postgres":
        from devstack.postgres import start_cluster

        cluster = start_cluster()
        cluster.create_user("bench", password)
        cluster.create_database("bench", owner="bench")
        doc = {"engine": "postgres", "host": cluster.host, "port": cluster.port}
        ddl = DDL
    else:
        from devstack.mariadb import ensure_running

        maria = ensure_running()
        maria.create_database("bench")
        maria.create_user("bench", password, "bench")
        doc = {"engine": "mariadb", "host": maria.host, "port": maria.port}
        ddl = DDL.replace("DOUBLE PRECISION", "DOUBLE")
    doc.update({"username": "bench", "password": password, "dbname": "bench"})
    moto.client().create_secret(Name="bench/db", SecretString=json.dumps(doc))

    from pyspark.sql import SparkSession

    from glue_lib import PartitionWriter, jdbc_options, read_jdbc, read_partitions, write_jdbc
    from glue_lib.driver_sql import run_sql
    from pipeline_secrets import configure
    from pipeline_secrets.client import ClientSettings

    configure(client_settings=ClientSettings.create(endpoint_url=moto.endpoint_url))
    builder = (
        SparkSession.builder.master("local[2]")
        .appName("bench_spark")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", str(args.partitions))
        .config("spark.jars", JARS[args.engine])
        .config("spark.driver.memory", "2g")
    )
    for key, value in moto.env().items():
        builder = builder.config(f"spark.executorEnv.{key}", value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")

    secret_id = "bench/db"
    raw_opts = jdbc_options(secret_id, table="x")  # the same URL/driver/user for raw Spark
    raw_base = {k: v for k, v in raw_opts.items() if k != "dbtable"}
    df = (
        spark.range(args.rows, numPartitions=args.partitions)
        .selectExpr("id", "concat('name-', id) AS name", "id * 1.5 AS score")
        .cache()
    )
    df.count()

    def reset(table: str) -> None:
        run_sql(secret_id, [f"DROP TABLE IF EXISTS {table}", ddl.format(name=table)])

    def count(table: str) -> int:
        got = read_jdbc(
            spark,
            secret_id,
            query=f"SELECT COUNT(*) AS n FROM {table}",
            action=lambda d: d.collect()[0][0],
        )
        return int(got)

    def raw_write() -> None:
        df.write.format("jdbc").options(
            **raw_base, dbtable="w_raw", batchsize=str(args.batchsize)
        ).mode("append").save()

    def lib_write() -> None:
        write_jdbc(df, secret_id, "w_lib", mode="append", batchsize=args.batchsize)

    def lib_write_direct() -> None:
        write_jdbc(df, secret_id, "w_dir", mode="append", staging=False, batchsize=args.batchsize)

    method = "copy" if args.engine == "postgres" else "insert"

    def partition_write() -> None:
        df.foreachPartition(
            PartitionWriter(
                secret_id, "w_part", df.columns, method=method, batch_size=args.batchsize
            )
        )

    read_opts: dict[str, Any] = {
        "partitionColumn": "id",
        "lowerBound": "0",
        "upperBound": str(args.rows),
        "numPartitions": str(args.partitions),
        "fetchsize": str(args.batchsize),
    }

    def raw_read() -> None:
        spark.read.format("jdbc").options(
            **raw_base, dbtable="w_raw", **read_opts
        ).load().write.format("noop").mode("overwrite").save()

    def lib_read() -> None:
        read_jdbc(
            spark,
            secret_id,
            table="w_raw",
            **read_opts,
            action=lambda d: d.write.format("noop").mode("overwrite").save(),
        )

    def partition_read() -> None:
        read_partitions(
            spark,
            secret_id,
            table="w_raw",
            column="id",
            lower_bound=0,
            upper_bound=args.rows,
            num_partitions=args.partitions,
            schema="id BIGINT, name STRING, score DOUBLE",
            fetch_size=args.batchsize,
        ).write.format("noop").mode("overwrite").save()

    # Warm up the JVM, the drivers and both code paths on a small slice first.
    small = df.limit(10_000)
    for table in ("warm_raw", "warm_lib"):
        reset(table)
    small.write.format("jdbc").options(**raw_base, dbtable="warm_raw").mode("append").save()
    write_jdbc(small, secret_id, "warm_lib", mode="append")
    spark.read.format("jdbc").options(**raw_base, dbtable="warm_raw").load().count()
    read_jdbc(spark, secret_id, table="warm_lib", action=lambda d: d.count())

    times: dict[str, list[float]] = {
        k: []
        for k in (
            "write_raw",
            "write_glue_lib",
            "write_glue_lib_unstaged",
            "write_partition_writer",
            "read_raw",
            "read_glue_lib",
            "read_partitions",
        )
    }
    for run in range(args.repeat):
        # Alternate the order so neither path always runs on a warmer JVM/database.
        pairs = [
            ("write_raw", "w_raw", raw_write),
            ("write_glue_lib", "w_lib", lib_write),
            ("write_glue_lib_unstaged", "w_dir", lib_write_direct),
        ]
        for name, table, fn in pairs if run % 2 == 0 else pairs[::-1]:
            reset(table)
            times[name].append(_timed(fn))
            assert count(table) == args.rows, name
        reset("w_part")
        times["write_partition_writer"].append(_timed(partition_write))
        assert count("w_part") == args.rows
        raw_read()  # untimed: the first read after the writes warms the table's pages
        reads = [("read_raw", raw_read), ("read_glue_lib", lib_read)]
        for name, fn in reads if run % 2 == 0 else reads[::-1]:
            times[name].append(_timed(fn))
        times["read_partitions"].append(_timed(partition_read))

    med = {k: statistics.median(v) for k, v in times.items()}
    best = {k: min(v) for k, v in times.items()}

    def ratios(stat: dict[str, float]) -> dict[str, float]:
        return {
            "write_glue_lib_to_raw": stat["write_glue_lib"] / stat["write_raw"],
            "write_glue_lib_unstaged_to_raw": stat["write_glue_lib_unstaged"] / stat["write_raw"],
            "read_glue_lib_to_raw": stat["read_glue_lib"] / stat["read_raw"],
        }

    results = {
        "benchmark": "bench_spark",
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "engine": args.engine,
        "rows": args.rows,
        "partitions": args.partitions,
        "repeat": args.repeat,
        "batchsize": args.batchsize,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "spark": spark.version,
        },
        "seconds": times,
        "median_seconds": med,
        "min_seconds": best,
        "rows_per_second_median": {k: args.rows / v for k, v in med.items()},
        "ratio_median": ratios(med),
        "ratio_min": ratios(best),
        "target_ratio": 1.05,
        "partition_writer_method": method,
    }
    print(
        f"\n{args.rows:,} rows, {args.partitions} partitions, local[2], {args.engine}, "
        f"{args.repeat} run(s)"
    )
    print(f"{'path':<24}{'median s':>10}{'min s':>8}{'rows/s':>12}{'vs raw':>8}{'(min)':>8}")
    for key in times:
        base = "write_raw" if key.startswith("write") else "read_raw"
        print(
            f"{key:<24}{med[key]:>10.2f}{best[key]:>8.2f}{args.rows / med[key]:>12,.0f}"
            f"{med[key] / med[base]:>8.3f}{best[key] / best[base]:>8.3f}"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = args.out / f"spark-{args.engine}-{args.rows}-{stamp}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {path}")

    spark.stop()
    if cluster is not None:
        cluster.stop()
    moto.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
