"""End-to-end DAG: tasks keep reading and writing through the hooks while credentials rotate.

setup -> rotate_begin (createSecret + setSecret) -> write_in_window -> rotate_finish
(finishSecret) -> read_after. The rotation uses ``RotateSecretOperator(mode="local")``
when ``pipeline_secrets.rotation`` is installed (stopping after setSecret, then
resuming), else the test helper that plays the same steps.

Environment: ``AIRFLOW_CONN_PG_APP`` (conn type pipeline_secrets_postgres, extra
``secret_id``), ``E2E_MARIA_SECRET`` (a secret id used directly), and boto3 variables
pointing at the moto server.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from datetime import datetime

from airflow.providers.standard.operators.python import PythonOperator

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG

from airflow_plugin.hooks.mysql import MySqlSecretsHook
from airflow_plugin.hooks.postgres import PostgresSecretsHook

log = logging.getLogger("rotation_e2e")
PG_SECRET = os.environ.get("E2E_PG_SECRET", "e2e/pg")
MARIA_SECRET = os.environ.get("E2E_MARIA_SECRET", "e2e/maria")
HAS_ROTATION = importlib.util.find_spec("pipeline_secrets.rotation") is not None


def _hooks() -> tuple[PostgresSecretsHook, MySqlSecretsHook]:
    return PostgresSecretsHook(postgres_conn_id="pg_app"), MySqlSecretsHook(secret_id=MARIA_SECRET)


def setup() -> None:
    pg, maria = _hooks()
    pg.run("CREATE TABLE events (id int PRIMARY KEY, stage text)")
    maria.run("CREATE TABLE events (id int PRIMARY KEY, stage varchar(40))")
    for hook in (pg, maria):
        hook.insert_rows("events", [(1, "before")], target_fields=["id", "stage"])


def write(row_id: int, stage: str) -> None:
    pg, maria = _hooks()
    for hook in (pg, maria):
        hook.insert_rows("events", [(row_id, stage)], target_fields=["id", "stage"])
        rows = hook.get_records("SELECT id FROM events ORDER BY id")
        log.info("%s sees rows %s", type(hook).__name__, [r[0] for r in rows])
    # Even code that prints a credential gets it masked in the task log.
    log.info("pg password in use: %s", pg.connection.password)
    print("maria password in use:", maria.connection.password)


def read_after() -> None:
    write(3, "after")
    pg, maria = _hooks()
    for hook in (pg, maria):
        stages = [r[0] for r in hook.get_records("SELECT stage FROM events ORDER BY id")]
        if stages != ["before", "window", "after"]:
            raise AssertionError(f"{type(hook).__name__}: unexpected rows {stages}")
        hook.run("UPDATE events SET stage = 'checked' WHERE id = 3")
    engine = pg.get_sqlalchemy_engine()
    with engine.connect() as conn:
        from sqlalchemy import text

        assert conn.execute(text("SELECT count(*) FROM events")).scalar() == 3
    engine.dispose()


def _sim_begin() -> None:
    from tests.airflow_plugin.e2e_rotation import begin_all

    begin_all([PG_SECRET, MARIA_SECRET])


def _sim_finish() -> None:
    from tests.airflow_plugin.e2e_rotation import finish_all

    finish_all([PG_SECRET, MARIA_SECRET])


with DAG("rotation_e2e", start_date=datetime(2026, 1, 1), schedule=None, catchup=False) as dag:
    t_setup = PythonOperator(task_id="setup", python_callable=setup)
    if HAS_ROTATION:
        from airflow_plugin.operators.rotate import RotateSecretOperator

        begin = [
            RotateSecretOperator(
                task_id=f"rotate_begin_{name}",
                secret_id=secret,
                mode="local",
                aws_conn_id=None,
                stop_after="setSecret",
            )
            for name, secret in (("pg", PG_SECRET), ("maria", MARIA_SECRET))
        ]
        finish = [
            RotateSecretOperator(
                task_id=f"rotate_finish_{name}", secret_id=secret, mode="local", aws_conn_id=None
            )
            for name, secret in (("pg", PG_SECRET), ("maria", MARIA_SECRET))
        ]
    else:
        begin = [PythonOperator(task_id="rotate_begin", python_callable=_sim_begin)]
        finish = [PythonOperator(task_id="rotate_finish", python_callable=_sim_finish)]
    t_window = PythonOperator(
        task_id="write_in_window", python_callable=write, op_args=[2, "window"]
    )
    t_after = PythonOperator(task_id="read_after", python_callable=read_after)
    t_setup >> begin
    for b in begin:
        b >> t_window
    for f in finish:
        t_window >> f
        f >> t_after
