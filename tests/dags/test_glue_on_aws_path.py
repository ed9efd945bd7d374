"""glue_rds_to_redshift's AWS path: with ``glue_local`` false the amazon provider's
GlueJobOperator starts the Glue job (here moto's Glue API) with our job arguments."""

from __future__ import annotations

import pytest

from devstack import stack
from devstack.airflow_env import AirflowHome
from tests.dags.conftest import dags_test, tail
from tests.dags.stack_helpers import ExampleStack

pytestmark = [pytest.mark.slow, pytest.mark.airflow]


def test_starts_the_glue_job_with_secret_ids_and_dates(
    airflow_home: AirflowHome, dag_stack: ExampleStack
) -> None:
    import boto3

    glue = boto3.client(
        "glue",
        region_name=stack.REGION,
        endpoint_url=dag_stack.moto.endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    glue.create_job(
        Name="rds_to_redshift_test",
        Role="arn:aws:iam::123456789012:role/glue",
        Command={"Name": "glueetl", "ScriptLocation": "s3://bucket/rds_to_redshift.py"},
        GlueVersion="5.0",
    )
    state, proc = dags_test(
        airflow_home,
        "glue_rds_to_redshift",
        "2026-11-08",
        conf={"glue_local": False, "glue_job_name": "rds_to_redshift_test"},
        extra_env={
            "AWS_ENDPOINT_URL_GLUE": dag_stack.moto.endpoint_url,
            "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS": dag_stack.moto.endpoint_url,  # verbose: job logs
        },
    )
    assert "run_on_aws_glue" in proc.stdout, tail(proc)
    runs = glue.get_job_runs(JobName="rds_to_redshift_test")["JobRuns"]
    assert len(runs) == 1, tail(proc)
    args = runs[0]["Arguments"]
    assert args["--source_secret_id"] == stack.SOURCE_SECRET_ID
    assert args["--target_secret_id"] == stack.TARGET_SECRET_ID
    assert (args["--start_date"], args["--end_date"]) == ("2026-11-07", "2026-11-08")
    assert state == "success", tail(proc)
