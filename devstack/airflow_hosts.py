"""Airflow's processes on network-namespace hosts, and its metadata database read
directly: the parts of the multi-host run (devstack/multihost.py) that know Airflow's
CLI and tables, not our secrets."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devstack.netns import Host

DAG_ID = "rds_to_redshift_etl"
META_PG = ("127.0.0.1", 5432)
REDIS = ("127.0.0.1", 6379)


# -- processes ----------------------------------------------------------------------
@dataclass
class Proc:
    name: str
    host: Host
    popen: subprocess.Popen[bytes]
    log_path: Path


class Processes:
    """Every long-running process of a mode; ``stop_all`` ends them (process groups)."""

    def __init__(self) -> None:
        self.procs: list[Proc] = []

    def start(self, name: str, host: Host, argv: list[str], env: dict[str, str], log: Path) -> Proc:
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as handle:
            popen = subprocess.Popen(
                host.command(argv),
                env=env,
                stdout=handle,
                stderr=handle,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        proc = Proc(name, host, popen, log)
        self.procs.append(proc)
        return proc

    def dead(self) -> list[str]:
        return [p.name for p in self.procs if p.popen.poll() is not None]

    def stop_all(self, timeout: float = 20) -> None:
        for p in self.procs:
            if p.popen.poll() is None:
                signal_group(p.popen.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for p in self.procs:
            try:
                p.popen.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                signal_group(p.popen.pid, signal.SIGKILL)
                p.popen.wait(10)
        self.procs.clear()


def signal_group(pid: int, sig: int) -> None:
    with suppress(ProcessLookupError):
        os.killpg(pid, sig)


def airflow_cli(host: Host, env: dict[str, str], *args: str, timeout: float = 600) -> str:
    exe = str(Path(sys.executable).with_name("airflow"))
    proc = subprocess.run(
        host.command([exe, *args]), env=env, capture_output=True, text=True, timeout=timeout
    )
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-15:])
        raise RuntimeError(f"airflow {args[0]} {args[1] if len(args) > 1 else ''} failed:\n{tail}")
    return proc.stdout


# -- the metadata database, read directly -------------------------------------------------
class Metadata:
    def __init__(self, db_name: str) -> None:
        self.db_name = db_name

    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        import psycopg2

        conn = psycopg2.connect(
            host=META_PG[0], port=META_PG[1], user="postgres", dbname=self.db_name
        )
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute(sql, params)
                return list(cur.fetchall()) if cur.description else []
        finally:
            conn.close()

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        self.rows(sql, params)

    def dag_serialized(self) -> bool:
        return bool(self.rows("SELECT 1 FROM serialized_dag WHERE dag_id = %s", (DAG_ID,)))

    def scheduler_alive(self) -> bool:
        return bool(
            self.rows(
                "SELECT 1 FROM job WHERE job_type = 'SchedulerJob' AND state = 'running' "
                "AND latest_heartbeat > now() - interval '20 seconds'"
            )
        )

    def runs(self, backfill_id: int) -> list[tuple[str, str]]:
        return self.rows(
            "SELECT run_id, state FROM dag_run WHERE backfill_id = %s ORDER BY logical_date",
            (backfill_id,),
        )

    def last_backfill(self) -> int:
        rows = self.rows("SELECT max(id) FROM backfill WHERE dag_id = %s", (DAG_ID,))
        return int(rows[0][0]) if rows and rows[0][0] is not None else 0

    def task_instances(self, backfill_id: int) -> list[tuple[str, str, str, str]]:
        """(run_id, task_id, state, hostname) of a backfill's tasks."""
        return [
            (str(r), str(t), str(s), str(h or ""))
            for r, t, s, h in self.rows(
                "SELECT ti.run_id, ti.task_id, ti.state, ti.hostname FROM task_instance ti "
                "JOIN dag_run dr ON dr.dag_id = ti.dag_id AND dr.run_id = ti.run_id "
                "WHERE dr.backfill_id = %s ORDER BY ti.run_id, ti.task_id",
                (backfill_id,),
            )
        ]

    def tasks_started(self, backfill_id: int) -> int:
        rows = self.rows(
            "SELECT count(*) FROM task_instance ti JOIN dag_run dr ON dr.dag_id = ti.dag_id "
            "AND dr.run_id = ti.run_id WHERE dr.backfill_id = %s AND ti.start_date IS NOT NULL",
            (backfill_id,),
        )
        return int(rows[0][0])


def create_database(name: str) -> None:
    subprocess.run(
        ["createdb", "-h", META_PG[0], "-p", str(META_PG[1]), "-U", "postgres", name],
        check=True,
        capture_output=True,
    )


def drop_database(name: str) -> None:
    subprocess.run(
        ["dropdb", "--if-exists", "--force", "-h", META_PG[0], "-U", "postgres", name],
        capture_output=True,
    )


def clear_redis_keys(db: int, queue: str) -> None:
    """Delete this run's keys only (its queue and bindings); Redis itself is shared."""
    import redis

    client = redis.Redis(host=REDIS[0], port=REDIS[1], db=db)
    for key in client.scan_iter(match=f"*{queue}*"):
        client.delete(key)
    client.close()
