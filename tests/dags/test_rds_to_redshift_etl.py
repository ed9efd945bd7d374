"""rds_to_redshift_etl with ``airflow dags test`` against the local stack: the daily
totals of the interval land in the target, and a re-run replaces them (no duplicates)."""

from __future__ import annotations

import pytest

from devstack import stack
from devstack.airflow_env import AirflowHome
from devstack.iam import PolicyDocument, secret_arn
from devstack.moto_server import read_counts
from tests.dags.conftest import dags_test, tail
from tests.dags.stack_helpers import ExampleStack

pytestmark = [pytest.mark.slow, pytest.mark.airflow, pytest.mark.postgres]


def test_loads_the_interval_and_a_rerun_replaces_it(
    airflow_home: AirflowHome, dag_stack: ExampleStack
) -> None:
    day, next_day = "2026-11-04", "2026-11-05"  # the @daily interval of logical date 11-05
    expected = dag_stack.source_totals(day, next_day)
    assert len(expected) == 1 and expected[0][1] == "200"

    read_counts(dag_stack.moto.endpoint_url, reset=True)
    state, proc = dags_test(airflow_home, "rds_to_redshift_etl", next_day)
    assert state == "success", tail(proc)
    assert dag_stack.target_totals(day, next_day) == expected
    assert dag_stack.target_totals("2026-11-01", day) == []  # only its own interval
    assert_calls_allowed_by_the_backend_policy(dag_stack)

    # Tamper with the loaded row; the re-run must replace it, not add a second one.
    dag_stack.execute(
        stack.TARGET_DB, f"UPDATE {stack.DAILY_TABLE} SET orders = -1 WHERE order_date = %s", (day,)
    )
    state, proc = dags_test(airflow_home, "rds_to_redshift_etl", next_day)
    assert state == "success", tail(proc)
    assert dag_stack.target_totals(day, next_day) == expected
    count = dag_stack.rows(
        stack.TARGET_DB, f"SELECT count(*) FROM {stack.DAILY_TABLE} WHERE order_date = %s", (day,)
    )
    assert count == [("1",)]


def assert_calls_allowed_by_the_backend_policy(dag_stack: ExampleStack) -> None:
    """Every Secrets Manager call the DAG run made (counted by the moto server, across
    every Airflow process) is one docs/iam/airflow-backend.json allows on its secrets."""
    calls = read_counts(dag_stack.moto.endpoint_url)
    assert sum(calls.values()) > 0  # through the agent: mostly one BatchGetSecretValue per prefix
    policy = PolicyDocument.load("airflow-backend")
    secrets = [
        stack.SOURCE_SECRET_ID,
        stack.TARGET_SECRET_ID,
        f"{stack.VARIABLES_PREFIX}/{stack.SETTINGS_VARIABLE}",
    ]
    for operation in calls:
        action = f"secretsmanager:{operation}"
        assert all(policy.allows(action, secret_arn(s, stack.REGION)) for s in secrets), (
            f"the ETL run called {operation}, which the backend's IAM policy does not allow"
        )
