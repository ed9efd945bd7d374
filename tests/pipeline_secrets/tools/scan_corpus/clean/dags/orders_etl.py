# ruff: noqa
"""Daily orders ETL, credentials from Secrets Manager (scanner corpus: clean look-alike)."""

from __future__ import annotations

import os
from datetime import datetime

import psycopg2
from airflow import DAG
from airflow.hooks.base import BaseHook
from airflow.models import Variable
from airflow.operators.python import PythonOperator

import pipeline_secrets as ps

WAREHOUSE_SECRET_ID = "prod/warehouse/etl_loader"
REPORTING_DSN = "host=reporting.internal port=5432 user=reporter dbname=reports sslmode=verify-full"
DOC_EXAMPLE = "postgresql://user:password@host:5432/db"
TEMPLATE = "postgresql://{{ conn.warehouse.login }}:{{ conn.warehouse.password }}@{{ conn.warehouse.host }}/dw"
CHECKSUM = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
RUN_ID = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
SFTP_PASSWORD: str = Variable.get("sftp_password")
PASSWORD_FIELD: str = "password"


def extract(**context):
    conn_info = BaseHook.get_connection("orders_db")
    os.environ["PGPASSWORD"] = conn_info.password
    token = os.environ["PARTNER_API_TOKEN"]
    api_key = os.getenv("PARTNER_API_KEY", "")
    creds = ps.get_db_credentials(WAREHOUSE_SECRET_ID)
    conn = psycopg2.connect(
        host=creds.host, user=creds.username, password=creds.password, dbname="orders"
    )
    headers = {"Authorization": f"Bearer {token}", "X-Api-Key": api_key}
    return conn, headers


def load(password=None, token: str | None = None):
    secret = ps.get_secret("prod/partner/api-token")
    return secret


with DAG("orders_etl", start_date=datetime(2026, 1, 1), schedule="@daily", catchup=False):
    PythonOperator(task_id="extract", python_callable=extract)
