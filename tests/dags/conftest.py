"""One example stack and one Airflow home (``airflow db migrate`` once) for every DAG
test; Airflow itself runs only in subprocesses (the real ``airflow`` CLI)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from devstack.airflow_env import AirflowHome, make_airflow_home
from tests.dags.stack_helpers import ExampleStack, example_stack
from tests.leakguard import GUARD


@pytest.fixture(scope="session")
def dag_stack(pg_cluster: Any) -> Iterator[ExampleStack]:
    with example_stack(pg_cluster) as example:
        yield example


@pytest.fixture(scope="session")
def airflow_home(dag_stack: ExampleStack) -> Iterator[AirflowHome]:
    home = make_airflow_home(dag_stack.moto.endpoint_url)
    yield home
    home.cleanup()


def dags_test(
    home: AirflowHome,
    dag_id: str,
    logical_date: str,
    conf: dict[str, Any] | None = None,
    extra_env: dict[str, str] | None = None,
) -> tuple[str, subprocess.CompletedProcess[str]]:
    """``airflow dags test``; returns the DagRun's final state and the process. The
    output and the task logs are checked for every registered secret value."""
    args = ["dags", "test", dag_id, logical_date]
    if conf is not None:
        args += ["--conf", json.dumps(conf)]
    proc = home.airflow(*args, check=False, timeout=600, extra_env=extra_env)
    GUARD.assert_clean({f"{dag_id} stdout": proc.stdout, f"{dag_id} stderr": proc.stderr})
    GUARD.assert_files_clean(home.path / "logs")
    finished = [line for line in proc.stdout.splitlines() if "DagRun Finished" in line]
    if not finished:
        return "unknown", proc
    return ("success" if "state=success" in finished[-1] else "failed"), proc


def tail(proc: subprocess.CompletedProcess[str], lines: int = 60) -> str:
    return "\n".join((proc.stdout + proc.stderr).splitlines()[-lines:])
