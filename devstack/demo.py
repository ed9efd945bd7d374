"""The one-command demo: a real pipeline moves data from "RDS" to "Redshift" with
credentials that live only in Secrets Manager and rotate while it runs.

    bash scripts/demo.sh          # set-up, then: python -m devstack.demo

Steps: a moto Secrets Manager server; PostgreSQL (``PIPELINE_SECRETS_PG_ADMIN_DSN`` if
set, else a throwaway SCRAM cluster); seeded users, orders and secrets; ``airflow dags
test rds_to_redshift_etl`` with our secrets backend while a background thread rotates
the source and the target secret (pausing inside the setSecret window, where the
database already wants the new password and AWSCURRENT still holds the old one); the
Glue script on local Spark with the same rotations mid-run; the target rows checked
against the source; every line printed and every Airflow/Spark log scanned for a
secret value (the leak guard); a summary. Exit status 0 only if every step passed.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from devstack import stack
from devstack.airflow_env import AirflowHome, make_airflow_home
from devstack.moto_server import MotoServer, start_moto
from devstack.postgres import PostgresCluster, start_cluster
from devstack.seed import Admin, SeedResult, seed

ROOT = Path(__file__).resolve().parents[1]
GLUE_SCRIPT = ROOT / "glue_jobs" / "rds_to_redshift.py"
ETL_DAG = "rds_to_redshift_etl"
ETL_LOGICAL_DATE = "2026-11-03"  # @daily interval [2026-11-02, 2026-11-03)
SUMMARY_TITLE = "pipeline-secrets demo: summary"


# -- output ---------------------------------------------------------------------------
class Output:
    """Prints progress lines and keeps them, so they can be scanned for secrets."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream or sys.stdout
        self.lines: list[str] = []
        self.started = time.monotonic()

    def say(self, message: str) -> None:
        line = f"[demo {time.monotonic() - self.started:6.1f}s] {message}"
        self.lines.append(line)
        print(line, file=self.stream, flush=True)

    def text(self) -> str:
        return "\n".join(self.lines)


# -- the stack ------------------------------------------------------------------------
@dataclass
class Stack:
    moto: MotoServer
    cluster: PostgresCluster
    seeded: SeedResult

    @property
    def admin(self) -> Admin:
        c = self.cluster
        return Admin(c.host, c.port, c.admin_user, c.admin_password)

    def client(self) -> Any:
        return self.moto.client()


@contextmanager
def running_stack(out: Output, *, days: int = 7, orders_per_day: int = 500) -> Iterator[Stack]:
    """moto + PostgreSQL + seed; everything stopped and removed on exit."""
    with ExitStack() as cleanup:
        out.say("starting a moto Secrets Manager server")
        moto = start_moto()
        cleanup.callback(moto.stop)
        out.say(f"Secrets Manager endpoint: {moto.endpoint_url}")
        out.say("starting PostgreSQL (password-checking; stands in for RDS and Redshift)")
        cluster = start_cluster()
        cleanup.callback(cluster.stop)
        out.say(f"PostgreSQL on {cluster.host}:{cluster.port}")
        admin = Admin(cluster.host, cluster.port, cluster.admin_user, cluster.admin_password)
        seeded = seed(moto.client(), admin, admin, days=days, orders_per_day=orders_per_day)
        _admin_exec(admin, stack.TARGET_DB, f"DELETE FROM {stack.DAILY_TABLE}")
        out.say(
            f"seeded {seeded.orders} orders over {seeded.days} days in {stack.SOURCE_DB}, "
            f"users {stack.SOURCE_USER}/{stack.TARGET_USER} with generated passwords, "
            f"secrets {', '.join(seeded.secret_ids)}"
        )
        yield Stack(moto, cluster, seeded)


def _admin_exec(admin: Admin, dbname: str, sql: str) -> None:
    conn = admin.connect(dbname)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


def _admin_rows(admin: Admin, dbname: str, sql: str) -> list[tuple[str, ...]]:
    conn = admin.connect(dbname)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return [tuple(str(v) for v in row) for row in cur.fetchall()]
    finally:
        conn.close()


