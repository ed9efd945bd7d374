"""secrets_compliance_report with ``airflow dags test``: with the local stack's policy
("rotation-disabled" is a warning: there is no rotation Lambda) the report passes; with
rotation required it fails, naming the secrets."""

from __future__ import annotations

import pytest

from devstack import stack
from devstack.airflow_env import AirflowHome
from tests.dags.conftest import dags_test, tail
from tests.dags.stack_helpers import ExampleStack

pytestmark = [pytest.mark.slow, pytest.mark.airflow]


def test_passes_with_the_stack_policy_and_fails_on_a_breach(
    airflow_home: AirflowHome, dag_stack: ExampleStack
) -> None:
    state, proc = dags_test(airflow_home, "secrets_compliance_report", "2026-11-10")
    assert state == "success", tail(proc)
    assert stack.SOURCE_SECRET_ID in proc.stdout and "[rotation-disabled]" in proc.stdout
    assert "none breaches the policy" in proc.stdout

    state, proc = dags_test(
        airflow_home,
        "secrets_compliance_report",
        "2026-11-11",
        conf={"audit_policy": {"require_rotation": True}},
    )
    assert state == "failed", tail(proc)
    assert "breach the policy" in proc.stdout
    assert stack.TARGET_SECRET_ID in proc.stdout
