"""glue_rds_to_redshift with ``airflow dags test``: the seeded settings say "local", so
the Glue script runs on local Spark for the interval and its totals land in the target."""

from __future__ import annotations

import pytest

from devstack.airflow_env import AirflowHome
from tests.dags.conftest import dags_test, tail
from tests.dags.stack_helpers import ExampleStack

pytestmark = [pytest.mark.slow, pytest.mark.airflow, pytest.mark.postgres, pytest.mark.spark]


def test_runs_the_glue_script_on_local_spark(
    airflow_home: AirflowHome, dag_stack: ExampleStack
) -> None:
    day, next_day = "2026-11-06", "2026-11-07"
    expected = dag_stack.source_totals(day, next_day)
    assert len(expected) == 1

    state, proc = dags_test(airflow_home, "glue_rds_to_redshift", next_day)
    assert state == "success", tail(proc)
    assert "run_on_local_spark" in proc.stdout
    assert "rds_to_redshift: 200 orders -> 1 daily total(s)" in proc.stdout
    assert dag_stack.target_totals(day, next_day) == expected