SOURCE_TOTALS_SQL = (
    "SELECT order_date, count(*), count(DISTINCT customer_id), sum(amount) "
    f"FROM {stack.ORDERS_TABLE} {{where}} GROUP BY order_date ORDER BY order_date"
)
TARGET_TOTALS_SQL = (
    f"SELECT order_date, orders, customers, revenue FROM {stack.DAILY_TABLE} {{where}} "
    "ORDER BY order_date"
)


def compare_totals(admin: Admin, start: date | None = None, end: date | None = None) -> int:
    """Target totals must equal the source's aggregates; returns the days compared."""
    where = ""
    if start and end:
        where = f"WHERE order_date >= DATE '{start}' AND order_date < DATE '{end}'"
    expected = _admin_rows(admin, stack.SOURCE_DB, SOURCE_TOTALS_SQL.format(where=where))
    actual = _admin_rows(admin, stack.TARGET_DB, TARGET_TOTALS_SQL.format(where=where))
    if expected != actual:
        raise AssertionError(
            f"target has {len(actual)} daily row(s), source aggregates to {len(expected)}; "
            f"first difference: {_first_difference(expected, actual)}"
        )
    if not expected:
        raise AssertionError("no rows to compare")
    return len(expected)


def _first_difference(a: list[tuple[str, ...]], b: list[tuple[str, ...]]) -> str:
    for x, y in zip(a, b, strict=False):
        if x != y:
            return f"expected {x}, found {y}"
    return "row counts differ"


# -- rotation while something runs --------------------------------------------------
@dataclass
class RotationRecord:
    secret_id: str
    started: float
    finished: float | None = None
    error: str | None = None


@dataclass
class Rotator:
    """Rotates secrets in a background thread once the run has started (``trigger()``
    returns true; by default: its first GetSecretValue), pausing inside each setSecret
    window."""

    moto: MotoServer
    secret_ids: tuple[str, ...]
    pause_seconds: float = 3.0
    on_event: Callable[[str], None] = print
    known_values: set[str] = field(default_factory=set)
    records: list[RotationRecord] = field(default_factory=list)
    trigger: Callable[[], bool] | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def remember_values(self) -> None:
        """Every password any version of the secrets holds (for the leak scan)."""
        client = self.moto.client()
        for secret_id in self.secret_ids:
            stages = client.describe_secret(SecretId=secret_id).get("VersionIdsToStages", {})
            for version in stages:
                text = client.get_secret_value(SecretId=secret_id, VersionId=version)
                try:
                    password = json.loads(text["SecretString"]).get("password")
                except ValueError:
                    continue
                if password:
                    self.known_values.add(password)

    def start(self) -> None:
        self.remember_values()
        baseline = self.moto.calls.get("GetSecretValue", 0)
        self._thread = threading.Thread(
            target=self._run, args=(baseline,), name="rotator", daemon=True
        )
        self._thread.start()

    def _run(self, baseline: int) -> None:
        deadline = time.monotonic() + 240
        started = self.trigger or (lambda: self.moto.calls.get("GetSecretValue", 0) > baseline)
        while not started():
            if self._stop.wait(0.05) or time.monotonic() > deadline:
                return
        if self._stop.is_set():
            return
        workers = [
            threading.Thread(target=self._rotate, args=(secret_id,), name=f"rotate-{secret_id}")
            for secret_id in self.secret_ids
        ]
        for worker in workers:  # both windows open at the same time
            worker.start()
        for worker in workers:
            worker.join()

    def _rotate(self, secret_id: str) -> None:
        from pipeline_secrets.rotation import rotate_secret

        record = RotationRecord(secret_id, time.monotonic())
        self.records.append(record)
        self.on_event(f"rotating {secret_id}: createSecret, setSecret ...")

        def pause(step: str) -> None:
            self.remember_values()
            if step == "setSecret":
                self.on_event(
                    f"  {secret_id}: rotation window open for {self.pause_seconds:.0f}s "
                    "(the database wants AWSPENDING, AWSCURRENT still holds the old password)"
                )
                time.sleep(self.pause_seconds)

        try:
            result = rotate_secret(secret_id, client=self.moto.client(), on_step=pause)
        except Exception as exc:  # reported; rotation errors name no value
            record.error = f"{type(exc).__name__}: {exc}"
            self.on_event(f"  {secret_id}: rotation FAILED: {record.error}")
            return
        finally:
            self.remember_values()
        record.finished = time.monotonic()
        self.on_event(
            f"  {secret_id}: testSecret, finishSecret done; "
            f"version {result.token[:8]} is AWSCURRENT"
        )

    def join(self, timeout: float = 120) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def stop(self) -> None:
        """Stop waiting for the trigger; let rotations already started finish."""
        self._stop.set()
        self.join(60)

    def survived(self, run_started: float, run_finished: float) -> int:
        """Completed rotations that started while the run was going on."""
        return sum(
            1
            for r in self.records
            if r.error is None
            and r.finished is not None
            and run_started <= r.started < run_finished
        )


