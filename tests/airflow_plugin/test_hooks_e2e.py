"""End to end with the real Airflow CLI: ``airflow dags test`` of a DAG in which the
credentials rotate between tasks. The run must succeed and no task log may contain
an old or a new password. One DAG run (the CLI is slow).

Airflow 3.3's in-process ``dags test`` (without ``--use-executor``) writes no task log
files and masks nothing on its console, not even a connection's password (the task
SDK's masker is not the one the CLI's logging uses). So the run goes through the real
task runner: ``--use-executor`` with the LocalExecutor, whose workers reach an
``airflow api-server`` started here; task logs are then written (masked) under
``AIRFLOW_HOME/logs``. Those files, and the API server's log, are what is checked.
The CLI's own console is not: in this mode it echoes task log lines unmasked, Airflow's
own connection passwords included (checked by hand on 3.3.2), which is Airflow's
behaviour, not ours.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DAG_FILE = Path(__file__).parent / "dags" / "rotation_e2e.py"

pytestmark = [pytest.mark.slow, pytest.mark.airflow, pytest.mark.postgres, pytest.mark.mariadb]


def _airflow_3() -> bool:
    from importlib.metadata import version

    return int(version("apache-airflow").split(".")[0]) >= 3


def _airflow(args: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:  # type: ignore[type-arg]
    airflow = str(Path(sys.executable).with_name("airflow"))
    return subprocess.run(
        [airflow, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


@contextmanager
def _api_server(env: dict[str, str], port: int, log_file: Path) -> Iterator[None]:
    airflow = str(Path(sys.executable).with_name("airflow"))
    with open(log_file, "wb") as out:
        proc = subprocess.Popen(
            [airflow, "api-server", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, ended below by its id
        )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                url = f"http://127.0.0.1:{port}/api/v2/monitor/health"
                with urllib.request.urlopen(url, timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("airflow api-server did not start") from None
                time.sleep(1)
        yield
    finally:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)
                proc.wait(timeout=20)
                break
            except (ProcessLookupError, subprocess.TimeoutExpired):
                continue


def _passwords(client: Any, secret_id: str) -> set[str]:
    stages = client.describe_secret(SecretId=secret_id)["VersionIdsToStages"]
    found = set()
    for version in stages:
        value = client.get_secret_value(SecretId=secret_id, VersionId=version)["SecretString"]
        found.add(json.loads(value)["password"])
    return found


@pytest.mark.skipif(not _airflow_3(), reason="runs the Airflow 3 task runner and api-server")
@pytest.mark.allow_secret_output  # the subprocess's output is checked explicitly below
def test_dag_run_survives_rotation_without_leaking(
    tmp_path: Path, moto: Any, put_secret: Any, pg_user: Any, maria_user: Any
) -> None:
    from devstack.ports import free_port

    pg, maria = pg_user(), maria_user()
    put_secret("e2e/pg", pg)
    put_secret("e2e/maria", maria)
    home = tmp_path / "airflow"
    dags = home / "dags"
    dags.mkdir(parents=True)
    shutil.copy(DAG_FILE, dags / DAG_FILE.name)

    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PIPELINE_"))}
    env.update(moto.env())
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "2",
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API_AUTH__JWT_SECRET": "e2e-" + os.urandom(16).hex(),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
            "AIRFLOW_CONN_PG_APP": json.dumps(
                {
                    "conn_type": "pipeline_secrets_postgres",
                    "host": pg["host"],
                    "port": pg["port"],
                    "schema": pg["dbname"],
                    "extra": {"secret_id": "e2e/pg", "connect_timeout": 5},
                }
            ),
            "E2E_PG_SECRET": "e2e/pg",
            "E2E_MARIA_SECRET": "e2e/maria",
        }
    )
    migrate = _airflow(["db", "migrate"], env, timeout=400)
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    port = free_port()
    env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] = f"http://127.0.0.1:{port}/execution/"
    with _api_server(env, port, tmp_path / "api-server.log"):
        run = _airflow(
            ["dags", "test", "rotation_e2e", "2026-01-02", "--use-executor"], env, timeout=400
        )

    client = moto.client()
    secrets = _passwords(client, "e2e/pg") | _passwords(client, "e2e/maria")
    assert {pg["password"], maria["password"]} < secrets  # rotated: new ones exist too
    logs = [p for p in (home / "logs").rglob("*") if p.is_file()]
    texts = {str(p): p.read_text(errors="replace") for p in logs}
    texts["api-server"] = (tmp_path / "api-server.log").read_text(errors="replace")
    # Raw, and as it would look inside a JSON log line (quotes and backslashes escaped).
    forms = {f for s in secrets for f in (s, json.dumps(s)[1:-1])}

    def clean(text: str) -> str:
        for form in sorted(forms, key=len, reverse=True):
            text = text.replace(form, "<PASSWORD>")
        return text

    for name, text in texts.items():
        for form in forms:
            if form in text:
                at = text.index(form)
                pytest.fail(f"a password appears in {name}: ...{clean(text[at - 600 : at + 200])}")
    assert run.returncode == 0, "dags test failed:\n" + clean(
        run.stdout[-4000:] + run.stderr[-4000:]
    )
    combined = "\n".join(texts.values())
    assert "pg password in use: ***" in combined  # the task really logged it, masked
    finished = [line for line in run.stdout.splitlines() if "DagRun Finished" in line]
    assert finished and "state=success" in finished[-1]
    assert "maria password in use: ***" in combined
    task_ids = {part for p in logs for part in p.parts if part.startswith("task_id=")}
    assert {"task_id=read_after", "task_id=write_in_window"} <= task_ids
    if importlib.util.find_spec("pipeline_secrets.rotation") is not None:
        # The real rotation functions ran in the tasks, stopping after setSecret, resumed.
        assert {"task_id=rotate_begin_pg", "task_id=rotate_finish_maria"} <= task_ids
        assert "finished=False" in combined and "finished=True" in combined
