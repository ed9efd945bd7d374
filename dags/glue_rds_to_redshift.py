"""glue_rds_to_redshift: run the Glue job ``glue_jobs/rds_to_redshift.py`` for the
data interval, on AWS Glue or on local Spark.

The job does what ``rds_to_redshift_etl`` does (daily order totals from RDS
PostgreSQL into Redshift, idempotent per date range) with Spark and ``glue_lib``; it
is given secret *ids* only and fetches the credentials itself.

``choose_runner`` picks where it runs:

* on AWS (default): the amazon provider's ``GlueJobOperator`` starts the Glue job
  ``glue_job_name`` (default ``rds_to_redshift``) and waits for it. Create the job once
  (Glue 5, script ``glue_jobs/rds_to_redshift.py``, ``--additional-python-modules``
  pointing at the pipeline-secrets wheel, see docs/glue.md), or set
  ``glue_script_location`` (S3) and ``glue_iam_role_name`` and let the operator
  create it;
* locally (param/Variable ``glue_local``, or ``PIPELINE_SECRETS_GLUE_LOCAL=1``): the
  same script runs with ``python`` on a local Spark (``local[2]``, see
  ``glue_lib.local``; JDBC drivers from ``PIPELINE_SECRETS_SPARK_JARS``, default
  Debian's jars under /usr/share/java). The script's output goes to the task log.

The job's arguments: ``--source_secret_id``, ``--target_secret_id``, ``--start_date``
and ``--end_date`` (the data interval), ``--source_table``, ``--target_table``.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from airflow.providers.amazon.aws.operators.glue import GlueJobOperator
from airflow.sdk import (
    CronDataIntervalTimetable,
    Param,
    TriggerRule,
    dag,
    get_current_context,
    task,
)
from pipeline_settings import settings

log = logging.getLogger(__name__)

SCRIPT = Path(__file__).resolve().parents[1] / "glue_jobs" / "rds_to_redshift.py"


def job_arguments(cfg: dict[str, Any], start: str, end: str) -> dict[str, str]:
    """Glue job arguments (``--name``: value): ids and dates only, never a value."""
    return {
        "--source_secret_id": cfg["source_secret_id"],
        "--target_secret_id": cfg["target_secret_id"],
        "--source_table": cfg["orders_table"],
        "--target_table": cfg["daily_table"],
        "--start_date": start,
        "--end_date": end,
    }


def run_locally(script: Path, arguments: dict[str, str], job_name: str) -> str:
    """Run ``script`` with local Spark; return its output (raise if it fails)."""
    from glue_lib.local import run_script

    proc = run_script(script, {"JOB_NAME": job_name, **arguments})
    if proc.returncode != 0:
        raise RuntimeError(
            f"Glue script {script.name} failed with exit code {proc.returncode}:\n"
            + proc.stderr[-4000:]
        )
    return proc.stdout


@dag(
    dag_id="glue_rds_to_redshift",
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=datetime(2026, 11, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    tags=["pipeline-secrets", "example", "glue"],
    params={
        "glue_local": Param(None, type=["null", "boolean"]),
        "glue_job_name": Param(None, type=["null", "string"]),
        "source_secret_id": Param(None, type=["null", "string"]),
        "target_secret_id": Param(None, type=["null", "string"]),
    },
    doc_md=__doc__,
    render_template_as_native_obj=True,  # the Glue operator gets a dict of arguments
)
def glue_rds_to_redshift() -> None:
    @task
    def job_settings(params: dict[str, Any] | None = None) -> dict[str, Any]:
        cfg = settings(params)
        context = get_current_context()
        start, end = context["data_interval_start"], context["data_interval_end"]
        if start is None or end is None or end <= start:
            raise ValueError("this DAG needs a data interval (it is scheduled @daily)")
        return {
            "local": cfg["glue_local"],
            "job_name": cfg["glue_job_name"],
            "script_location": cfg["glue_script_location"],
            "iam_role_name": cfg["glue_iam_role_name"],
            "arguments": job_arguments(cfg, start.date().isoformat(), end.date().isoformat()),
        }

    @task.branch
    def choose_runner(job: dict[str, Any]) -> str:
        return "run_on_local_spark" if job["local"] else "run_on_aws_glue"

    @task
    def run_on_local_spark(job: dict[str, Any]) -> None:
        output = run_locally(SCRIPT, job["arguments"], job["job_name"])
        for line in output.splitlines():
            log.info("%s", line)

    job = job_settings()
    on_glue = GlueJobOperator(
        task_id="run_on_aws_glue",
        job_name="{{ ti.xcom_pull(task_ids='job_settings')['job_name'] }}",
        script_location="{{ ti.xcom_pull(task_ids='job_settings')['script_location'] }}",
        iam_role_name="{{ ti.xcom_pull(task_ids='job_settings')['iam_role_name'] }}",
        script_args="{{ ti.xcom_pull(task_ids='job_settings')['arguments'] }}",
        create_job_kwargs={"GlueVersion": "5.0", "WorkerType": "G.1X", "NumberOfWorkers": 2},
        wait_for_completion=True,
        verbose=True,
    )

    @task(trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS)
    def done() -> None:
        log.info("Glue job finished")

    local = run_on_local_spark(job)
    choose_runner(job) >> [local, on_glue]
    [local, on_glue] >> done()


glue_rds_to_redshift()