# -- the steps ------------------------------------------------------------------------
@dataclass
class StepResult:
    name: str
    ok: bool
    seconds: float
    detail: str = ""
    rotations_survived: int = 0
    rows_moved: int = 0
    orders_read: int = 0


@dataclass
class Demo:
    out: Output
    stack: Stack
    workdir: Path
    pause_seconds: float = 3.0
    results: list[StepResult] = field(default_factory=list)
    known_values: set[str] = field(default_factory=set)
    scanned_texts: dict[str, str] = field(default_factory=dict)
    airflow_home: AirflowHome | None = None

    def _rotator(self) -> Rotator:
        return Rotator(
            self.stack.moto,
            (stack.SOURCE_SECRET_ID, stack.TARGET_SECRET_ID),
            pause_seconds=self.pause_seconds,
            on_event=self.out.say,
        )

    def _run_with_rotation(
        self, name: str, run: Callable[[], tuple[bool, str, str, str]]
    ) -> tuple[StepResult, str]:
        """Run ``run`` (-> ok, stdout, stderr, detail) while rotating both secrets."""
        rotator = self._rotator()
        rotator.start()
        started = time.monotonic()
        try:
            ok, stdout, stderr, detail = run()
        finally:
            finished = time.monotonic()
            rotator.stop()
            rotator.remember_values()
            self.known_values |= rotator.known_values
        self.scanned_texts[f"{name} stdout"] = stdout
        self.scanned_texts[f"{name} stderr"] = stderr
        survived = rotator.survived(started, finished)
        failed_rotations = [r for r in rotator.records if r.error]
        if failed_rotations:
            ok = False
            detail += f"; {len(failed_rotations)} rotation(s) failed"
        return (
            StepResult(name, ok, finished - started, detail, rotations_survived=survived),
            stdout + "\n" + stderr,
        )

    def step_airflow_home(self) -> None:
        self.out.say("preparing Airflow (metadata DB migrate; our secrets backend configured)")
        started = time.monotonic()
        self.airflow_home = make_airflow_home(self.stack.moto.endpoint_url)
        self.out.say(f"Airflow ready in {time.monotonic() - started:.0f}s")

    def step_etl(self) -> None:
        assert self.airflow_home is not None
        home = self.airflow_home
        self.out.say(
            f"airflow dags test {ETL_DAG} {ETL_LOGICAL_DATE} (credentials rotate during the run)"
        )

        def run() -> tuple[bool, str, str, str]:
            proc = home.airflow("dags", "test", ETL_DAG, ETL_LOGICAL_DATE, check=False)
            finished = [ln for ln in proc.stdout.splitlines() if "DagRun Finished" in ln]
            ok = proc.returncode == 0 and bool(finished) and "state=success" in finished[-1]
            return ok, proc.stdout, proc.stderr, f"exit {proc.returncode}"

        result, _ = self._run_with_rotation("airflow dags test", run)
        start = date.fromisoformat(ETL_LOGICAL_DATE) - timedelta(days=1)
        end = date.fromisoformat(ETL_LOGICAL_DATE)
        if result.ok:
            result = self._checked(result, start, end)
        self.results.append(result)
        self._report(result, f"ETL for [{start}, {end})")

    def step_glue(self) -> None:
        from glue_lib.local import run_script

        first = self.stack.seeded.first_day
        end = first + timedelta(days=self.stack.seeded.days)
        self.out.say(
            f"Glue script {GLUE_SCRIPT.relative_to(ROOT)} on local Spark for "
            f"[{first}, {end}) (credentials rotate during the run)"
        )
        env = {
            **_inherited_env(),
            **self.stack.moto.env(),
            "PYTHONPATH": str(ROOT),
        }

        def run() -> tuple[bool, str, str, str]:
            proc = run_script(
                GLUE_SCRIPT,
                {
                    "JOB_NAME": "rds_to_redshift_demo",
                    "source_secret_id": stack.SOURCE_SECRET_ID,
                    "target_secret_id": stack.TARGET_SECRET_ID,
                    "start_date": first.isoformat(),
                    "end_date": end.isoformat(),
                },
                env=env,
                timeout=600,
            )
            line = next(
                (ln for ln in proc.stdout.splitlines() if ln.startswith("rds_to_redshift:")), ""
            )
            return proc.returncode == 0, proc.stdout, proc.stderr, line or f"exit {proc.returncode}"

        result, _ = self._run_with_rotation("glue script", run)
        if result.ok:
            result = self._checked(result, first, end)
        self.results.append(result)
        self._report(result, f"Glue job for [{first}, {end})")

    def _checked(self, result: StepResult, start: date, end: date) -> StepResult:
        try:
            days = compare_totals(self.stack.admin, start, end)
        except AssertionError as exc:
            result.ok = False
            result.detail += f"; verification failed: {exc}"
            return result
        orders = _admin_rows(
            self.stack.admin,
            stack.SOURCE_DB,
            f"SELECT count(*) FROM {stack.ORDERS_TABLE} WHERE order_date >= DATE '{start}' "
            f"AND order_date < DATE '{end}'",
        )[0][0]
        result.rows_moved = days
        result.orders_read = int(orders)
        result.detail += f"; target matches source ({days} day(s))"
        return result

    def _report(self, result: StepResult, what: str) -> None:
        status = "ok" if result.ok else "FAILED"
        self.out.say(
            f"{what}: {status} in {result.seconds:.0f}s, {result.orders_read} orders -> "
            f"{result.rows_moved} daily rows, {result.rotations_survived} rotation(s) survived"
        )
        if not result.ok:
            self.out.say(f"  detail: {result.detail}")

    def step_verify(self) -> None:
        started = time.monotonic()
        try:
            days = compare_totals(self.stack.admin)
            self.results.append(
                StepResult("verify", True, time.monotonic() - started, f"{days} day(s)")
            )
            self.out.say(f"verified: all {days} daily totals in the target equal the source's")
        except AssertionError as exc:
            self.results.append(StepResult("verify", False, time.monotonic() - started, str(exc)))
            self.out.say(f"verification FAILED: {exc}")

    def leak_scan(self) -> tuple[int, list[str]]:
        """Scan our output, the runs' output and the Airflow task logs for values."""
        from tests.leakguard import LeakGuard

        guard = LeakGuard()
        for value in self.known_values | {self.stack.cluster.admin_password}:
            guard.register(value)
            guard.register(json.dumps(value)[1:-1])  # as it would appear inside JSON
        leaks: list[str] = []
        texts = {"demo output": self.out.text(), **self.scanned_texts}
        for where, text in texts.items():
            if guard.find(text):
                leaks.append(where)
        scanned = len(texts)
        if self.airflow_home is not None:
            try:
                scanned += guard.assert_files_clean(self.airflow_home.path / "logs")
            except AssertionError:
                leaks.append("Airflow task logs")
        return scanned, leaks


