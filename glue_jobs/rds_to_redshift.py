"""Glue 5 job: daily order totals from RDS PostgreSQL into Redshift.

The same transformation as the ``rds_to_redshift_etl`` DAG, with Spark: read the
orders of ``[start_date, end_date)`` from the source, aggregate per ``order_date``
(orders, distinct customers, revenue), upsert the totals into the target keyed by
``order_date`` (one transaction, through a staging table), then delete totals in the
range for days that no longer have orders. A re-run of a range replaces it; it never
duplicates rows.

Both databases are reached through Secrets Manager with ``glue_lib``: the job gets
secret *ids* only (job arguments can be logged), fetches the credentials itself and
survives a password rotation while it runs (re-plans with fresh credentials,
AWSPENDING in the single-user rotation window).

Job arguments (``getResolvedOptions``)::

    --JOB_NAME rds_to_redshift                          (Glue adds it)
    --source_secret_id airflow/connections/rds_orders
    --target_secret_id airflow/connections/redshift_warehouse
    --start_date 2026-11-01  --end_date 2026-11-08      (optional: every date if absent)
    --source_table public.orders                        (optional)
    --target_table public.daily_order_totals            (optional)

On Glue 5: ``--additional-python-modules`` with the pipeline-secrets wheel and
``psycopg2-binary`` (docs/glue.md). Locally: ``python glue_jobs/rds_to_redshift.py ...``
with pyspark and a PostgreSQL JDBC driver on the Spark classpath (``--jars``); a
GlueContext is used when ``awsglue`` is importable, a plain SparkSession otherwise.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Sequence
from datetime import date
from typing import Any

from glue_lib import init_job, read_jdbc, run_sql, write_jdbc

DEFAULT_SOURCE_TABLE = "public.orders"
DEFAULT_TARGET_TABLE = "public.daily_order_totals"
_TABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")


def _table(name: str) -> str:
    if not _TABLE.match(name):
        raise ValueError(f"not a plain [schema.]table name: {name!r}")
    return name


def date_range(args: dict[str, str]) -> tuple[date | None, date | None]:
    start = date.fromisoformat(args["start_date"]) if args.get("start_date") else None
    end = date.fromisoformat(args["end_date"]) if args.get("end_date") else None
    if start and end and end <= start:
        raise ValueError(f"--end_date {end} must be after --start_date {start}")
    return start, end


def range_sql(start: date | None, end: date | None) -> str:
    """A WHERE clause for the range (dates are parsed, so safe to inline)."""
    parts = []
    if start:
        parts.append(f"order_date >= DATE '{start.isoformat()}'")
    if end:
        parts.append(f"order_date < DATE '{end.isoformat()}'")
    return " AND ".join(parts) or "TRUE"


def daily_totals(orders: Any) -> Any:
    """The transformation: per order_date, orders, distinct customers and revenue."""
    from pyspark.sql import functions as F

    return (
        orders.groupBy("order_date")
        .agg(
            F.count(F.lit(1)).alias("orders"),
            F.countDistinct("customer_id").alias("customers"),
            F.sum("amount").cast("decimal(14,2)").alias("revenue"),
        )
        .orderBy("order_date")
    )


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for name in ("glue_lib", "pipeline_secrets"):  # reconnects and retries, never values
        logging.getLogger(name).setLevel(logging.INFO)
    ctx = init_job(
        ["source_secret_id", "target_secret_id"],
        argv,
        optional_args=["start_date", "end_date", "source_table", "target_table"],
        app_name="rds_to_redshift",
    )
    args = ctx.args
    start, end = date_range(args)
    where = range_sql(start, end)
    source_table = _table(args.get("source_table") or DEFAULT_SOURCE_TABLE)
    target_table = _table(args.get("target_table") or DEFAULT_TARGET_TABLE)

    orders = read_jdbc(
        ctx.spark,
        args["source_secret_id"],
        query=f"SELECT order_date, customer_id, amount FROM {source_table} WHERE {where}",
        fetchsize=10_000,
    )  # materialised inside the retry loop: a later rotation cannot break it
    totals = daily_totals(orders).localCheckpoint(eager=True)
    days = [row["order_date"] for row in totals.select("order_date").collect()]
    result = write_jdbc(
        totals, args["target_secret_id"], target_table, mode="upsert", key_columns=["order_date"]
    )
    # Days of the range that no longer have orders: their old totals go.
    keep = ", ".join(f"DATE '{d.isoformat()}'" for d in days)
    stale = f"DELETE FROM {target_table} WHERE {where}"
    run_sql(
        args["target_secret_id"], [stale + (f" AND order_date NOT IN ({keep})" if keep else "")]
    )
    print(
        f"rds_to_redshift: {orders.count()} orders -> {len(days)} daily total(s) in "
        f"{target_table} ({result.mode}, {result.attempts} write attempt(s)); "
        f"range {start or '-inf'} .. {end or '+inf'}"
    )
    ctx.commit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
