# ruff: noqa
"""Daily orders ETL (scanner corpus: planted credentials, see ../../manifest.json)."""

from __future__ import annotations

import os
from datetime import datetime

import psycopg2
from airflow import DAG
from airflow.operators.python import PythonOperator

WAREHOUSE_URI = "postgresql://etl_loader:Vq7#kT2mWz9x@warehouse.prod.internal:5432/dw"
REPORTING_DSN = (
    "host=reporting.internal port=5432 user=reporter password=Hn4$Lp8wQe2r dbname=reports"
)
os.environ["PGPASSWORD"] = "Zr6!Gm3vTy8k"
SFTP_PASSWORD: str = "Bc5^Xw9qJd4n"


def extract(**context):
    conn = psycopg2.connect(
        host="orders.internal", user="app", password="Ty3&Kw7pNs6v", dbname="orders"
    )
    with conn.cursor() as cur:
        cur.execute("SELECT * FROM orders WHERE day = %s", (context["ds"],))
        return cur.fetchall()


def load(rows, **context):
    conn = psycopg2.connect(WAREHOUSE_URI)
    headers = {
        "Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJldGwifQ.Qm3vXr8Lk2Tw9Pz4Hn7Jc5Gd1Fs6Bq0Wy"
    }
    return conn, headers


with DAG("orders_etl", start_date=datetime(2026, 1, 1), schedule="@daily", catchup=False):
    PythonOperator(task_id="extract", python_callable=extract)
