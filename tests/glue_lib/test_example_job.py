"""The example job glue_jobs/jdbc_sync.py, run on local Spark from PostgreSQL to MariaDB."""

from __future__ import annotations

import secrets as pysecrets
from typing import Any

import pytest

from glue_jobs.jdbc_sync import main

pytestmark = [pytest.mark.spark, pytest.mark.slow]


def test_jdbc_sync_postgres_to_mariadb(
    spark: Any, pg_cluster: Any, pg_user: Any, maria_user: Any, put_secret: Any, mariadb_server: Any
) -> None:
    src, dst = pg_user(), maria_user()
    src_id, dst_id = f"src/{pysecrets.token_hex(3)}", f"dst/{pysecrets.token_hex(3)}"
    put_secret(src_id, src)
    put_secret(dst_id, dst)
    pg_cluster.admin_sql(
        "CREATE TABLE orders (id INT PRIMARY KEY, total NUMERIC(10,2))", dbname=src["dbname"]
    )
    pg_cluster.admin_sql(
        "INSERT INTO orders SELECT g, g * 1.25 FROM generate_series(1, 50) g", dbname=src["dbname"]
    )
    pg_cluster.admin_sql(f'GRANT SELECT ON orders TO "{src["username"]}"', dbname=src["dbname"])
    argv = [
        "jdbc_sync.py",
        "--source_secret_id",
        src_id,
        "--source_query",
        "SELECT id, total FROM orders WHERE id > 10",
        "--target_secret_id",
        dst_id,
        "--target_table",
        "orders_copy",
        "--mode",
        "upsert",
        "--key_columns",
        "id",
    ]
    assert main(argv) == 0
    assert main(argv) == 0  # idempotent: an upsert re-run changes nothing
    conn = mariadb_server.connect(database=dst["dbname"])
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT COUNT(*), MIN(id), MAX(id), SUM(total) FROM orders_copy")
            count, low, high, total = cur.fetchone()
    finally:
        conn.close()
    assert (count, low, high) == (40, 11, 50)
    assert float(total) == sum(g * 1.25 for g in range(11, 51))
