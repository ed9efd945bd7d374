"""End to end with the real ``airflow`` CLI, configured through environment variables only.

A temporary AIRFLOW_HOME (sqlite, ``airflow db migrate``) per session; the moto
endpoint reaches every Airflow process through ``AWS_ENDPOINT_URL_SECRETS_MANAGER``.
On Airflow 3 the task runs the production way (``dags test --use-executor``: the
LocalExecutor's supervisor, a task process, the execution API of a real
``airflow api-server``), and the task log file is checked; on Airflow 2 the task runs
in the CLI process and its log output is checked.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.airflow_plugin.conftest import AIRFLOW_MAJOR

pytestmark = [pytest.mark.airflow, pytest.mark.slow]

AIRFLOW_BIN = str(Path(sys.executable).with_name("airflow"))
DAGS = Path(__file__).with_name("dags")
BACKEND = "airflow_plugin.secrets_manager.SecretsManagerBackend"
OFFICIAL = "airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend"
DAG_ID = "e2e_read_secrets"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _same(a: Any, b: Any) -> bool:
    """Compare values without letting pytest print them."""
    return hashlib.sha256(str(a).encode()).digest() == hashlib.sha256(str(b).encode()).digest()


class AirflowHome:
    def __init__(self, root: Path, moto_env: dict[str, str]) -> None:
        self.root = root
        self.api_port = _free_port()
        self.base_env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")},
            **moto_env,
            "AIRFLOW_HOME": str(root),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{root}/airflow.db",
            "AIRFLOW__API_AUTH__JWT_SECRET": "e2e-jwt-secret-for-tests-only-0123456789",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": (
                f"http://127.0.0.1:{self.api_port}/execution/"
            ),
            "AIRFLOW__CORE__PARALLELISM": "2",  # the LocalExecutor forks this many workers
            "PYTHONPATH": os.getcwd(),
        }

    def env(self, backend: str = BACKEND, **kwargs: str) -> dict[str, str]:
        env = {**self.base_env, "AIRFLOW__SECRETS__BACKEND": backend}
        if backend == BACKEND and AIRFLOW_MAJOR >= 3:
            env["AIRFLOW__WORKERS__SECRETS_BACKEND"] = backend
            # Per-key variables hold raw strings; the backend parses them.
            for key, value in kwargs.items():
                env[f"AIRFLOW__SECRETS__BACKEND_KWARG__{key.upper()}"] = value
                env[f"AIRFLOW__WORKERS__SECRETS_BACKEND_KWARG__{key.upper()}"] = value
        else:
            parsed = {
                k: json.loads(v) if v[:1] in "{[" or v == "null" else v for k, v in kwargs.items()
            }
            env["AIRFLOW__SECRETS__BACKEND_KWARGS"] = json.dumps(parsed)
        return env

    def run(
        self, *args: str, env: dict[str, str], timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [AIRFLOW_BIN, *args], env=env, capture_output=True, text=True, timeout=timeout
        )


@pytest.fixture(scope="session")
def airflow_home(
    tmp_path_factory: pytest.TempPathFactory, moto_server: Any
) -> Iterator[AirflowHome]:
    home = AirflowHome(tmp_path_factory.mktemp("airflow_home"), moto_server.env())
    migrated = home.run("db", "migrate", env=home.env())
    assert migrated.returncode == 0, migrated.stderr[-2000:]
    api: subprocess.Popen[bytes] | None = None
    if AIRFLOW_MAJOR >= 3:
        api = subprocess.Popen(
            [AIRFLOW_BIN, "api-server", "--port", str(home.api_port), "--workers", "1"],
            env=home.env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        _wait_http(f"http://127.0.0.1:{home.api_port}/api/v2/monitor/health", api)
    yield home
    if api is not None:
        os.killpg(api.pid, signal.SIGTERM)
        api.wait(timeout=30)


def _wait_http(url: str, process: subprocess.Popen[bytes], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError("airflow api-server exited")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise AssertionError("airflow api-server did not start")


@pytest.fixture
def seeded(put_secret: Any, secret_value: Any) -> dict[str, str]:
    password, variable = secret_value("e2epw"), secret_value("e2evar")
    put_secret(
        "airflow/connections/e2e_db",
        {
            "engine": "aurora-postgresql",
            "host": "db.example",
            "username": "app",
            "password": password,
            "dbname": "sales",
            "port": 5432,
        },
    )
    # A Variable name Airflow would not mask by itself, stored as {"value": ...}.
    put_secret("airflow/variables/e2e_plain_setting", json.dumps({"value": variable}))
    return {"password": password, "variable": variable}


KWARGS = {
    "connections_prefix": "airflow/connections",
    "variables_prefix": "airflow/variables/",
    "config_prefix": "null",
    "cache_ttl_seconds": "60",
    "strict": "true",
    # Opt-ins (the provider's defaults return {"value": ...} as JSON text and leave a
    # Variable whose name looks harmless to Airflow's own masking rule).
    "variable_value_key": "value",
    "mask_variables": "true",
}


def test_connections_and_variables_get(airflow_home: AirflowHome, seeded: dict[str, str]) -> None:
    env = airflow_home.env(**KWARGS)
    got = airflow_home.run("connections", "get", "e2e_db", "-o", "json", env=env)
    assert got.returncode == 0, "airflow connections get failed"
    (line,) = [x for x in got.stdout.splitlines() if x.startswith("[{")]
    (conn,) = json.loads(line)
    assert (conn["conn_type"], conn["host"], conn["login"], conn["schema"], str(conn["port"])) == (
        "postgres",
        "db.example",
        "app",
        "sales",
        "5432",
    )
    assert _same(conn["password"], seeded["password"])
    var = airflow_home.run("variables", "get", "e2e_plain_setting", env=env)
    assert var.returncode == 0, "airflow variables get failed"
    assert _same(var.stdout.strip().splitlines()[-1], seeded["variable"])
    missing = airflow_home.run("variables", "get", "no_such_variable", env=env)
    assert missing.returncode != 0


def _task_log(home: AirflowHome, result: subprocess.CompletedProcess[str]) -> str:
    logs = sorted(
        (home.root / "logs" / f"dag_id={DAG_ID}").rglob("*.log"), key=lambda p: p.stat().st_mtime
    )
    assert logs, "no task log written"
    return logs[-1].read_text()


_RUNS = iter(range(1, 1_000))


def _run_dag(home: AirflowHome, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``airflow dags test``; on Airflow 2 also the production path that writes a task log.

    Airflow 3: ``dags test --use-executor`` runs the task in a supervised task process
    that writes the task log. Airflow 2's ``dags test`` runs the task inside the CLI
    and writes no task log, so the task is also run the way the scheduler runs it
    (``tasks run --local``: a LocalTaskJob and a raw task process).
    """
    if AIRFLOW_MAJOR >= 3:
        return home.run("dags", "test", DAG_ID, "--use-executor", env=env)
    tested = home.run("dags", "test", DAG_ID, env=env)
    assert tested.returncode == 0, "airflow dags test failed"
    run_id = f"e2e_run_{next(_RUNS)}"
    for args in (("dags", "reserialize"), ("dags", "trigger", DAG_ID, "-r", run_id)):
        done = home.run(*args, env=env)
        assert done.returncode == 0, f"airflow {' '.join(args)} failed"
    return home.run("tasks", "run", DAG_ID, "read", run_id, "--local", "-i", env=env)


def test_dags_test_task_log_is_masked(airflow_home: AirflowHome, seeded: dict[str, str]) -> None:
    result = _run_dag(airflow_home, airflow_home.env(**KWARGS))
    assert result.returncode == 0, "airflow dags test failed"
    log = _task_log(airflow_home, result)
    assert "E2E-CONN host=db.example login=app password=***" in log
    assert "E2E-VAR value=***" in log
    assert "E2E-PRINT password=*** variable=***" in log
    for value in seeded.values():
        assert value not in log, "a secret value reached the task log"


def test_control_official_backend_does_not_mask_the_variable(
    airflow_home: AirflowHome, put_secret: Any
) -> None:
    """Proves the masking assertion above can fail: Airflow alone leaves it visible."""
    unmasked = "control-value-not-a-secret-123"
    put_secret("airflow/connections/e2e_db", {"conn_type": "postgres", "host": "db.example"})
    put_secret("airflow/variables/e2e_plain_setting", unmasked)
    result = _run_dag(airflow_home, airflow_home.env(OFFICIAL))
    assert result.returncode == 0, "airflow dags test (official backend) failed"
    assert f"E2E-VAR value={unmasked}" in _task_log(airflow_home, result)
