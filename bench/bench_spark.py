"""Spark JDBC through glue_lib against raw Spark JDBC, on the same rows, in one run.

Starts a moto server and a throwaway PostgreSQL cluster with SCRAM passwords (or uses
the local MariaDB with ``--engine mariadb``), then, on local Spark:

* write N rows with raw ``df.write.jdbc`` as users write it (the target), raw with
  the driver properties ``write_jdbc`` adds (``reWriteBatchedInserts`` on PostgreSQL:
  what our own work costs on top of the same driver work), with ``glue_lib.write_jdbc`` (staging
  table + one-transaction move), with ``write_jdbc(staging=False)`` (the JDBC path
  alone: same Spark write, plus secret lookup and retry wrapper), and with the
  per-partition writer (COPY on
  PostgreSQL, batched inserts on MariaDB);
* read them back with raw ``spark.read.jdbc`` and with ``glue_lib.read_jdbc``
  (partitioned on ``id``), and with ``glue_lib.read_partitions``.

Resolving a few percent on a shared 2-core machine (one round's noise is about
+-10%): every comparison is a ratio within one round, where raw and ours run in
mirrored order (raw, ours, ours, raw; the next round ours, raw, raw, ours), so a drift
in load hits both sides alike; before every timed step Python and the JVM collect
garbage and PostgreSQL checkpoints; each run starts with untimed settle rounds; the
target is judged on the median of the per-round ratios over ``--repeat`` runs x
``--rounds`` rounds, reported with its 95% interval (order statistics) and the spread
of the run medians.

Prints a table and writes JSON to ``bench/results/``. Usage::

    PYTHONPATH=. python bench/bench_spark.py            # 1,000,000 rows, 3 x 4 rounds
    PYTHONPATH=. python bench/bench_spark.py --steps read --rounds 8
    PYTHONPATH=. python bench/bench_spark.py --rows 50000 --repeat 1
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Mapping
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


STEPS = (
    "write_raw",
    "write_raw_batched",
    "write_glue_lib",
    "write_glue_lib_unstaged",
    "write_partition_writer",
    "read_raw",
    "read_glue_lib",
    "read_partitions",
)
# ratio name -> (ours, raw): the comparisons with a target (ours within 5% of raw).
RATIOS = {
    "write_glue_lib_to_raw": ("write_glue_lib", "write_raw"),
    "write_glue_lib_unstaged_to_raw": ("write_glue_lib_unstaged", "write_raw"),
    "read_glue_lib_to_raw": ("read_glue_lib", "read_raw"),
    # Raw Spark given the driver properties write_jdbc sets (reWriteBatchedInserts for
    # PostgreSQL): what the staging and the checks cost on top of the same driver work.
    "write_glue_lib_to_raw_batched": ("write_glue_lib", "write_raw_batched"),
    "write_glue_lib_unstaged_to_raw_batched": ("write_glue_lib_unstaged", "write_raw_batched"),
}
INFORMATIONAL = {"write_glue_lib_to_raw_batched", "write_glue_lib_unstaged_to_raw_batched"}


def median_interval(values: list[float], confidence: float = 0.95) -> tuple[float, float]:
    """Distribution-free interval for the median: order statistics whose binomial
    coverage is at least ``confidence`` (the whole range when there are too few)."""
    ordered = sorted(values)
    n = len(ordered)
    best = (ordered[0], ordered[-1])
    for k in range(n // 2):
        # P(X_(k+1) <= median <= X_(n-k)) = 1 - 2 * P(Binomial(n, 1/2) <= k)
        tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
        if 1 - 2 * tail < confidence:
            break
        best = (ordered[k], ordered[n - 1 - k])
    return best


def ratio_summary(rounds: list[dict[str, Any]], runs: int) -> dict[str, dict[str, Any]]:
    """Per ratio: the median of the per-round ratios, the 95% interval of that median,
    the min-max of the per-run medians and of the rounds."""
    out: dict[str, dict[str, Any]] = {}
    for key in RATIOS:
        values = [r["ratios"][key] for r in rounds if key in r["ratios"]]
        if not values:
            continue
        per_run = [
            statistics.median(v)
            for run in range(runs)
            if (v := [r["ratios"][key] for r in rounds if r["run"] == run and key in r["ratios"]])
        ]
        low, high = median_interval(values)
        out[key] = {
            "median": statistics.median(values),
            "ci95": [low, high],
            "run_medians": per_run,
            "rounds_min_max": [min(values), max(values)],
            "n": len(values),
        }
    return out


def markdown(data: dict[str, Any]) -> str:
    """The BENCHMARKS.md table and verdicts."""
    med, secs = data["median_seconds"], data["seconds"]
    lines = [
        f"#### Spark ({data['rows']:,} rows, {data['partitions']} partitions, local[2], "
        f"{data['engine']}, {data['repeat']} run(s) x {data['rounds']} round(s))",
        "",
        "| path | median s | min-max s | rows/s (median) | vs raw (median of times) |",
        "|---|---|---|---|---|",
    ]
    for key in secs:
        base = "write_raw" if key.startswith("write") else "read_raw"  # raw as users write it
        lines.append(
            f"| {key} | {med[key]:.2f} | {min(secs[key]):.2f}-{max(secs[key]):.2f} | "
            f"{data['rows'] / med[key]:,.0f} | "
            + (f"{med[key] / med[base]:.3f} |" if base in med else "- |")
        )
    lines += [
        "",
        "| ours / raw, per round (A B B A) | median | 95% interval of the median | "
        "run medians | rounds min-max | target |",
        "|---|---|---|---|---|---|",
    ]
    for key, s in data["ratio_spread"].items():
        low, high = s["ci95"]
        verdict = "met" if s["median"] < data["target_ratio"] else "NOT met"
        if verdict == "met" and high >= data["target_ratio"]:
            verdict = "met (interval reaches 5%)"
        target = (
            "(same driver properties; no target)"
            if key in INFORMATIONAL
            else f"< {data['target_ratio']:.2f}: **{verdict}**"
        )
        lines.append(
            f"| {key} | {s['median']:.3f} | {low:.3f}-{high:.3f} | "
            + ", ".join(f"{v:.3f}" for v in s["run_medians"])
            + f" | {s['rounds_min_max'][0]:.3f}-{s['rounds_min_max'][1]:.3f} | {target} |"
        )
    return "\n".join(lines)


def _timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--repeat", "--runs", type=int, default=3, help="runs (blocks of rounds)")
    parser.add_argument("--rounds", type=int, default=4, help="timed rounds per run")
    parser.add_argument(
        "--read-blocks",
        type=int,
        default=4,
        help="A B B A blocks of reads per round (a read is short: more samples per round)",
    )
    parser.add_argument(
        "--settle-rounds", type=int, default=1, help="untimed rounds before the first run"
    )
    parser.add_argument(
        "--steps",
        default="write,read,partition",
        help="what to time: write, read, partition (the per-partition writer and reader)",
    )
    parser.add_argument("--engine", choices=["postgres", "mariadb"], default="postgres")
    parser.add_argument("--batchsize", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    args.steps = set(args.steps.split(","))

    import signal

    def stop_on_term(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)  # unwinds through the finally below

    signal.signal(signal.SIGTERM, stop_on_term)
    cleanup: list[Callable[[], Any]] = []
    try:
        return _run(args, cleanup)
    finally:
        for stop in reversed(cleanup):
            try:
                stop()
            except Exception as exc:  # keep stopping the others
                print(f"cleanup: {type(exc).__name__}: {exc}", file=sys.stderr)


def _run(args: argparse.Namespace, cleanup: list[Callable[[], Any]]) -> int:
    import logging
    import secrets as pysecrets

    from devstack.moto_server import start_moto

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    moto = start_moto()
    cleanup.append(moto.stop)
    os.environ.update(moto.env())
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PIPELINE_SECRETS_MARIADB_JDBC_FLAVOR"] = "mariadb-as-mysql"
    cluster = None
    password = f"bench-{pysecrets.token_urlsafe(12)}"
    if args.engine == "postgres":
        from devstack.postgres import start_cluster

        cluster = start_cluster()
        cleanup.append(cluster.stop)
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
    from pipeline_secrets.jdbc import BATCH_WRITE_PROPERTIES

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
    cleanup.append(spark.stop)
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

    def raw_writer(table: str, driver_properties: Mapping[str, str]) -> Callable[[], None]:
        def write() -> None:
            df.write.format("jdbc").options(
                **raw_base, **driver_properties, dbtable=table, batchsize=str(args.batchsize)
            ).mode("append").save()

        return write

    batched = BATCH_WRITE_PROPERTIES.get(raw_base["driver"], {})
    raw_write = raw_writer("w_raw", {})
    raw_write_batched = raw_writer("w_rawb", batched)

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

    def settle() -> None:
        """Before every timed step: no garbage to collect (Python, then the JVM), dirty
        pages flushed (PostgreSQL CHECKPOINT), so no step pays for the one before."""
        gc.collect()
        jvm: Any = spark.sparkContext._jvm
        jvm.System.gc()
        if cluster is not None:
            cluster.admin_sql("CHECKPOINT")

    def timed(fn: Callable[[], Any]) -> float:
        settle()
        return _timed(fn)

    write_steps = {
        "write_raw": ("w_raw", raw_write),
        "write_raw_batched": ("w_rawb", raw_write_batched),
        "write_glue_lib": ("w_lib", lib_write),
        "write_glue_lib_unstaged": ("w_dir", lib_write_direct),
    }
    times: dict[str, list[float]] = {k: [] for k in STEPS}
    rounds: list[dict[str, Any]] = []

    def one_round(run: int, number: int) -> dict[str, Any]:
        """Raw and ours in mirrored order (A B B A; the next round B A A B): a drift
        in machine load during the round hits both sides equally."""
        got: dict[str, list[float]] = {k: [] for k in STEPS}
        flip = number % 2 == 1
        if "write" in args.steps:
            order = ["write_raw", "write_glue_lib", "write_glue_lib_unstaged"]
            if batched:  # a driver whose batch properties write_jdbc sets
                order.insert(1, "write_raw_batched")
            order = order[::-1] if flip else order
            for name in [*order, *order[::-1]]:
                table, fn = write_steps[name]
                reset(table)
                got[name].append(timed(fn))
                assert count(table) == args.rows, name
            if "partition" in args.steps:
                reset("w_part")
                got["write_partition_writer"].append(timed(partition_write))
                assert count("w_part") == args.rows
        if "read" in args.steps:
            raw_read()  # settle read: the table's pages are warm for all of them
            order = ["read_raw", "read_glue_lib"]
            order = order[::-1] if flip else order
            for name in [*order, *order[::-1]] * args.read_blocks:
                got[name].append(timed(raw_read if name == "read_raw" else lib_read))
            if "partition" in args.steps:
                got["read_partitions"].append(timed(partition_read))
        ratios = {}
        for key, (ours, raw) in RATIOS.items():
            if got[ours] and got[raw]:
                ratios[key] = sum(got[ours]) / sum(got[raw])
        return {"run": run, "round": number, "seconds": got, "ratios": ratios}

    if "write" not in args.steps:  # the reads read the raw write's table
        reset("w_raw")
        raw_write()
    for run in range(args.repeat):
        for _ in range(args.settle_rounds if run == 0 else 0):  # untimed: JIT, caches warm
            one_round(run, 0)
        for number in range(args.rounds):
            found = one_round(run, number)
            for name, values in found["seconds"].items():
                times[name].extend(values)
            rounds.append(found)
            shown = ", ".join(f"{k} {v:.3f}" for k, v in found["ratios"].items())
            print(f"run {run + 1} round {number + 1}: {shown}", flush=True)

    times = {k: v for k, v in times.items() if v}
    med = {k: statistics.median(v) for k, v in times.items()}
    best = {k: min(v) for k, v in times.items()}
    summary = ratio_summary(rounds, args.repeat)

    def ratios(stat: dict[str, float]) -> dict[str, float]:
        return {
            key: stat[ours] / stat[raw]
            for key, (ours, raw) in RATIOS.items()
            if ours in stat and raw in stat
        }

    results = {
        "benchmark": "bench_spark",
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "engine": args.engine,
        "rows": args.rows,
        "partitions": args.partitions,
        "repeat": args.repeat,
        "rounds": args.rounds,
        "batchsize": args.batchsize,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "spark": spark.version,
            "load_average_1min": os.getloadavg()[0],
        },
        "seconds": times,
        "median_seconds": med,
        "min_seconds": best,
        "rows_per_second_median": {k: args.rows / v for k, v in med.items()},
        # Per-round ratios (ours / raw of the same round), then the median: what the
        # targets are judged on. "ratio_min" compares the fastest rounds.
        "ratio_median": {k: s["median"] for k, s in summary.items()},
        "ratio_min": ratios(best),
        "ratio_spread": summary,
        "rounds_detail": rounds,
        "target_ratio": 1.05,
        "partition_writer_method": method,
    }
    results["markdown"] = markdown(results)
    print()
    print(results["markdown"])
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = args.out / f"spark-{args.engine}-{args.rows}-{stamp}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {path}")

    return 0


if __name__ == "__main__":
    raise SystemExit(main())
