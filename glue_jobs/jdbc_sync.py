"""Example Glue job: copy a query's rows from one database into a table of another,
both reached through Secrets Manager, surviving password rotations mid-job.

Job parameters (secret *ids* only, never values)::

    --additional-python-modules s3://bucket/libs/pipeline_secrets-0.1.0-py3-none-any.whl,psycopg2-binary,pymysql
    --source_secret_id prod/orders-db
    --source_query "SELECT id, customer, total FROM sales.orders WHERE day = CURRENT_DATE"
    --target_secret_id prod/warehouse-db
    --target_table reporting.orders_today
    --mode upsert              (optional: append | overwrite | upsert; default append)
    --key_columns id           (optional, comma-separated; for upsert)

Runs the same on Glue (GlueContext) and on plain Spark (``spark-submit`` or ``python``).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from glue_lib import init_job, read_jdbc, write_jdbc


def main(argv: Sequence[str] | None = None) -> int:
    ctx = init_job(
        ["source_secret_id", "source_query", "target_secret_id", "target_table"],
        argv,
        optional_args=["mode", "key_columns"],
        app_name="jdbc_sync",
    )
    args = ctx.args
    rows = read_jdbc(ctx.spark, args["source_secret_id"], query=args["source_query"])
    keys = [k.strip() for k in args.get("key_columns", "").split(",") if k.strip()]
    result = write_jdbc(
        rows,
        args["target_secret_id"],
        args["target_table"],
        mode=args.get("mode", "append"),
        key_columns=keys,
    )
    print(
        f"{result.rows_moved} row(s) into {result.table} ({result.mode}), "
        f"{result.attempts} attempt(s)"
    )
    ctx.commit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
