"""A DAG that reads a Connection and a Variable and prints them (for the e2e test).

Printing secrets is exactly what a careless task does; the backend's masking must turn
them into ``***`` in the task log.
"""

from __future__ import annotations

import logging
from datetime import datetime

try:  # Airflow 3.x
    from airflow.sdk import BaseHook, Variable, dag, task
except ImportError:  # Airflow 2.x
    from airflow.decorators import dag, task  # type: ignore[no-redef]
    from airflow.hooks.base import BaseHook  # type: ignore[no-redef]
    from airflow.models import Variable  # type: ignore[no-redef]

log = logging.getLogger("e2e.read_secrets")


@dag(dag_id="e2e_read_secrets", schedule=None, start_date=datetime(2026, 1, 1), catchup=False)
def e2e_read_secrets() -> None:
    @task
    def read() -> None:
        conn = BaseHook.get_connection("e2e_db")
        value = Variable.get("e2e_plain_setting")
        log.info("E2E-CONN host=%s login=%s password=%s", conn.host, conn.login, conn.password)
        log.info("E2E-VAR value=%s", value)
        print(f"E2E-PRINT password={conn.password} variable={value}")

    read()


e2e_read_secrets()