def _inherited_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AWS_"))}


def _tail(text: str, known: set[str], lines: int = 30) -> str:
    for value in sorted(known, key=len, reverse=True):
        text = text.replace(value, "***")
    return "\n".join(text.splitlines()[-lines:])


# -- main -----------------------------------------------------------------------------
def summary_lines(demo: Demo, calls: Counter[str], leaks: list[str], scanned: int) -> list[str]:
    steps = list(demo.results)
    failures = sum(1 for r in steps if not r.ok) + (1 if leaks else 0)
    rotations = sum(r.rotations_survived for r in steps)
    rows = sum(r.rows_moved for r in steps)
    orders = sum(r.orders_read for r in steps)
    lines = [
        "",
        SUMMARY_TITLE,
        "=" * len(SUMMARY_TITLE),
    ]
    for r in steps:
        lines.append(
            f"  {r.name:<18} {'ok' if r.ok else 'FAILED':<6} {r.seconds:6.1f}s  {r.detail}"
        )
    logs = "\n".join(demo.scanned_texts.values())
    refused = logs.count("database refused the credentials")
    pending = len(re.findall(r"connected with secret .* \(AWSPENDING\)", logs))
    lines += [
        f"rows moved: {rows} (daily totals from {orders} orders)",
        f"rotations survived: {rotations}",
        f"logins refused mid-run and recovered: {refused} ({pending} with AWSPENDING)",
        f"secrets manager api calls: {sum(calls.values())} "
        + "("
        + ", ".join(f"{op} {n}" for op, n in sorted(calls.items()))
        + ")",
        f"secret values in output and logs: {len(leaks)} "
        f"({scanned} outputs/log files scanned{': ' + ', '.join(leaks) if leaks else ''})",
        f"failures: {failures}",
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pause", type=float, default=3.0, help="seconds inside each window")
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--orders-per-day", type=int, default=500)
    parser.add_argument("--skip-glue", action="store_true", help="leave out the Spark step")
    parser.add_argument(
        "--keep-output", type=Path, help="save each run's output here (only if no leak found)"
    )
    args = parser.parse_args(argv)

    out = Output()
    out.say("pipeline-secrets demo: RDS -> Redshift with credentials only in Secrets Manager")
    demo: Demo | None = None
    exit_code = 1
    workdir = Path(tempfile.mkdtemp(prefix="ps-demo-"))
    try:
        with running_stack(out, days=args.days, orders_per_day=args.orders_per_day) as st:
            demo = Demo(out, st, workdir, pause_seconds=args.pause)
            try:
                demo.step_airflow_home()
                demo.step_etl()
                if not args.skip_glue:
                    demo.step_glue()
                demo.step_verify()
            except Exception as exc:
                demo.results.append(StepResult("error", False, 0.0, type(exc).__name__))
                out.say(f"step failed: {type(exc).__name__}: {exc}")
                out.say(_tail(traceback.format_exc(), demo.known_values, 15))
            for r in demo.results:
                if not r.ok and r.name in ("airflow dags test", "glue script"):
                    key = f"{r.name} stdout"
                    text = demo.scanned_texts.get(key, "") + demo.scanned_texts.get(
                        f"{r.name} stderr", ""
                    )
                    out.say(
                        f"last lines of {r.name} (values masked):\n"
                        + _tail(text, demo.known_values)
                    )
            calls = st.moto.calls
            scanned, leaks = demo.leak_scan()
            lines = summary_lines(demo, calls, leaks, scanned)
            if args.keep_output and not leaks:
                args.keep_output.mkdir(parents=True, exist_ok=True)
                for name, text in demo.scanned_texts.items():
                    (args.keep_output / (name.replace(" ", "_") + ".txt")).write_text(text)
            for line in lines:
                print(line, flush=True)
            exit_code = 0 if lines[-1] == "failures: 0" else 1
    except Exception as exc:
        print(f"demo failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        exit_code = 1
    finally:
        if demo is not None and demo.airflow_home is not None:
            demo.airflow_home.cleanup()
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)
        out.say(f"cleaned up; total {time.monotonic() - out.started:.0f}s")
    return exit_code


if __name__ == "__main__":
    raise SystemExit(main())
