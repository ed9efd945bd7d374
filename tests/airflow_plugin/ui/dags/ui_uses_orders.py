"""A DAG whose task names the connection ``ui_orders_db``: the Secrets page lists it
under "Used by" (from the serialized DAG; never parsed by the page itself)."""

from __future__ import annotations

from datetime import datetime, timezone

from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator
from airflow.sdk import DAG

with DAG(
    "ui_uses_orders",
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    tags=["pipeline-secrets-tests"],
):
    SQLExecuteQueryOperator(task_id="count_orders", conn_id="ui_orders_db", sql="SELECT 1")
