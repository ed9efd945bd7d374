"""The per-partition writer and reader on a Spark standalone cluster: a master and two
workers, each its own process started from the pyspark package, so executors run in
other processes (other JVMs, other Python workers) than the driver and fetch the
secret themselves. The secret is rotated while the write stage runs and again
before the read: executors refresh and finish, and no credential reaches any log.

Run: ``pytest -m slow tests/glue_lib/test_standalone_cluster.py`` (about 1-3 minutes
depending on the machine's load).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.glue_lib.rotation import Rotation

pytestmark = [pytest.mark.spark, pytest.mark.postgres, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
ROWS = 4000


def _spark_home() -> Path:
    pyspark = pytest.importorskip("pyspark")
    return Path(pyspark.__file__).parent


@dataclass
class Daemon:
    proc: subprocess.Popen[bytes]
    log: Path


def _start(home: Path, log: Path, *args: str, env: dict[str, str]) -> Daemon:
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(home / "bin" / "spark-class"), *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    return Daemon(proc, log)


def _wait_log(daemon: Daemon, pattern: str, timeout: float = 90.0) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = re.search(pattern, daemon.log.read_text(errors="replace"))
        if found:
            return found
        if daemon.proc.poll() is not None:
            break
        time.sleep(0.2)
    raise AssertionError(f"{pattern!r} not in {daemon.log.name}: {daemon.log.read_text()[-2000:]}")


def _stop(daemon: Daemon) -> None:
    if daemon.proc.poll() is None:
        daemon.proc.terminate()
        try:
            daemon.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            daemon.proc.kill()
            daemon.proc.wait()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """``spark://`` master URL of a master and two one-core workers."""
    home = _spark_home()
    env = {**os.environ, "SPARK_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1"}
    env.pop("PYSPARK_SUBMIT_ARGS", None)
    started: list[Daemon] = []
    try:
        master = _start(
            home,
            tmp_path / "master.log",
            "org.apache.spark.deploy.master.Master",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--webui-port",
            "0",
            env=env,
        )
        started.append(master)
        url = _wait_log(master, r"Starting Spark master at (spark://127\.0\.0\.1:\d+)").group(1)
        workers = []
        for n in (1, 2):
            work_dir = tmp_path / f"worker{n}"
            work_dir.mkdir()
            worker = _start(
                home,
                tmp_path / f"worker{n}.log",
                "org.apache.spark.deploy.worker.Worker",
                url,
                "--host",
                "127.0.0.1",
                "--cores",
                "1",
                "--memory",
                "1g",
                "--webui-port",
                "0",
                "--work-dir",
                str(work_dir),
                env=env,
            )
            started.append(worker)
            workers.append(worker)
        for worker in workers:
            _wait_log(worker, r"Successfully registered with master")
        yield {"master": url, "logs": tmp_path}
    finally:
        for daemon in reversed(started):
            _stop(daemon)


def _all_logs(where: Path) -> str:
    """Every file the cluster wrote: master and worker logs, executor stdout/stderr."""
    texts = []
    for path in where.rglob("*"):
        if path.is_file() and path.suffix not in {".jar", ".py", ".zip"}:
            texts.append(path.read_text(errors="replace"))
    return "\n".join(texts)


def test_partition_writer_and_reader_survive_rotation_on_a_standalone_cluster(
    cluster: dict[str, Any],
    moto: Any,
    pg_cluster: Any,
    pg_user: Any,
    put_secret: Any,
    secret_value: Any,
    tmp_path: Path,
) -> None:
    creds = pg_user()
    secret_id = "prod/standalone/db"
    put_secret(secret_id, creds)
    pg_cluster.admin_sql(
        "CREATE TABLE items (id BIGINT PRIMARY KEY, name TEXT)", dbname=creds["dbname"]
    )
    owner = f'ALTER TABLE items OWNER TO "{creds["username"]}"'
    pg_cluster.admin_sql(owner, dbname=creds["dbname"])
    rotation = Rotation(
        moto.client(),
        secret_id,
        lambda user, password: pg_cluster.create_user(user, password),
        lambda: secret_value("rot"),
    )
    passwords = [creds["password"]]
    markers = tmp_path / "markers"
    markers.mkdir()
    executor_env = {
        **moto.env(),
        "PYTHONPATH": str(ROOT),
        "PYSPARK_PYTHON": sys.executable,
    }
    settings = {
        "master": cluster["master"],
        "markers": str(markers),
        "secret_id": secret_id,
        "table": "items",
        "rows": ROWS,
        "executor_env": executor_env,
    }
    settings_path = tmp_path / "settings.json"
    settings_path.write_text(json.dumps(settings))

    def rotate_during_the_job() -> None:
        from tests.glue_lib.standalone_job import wait_for

        # Both executors wrote a partition with the credentials they fetched...
        wait_for(markers / "written-0", timeout=300)
        wait_for(markers / "written-1", timeout=300)
        # ...then single-user rotation, window left open: the database wants AWSPENDING.
        rotation.create_and_set()
        pending = moto.client().get_secret_value(SecretId=secret_id, VersionStage="AWSPENDING")
        passwords.append(json.loads(pending["SecretString"])["password"])
        (markers / "rotated").touch()
        wait_for(markers / "write-done", timeout=300)
        rotation.finish()
        rotation.rotate()  # and a full rotation before the read
        passwords.append(rotation.current()["password"])
        (markers / "go-read").touch()

    rotator = threading.Thread(target=rotate_during_the_job, daemon=True)
    rotator.start()
    env = {
        **os.environ,
        **moto.env(),
        "PYTHONPATH": str(ROOT),
        "PYSPARK_PYTHON": sys.executable,
        "SPARK_LOCAL_IP": "127.0.0.1",
    }
    env.pop("PYSPARK_SUBMIT_ARGS", None)
    driver = subprocess.run(
        [sys.executable, "-m", "tests.glue_lib.standalone_job", str(settings_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    rotator.join(timeout=30)
    output = driver.stdout + driver.stderr
    assert driver.returncode == 0, output[-4000:]
    result = json.loads(output.split("RESULT ", 1)[1].splitlines()[0])

    assert result["executors"] == 2
    assert result["written"] == ROWS
    assert len(result["write_pids"]) == 2 and result["driver_pid"] not in result["write_pids"]
    assert result["write_refreshes"] >= 2  # each executor refreshed by itself
    assert result["read_ids"] is True
    assert result["read_refreshes"] >= 1
    assert result["driver_pid"] not in result["read_pids"]
    count = pg_cluster.connect(creds["dbname"])
    try:
        with count.cursor() as cur:
            cur.execute("SELECT count(*), count(DISTINCT id) FROM items")
            assert cur.fetchone() == (ROWS, ROWS)
    finally:
        count.close()

    logs = _all_logs(cluster["logs"]) + output
    assert "stderr" in {p.name for p in cluster["logs"].rglob("stderr")}  # executors logged
    for password in passwords:
        assert password not in logs
    shutil.rmtree(markers, ignore_errors=True)
