"""Airflow on Celery across three "hosts" (network namespaces), one agent per host,
secrets rotating mid-run. Configured as docs/multihost.md tells users to.

    python -m devstack.multihost [--days 3] [--json report.json]     # as root

Hosts: ``control`` (Airflow API server, scheduler, DAG processor) and ``worker1``,
``worker2`` (a Celery worker each, own runtime directory), joined by veth pairs
(devstack/netns.py). The machine's Redis (broker) and PostgreSQL (metadata database
``af_multihost_<pid>``, made here and dropped at the end), a moto Secrets Manager and a
password-checking PostgreSQL standing in for RDS and Redshift all listen on the root
namespace's 127.0.0.1; the hosts reach them through a forwarder (devstack/netforward.py)
at ``SERVICES_ADDRESS`` and ``SECRETS_ADDRESS``. Each host's Secrets Manager traffic
goes through its own counting proxy, so calls are counted per host.

Three modes, each a backfill of ``rds_to_redshift_etl`` over its own days, runs in
parallel over both workers, while both database secrets rotate (single user, the
setSecret window held open): the amazon provider's backend (``official``), ours
without agents (``ours``), ours with an agent per host (``agents``). Then, with the
agents still up, faults: worker1's agent is killed and worker2's route to Secrets
Manager fails, during more runs. Checks: every task of the three modes succeeded; target
equals source; no secret value in any task, worker, agent or scheduler log; worker1's
tasks fell back to direct calls (logged once per task) and succeeded; worker2's tasks
succeeded or failed with a clear "Secrets Manager unreachable" error, never a refused
password. Everything (processes, namespaces, the database, Redis keys) is removed at
the end, on failure too. Exit status: 0 all checks passed, 1 a check failed, 3 network
namespaces are not permitted here (nothing was run).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from devstack import netns, stack
from devstack.airflow_hosts import (
    DAG_ID,
    META_PG,
    REDIS,
    Metadata,
    Processes,
    airflow_cli,
    clear_redis_keys,
    create_database,
    drop_database,
    signal_group,
)
from devstack.demo import Output, Rotator, compare_totals
from devstack.faults import FaultProxy
from devstack.moto_server import FAKE_ENV, MotoServer, start_moto
from devstack.netforward import Route
from devstack.netns import SECRETS_ADDRESS, SERVICES_ADDRESS, Host, HostNetwork
from devstack.ports import wait_for_port
from devstack.postgres import PostgresCluster, start_cluster
from devstack.seed import Admin, seed

ROOT = Path(__file__).resolve().parents[1]
MODES = ("official", "ours", "agents")
OFFICIAL_BACKEND = "airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend"
SM_PORT = 4566  # Secrets Manager's port at SECRETS_ADDRESS (inside the hosts)
API_PORT = 8080  # the Airflow API server's port on control
FIRST_DAY = date(2026, 11, 1)
EXIT_SKIP = 3
UNREACHABLE = re.compile(r"unreachable|could not connect|EndpointConnectionError", re.I)
FALLBACK = re.compile(r"secrets agent at \S+ unreachable.*directly from Secrets Manager")
REFUSED_RETRIED = re.compile(r"database refused the credentials of secret .*; refreshing")
PENDING_LOGIN = re.compile(r"connected with secret .* \(AWSPENDING\)")
REFUSED = re.compile(r"password authentication failed", re.I)


# -- the agent: ONE place that starts it (its flags may change) -----------------------
@dataclass
class HostAgent:
    host: Host
    socket_path: Path
    token_file: Path
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    stats_seen: list[dict[str, Any]] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"unix:{self.socket_path}"

    def client(self) -> Any:
        from pipeline_secrets.agent.client import AgentClient

        token = self.token_file.read_text().strip() if self.token_file.exists() else None
        return AgentClient(self.address, token, timeout=5)

    def stats(self) -> dict[str, Any]:
        try:
            return self.client().stats()
        except Exception:
            return {}

    def kill(self) -> None:
        """SIGKILL, as a crash would (the socket file stays behind)."""
        if self.proc is not None and self.proc.poll() is None:
            self.stats_seen.append(self.stats())
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


def start_agent(host: Host, run_dir: Path, env: dict[str, str], ttl_seconds: float) -> HostAgent:
    """``pipeline-secrets agent`` on ``host``: a Unix socket in the host's runtime
    directory (0700), a token file beside it, prefetching the Airflow prefixes."""
    agent_dir = run_dir / "agent"
    agent_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    agent = HostAgent(
        host, agent_dir / "agent.sock", agent_dir / "agent.token", run_dir / "agent.log"
    )
    argv = [
        sys.executable, "-m", "pipeline_secrets.tools", "agent",
        "--unix-socket", str(agent.socket_path),
        "--token-file", str(agent.token_file),
        "--prefetch-prefix", f"{stack.CONNECTIONS_PREFIX}/",
        "--prefetch-prefix", f"{stack.VARIABLES_PREFIX}/",
        "--allow-pending",  # the rotation window: hooks log in with AWSPENDING
        "--ttl-seconds", str(ttl_seconds),
        "--region", stack.REGION,
        "--endpoint-url", f"http://{SECRETS_ADDRESS}:{SM_PORT}",
    ]  # fmt: skip
    with open(agent.log_path, "ab") as log:
        agent.proc = subprocess.Popen(
            host.command(argv), env=env, stdout=log, stderr=log, start_new_session=True
        )
    deadline = time.monotonic() + 60
    while not (agent.socket_path.exists() and agent.token_file.exists() and agent.client().ping()):
        if agent.proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the agent on {host.name} did not start (see {agent.log_path})")
        time.sleep(0.2)
    return agent


# -- configuration, as docs/multihost.md gives it --------------------------------------
@dataclass
class Deployment:
    """What every host shares (metadata DB, broker, API, keys) and what each owns."""

    db_name: str
    redis_db: int
    queue: str
    work: Path
    fernet_key: str = field(repr=False)
    jwt_secret: str = field(repr=False)

    def backend(self, mode: str, agent: HostAgent | None) -> tuple[str, dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "connections_prefix": stack.CONNECTIONS_PREFIX,
            "variables_prefix": stack.VARIABLES_PREFIX,
            "config_prefix": None,
            "region_name": stack.REGION,
            "endpoint_url": f"http://{SECRETS_ADDRESS}:{SM_PORT}",
        }
        if mode == "official":
            return OFFICIAL_BACKEND, kwargs
        if agent is not None:
            kwargs["agent_address"] = agent.address
            kwargs["agent_token_file"] = str(agent.token_file)
        return stack.BACKEND_CLASS, kwargs

    def env(self, host: Host, mode: str, agent: HostAgent | None) -> dict[str, str]:
        home = self.work / host.name
        db = f"postgres@{SERVICES_ADDRESS}:{META_PG[1]}/{self.db_name}"
        backend, kwargs = self.backend(mode, agent)
        kw = json.dumps(kwargs)
        inherited = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AWS_"))}
        return {
            **inherited,
            **FAKE_ENV,
            "AIRFLOW_HOME": str(home / "airflow"),
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "false",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "false",
            "AIRFLOW__CORE__FERNET_KEY": self.fernet_key,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": (
                f"http://{SERVICES_ADDRESS}:{API_PORT}/execution/"
            ),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "true",
            "AIRFLOW__API_AUTH__JWT_SECRET": self.jwt_secret,
            "AIRFLOW__API__SECRET_KEY": self.jwt_secret,
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://{db}",
            "AIRFLOW__CELERY__BROKER_URL": (
                f"redis://{SERVICES_ADDRESS}:{REDIS[1]}/{self.redis_db}"
            ),
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql://{db}",
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
            "AIRFLOW__OPERATORS__DEFAULT_QUEUE": self.queue,
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
            # only the backfills run (no scheduled run of "yesterday" mid-measurement)
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "false",
            # a loaded 2-core machine answers the execution API slowly at times
            "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "30",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "AIRFLOW__SECRETS__BACKEND": backend,
            "AIRFLOW__SECRETS__BACKEND_KWARGS": kw,
            "AIRFLOW__WORKERS__SECRETS_BACKEND": backend,
            "AIRFLOW__WORKERS__SECRETS_BACKEND_KWARGS": kw,
            "AWS_ENDPOINT_URL_SECRETS_MANAGER": f"http://{SECRETS_ADDRESS}:{SM_PORT}",
            "PYTHONPATH": str(ROOT),
            "NO_PROXY": "*",
        }


# -- one mode ---------------------------------------------------------------------------
@dataclass
class ModeResult:
    mode: str
    days: tuple[date, date]
    seconds: float = 0.0
    tasks: list[tuple[str, str, str, str]] = field(default_factory=list)
    calls: dict[str, Counter[str]] = field(default_factory=dict)  # host -> op -> n
    secret_reads: dict[str, Counter[str]] = field(default_factory=dict)  # host -> id -> n
    agent_hits: dict[str, int] = field(default_factory=dict)
    agent_api_calls: dict[str, int] = field(default_factory=dict)
    rotations: int = 0
    fallbacks_logged: int = 0
    refused_logins: int = 0  # logins refused mid-rotation (and retried) in task logs
    pending_logins: int = 0  # of which got in with AWSPENDING (inside the window)
    problems: list[str] = field(default_factory=list)

    def tasks_on(self, host: str) -> int:
        return sum(1 for t in self.tasks if t[3] == host)


@dataclass
class MultiHost:
    out: Output
    net: HostNetwork
    moto: MotoServer
    cluster: PostgresCluster
    deployment: Deployment
    meta: Metadata
    proxies: dict[str, FaultProxy]
    agent_ttl: float
    pause: float
    procs: Processes = field(default_factory=Processes)
    agents: dict[str, HostAgent] = field(default_factory=dict)
    known_values: set[str] = field(default_factory=set)
    log_dirs: list[Path] = field(default_factory=list)

    @property
    def all_hosts(self) -> list[Host]:
        assert self.net.control is not None
        return [self.net.control, *self.net.hosts]

    def run_dir(self, host: Host, mode: str) -> Path:
        return self.deployment.work / host.name / "run" / mode

    def start_mode(self, mode: str) -> None:
        control = self.net.control
        assert control is not None
        self.agents = {}
        if mode == "agents":
            for host in self.all_hosts:
                env = self.deployment.env(host, mode, None)
                self.agents[host.name] = start_agent(
                    host, self.run_dir(host, mode), env, self.agent_ttl
                )
        exe = str(Path(sys.executable).with_name("airflow"))
        envs = {
            h.name: self.deployment.env(h, mode, self.agents.get(h.name)) for h in self.all_hosts
        }
        logs = self.deployment.work / "logs" / mode
        self.log_dirs.append(logs)
        self.procs.start(
            "api-server", control,
            [exe, "api-server", "--port", str(API_PORT), "--host", "0.0.0.0", "--workers", "1"],
            envs["control"], logs / "control-api-server.log",
        )  # fmt: skip
        self.procs.start(
            "scheduler", control, [exe, "scheduler", "--skip-serve-logs"],
            envs["control"], logs / "control-scheduler.log",
        )  # fmt: skip
        self.procs.start(
            "dag-processor", control, [exe, "dag-processor"],
            envs["control"], logs / "control-dag-processor.log",
        )  # fmt: skip
        for host in self.net.hosts:
            self.procs.start(
                f"celery-{host.name}", host,
                [
                    exe, "celery", "worker", "-q", self.deployment.queue, "-c", "2",
                    "--skip-serve-logs", "--without-mingle", "--without-gossip",
                    "--celery-hostname", f"{host.name}@{host.name}",
                ],
                envs[host.name], logs / f"{host.name}-celery-worker.log",
            )  # fmt: skip
        deadline = time.monotonic() + 240
        while True:
            ready = (
                self.meta.dag_serialized()
                and self.meta.scheduler_alive()
                and all(
                    "ready" in p.log_path.read_text(errors="replace")
                    for p in self.procs.procs
                    if p.name.startswith("celery-")
                )
            )
            if ready:
                break
            dead = self.procs.dead()
            if dead or time.monotonic() > deadline:
                raise RuntimeError(
                    f"{mode}: Airflow did not come up (dead: {dead or 'none'}); logs in {logs}"
                )
            time.sleep(1)
        self.meta.execute(  # unpaused, but no scheduled run: only our backfills run
            "UPDATE dag SET is_paused = false WHERE dag_id = %s",
            (DAG_ID,),
        )

    def stop_mode(self) -> None:
        for agent in self.agents.values():
            if agent.proc is not None and agent.proc.poll() is None:
                agent.stats_seen.append(agent.stats())
        self.procs.stop_all()
        for agent in self.agents.values():
            if agent.proc is not None and agent.proc.poll() is None:
                signal_group(agent.proc.pid, signal.SIGTERM)
                try:
                    agent.proc.wait(10)
                except subprocess.TimeoutExpired:
                    signal_group(agent.proc.pid, signal.SIGKILL)

    def backfill(self, mode: str, first: date, days: int) -> int:
        control = self.net.control
        assert control is not None
        env = self.deployment.env(control, mode, self.agents.get("control"))
        before = self.meta.last_backfill()
        airflow_cli(
            control, env, "backfill", "create", "--dag-id", DAG_ID,
            "--from-date", first.isoformat(),
            "--to-date", (first + timedelta(days=days - 1)).isoformat(),
            "--max-active-runs", str(days),
        )  # fmt: skip
        backfill_id = self.meta.last_backfill()
        if backfill_id == before:
            raise RuntimeError(f"{mode}: no backfill was created")
        return backfill_id

    def wait_for(self, backfill_id: int, expected_runs: int, timeout: float) -> list[str]:
        started = time.monotonic()
        deadline = started + timeout
        while time.monotonic() < deadline:
            if time.monotonic() - started > 120 and not self.meta.tasks_started(backfill_id):
                raise RuntimeError(f"backfill {backfill_id}: no task started in 120s")
            runs = self.meta.runs(backfill_id)
            if len(runs) >= expected_runs and all(s in ("success", "failed") for _, s in runs):
                self._complete_backfill(backfill_id)
                return [s for _, s in runs]
            dead = self.procs.dead()
            if dead:
                raise RuntimeError(f"process(es) died mid-run: {', '.join(dead)}")
            time.sleep(2)
        raise TimeoutError(f"backfill {backfill_id} did not finish in {timeout:.0f}s")

    def _complete_backfill(self, backfill_id: int, timeout: float = 20) -> None:
        """Wait for the scheduler to mark the backfill complete (one backfill per DAG
        may run at a time); past ``timeout``, mark it so ourselves."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.meta.rows(
                "SELECT 1 FROM backfill WHERE id = %s AND completed_at IS NOT NULL",
                (backfill_id,),
            ):
                return
            time.sleep(1)
        self.meta.execute(
            "UPDATE backfill SET completed_at = now() WHERE id = %s AND completed_at IS NULL",
            (backfill_id,),
        )

    def rotator(self, backfill_id: int) -> Rotator:
        last = [0.0, False]

        def started() -> bool:  # a task of this run is going (checked once a second)
            if not last[1] and time.monotonic() - last[0] > 1:
                last[0] = time.monotonic()
                last[1] = self.meta.tasks_started(backfill_id) >= 2
            return bool(last[1])

        return Rotator(
            self.moto,
            (stack.SOURCE_SECRET_ID, stack.TARGET_SECRET_ID),
            pause_seconds=self.pause,
            on_event=self.out.say,
            trigger=started,
        )

    def run_mode(self, mode: str, first: date, days: int) -> ModeResult:
        result = ModeResult(mode, (first, first + timedelta(days=days)))
        self.out.say(f"[{mode}] starting Airflow on 3 hosts")
        started = time.monotonic()
        self.start_mode(mode)
        self.out.say(f"[{mode}] up in {time.monotonic() - started:.0f}s; backfill {days} days")
        try:
            for proxy in self.proxies.values():
                proxy.clear()
            agents_before = {n: a.stats() for n, a in self.agents.items()}
            run_started = time.monotonic()
            backfill_id = self.backfill(mode, first, days)
            rotator = self.rotator(backfill_id)
            netns.run_in_namespace(self.control_ns, rotator.start).join()
            try:
                states = self.wait_for(backfill_id, days, timeout=420)
            finally:
                rotator.stop()
                rotator.remember_values()
                self.known_values |= rotator.known_values
            result.seconds = time.monotonic() - run_started
            result.rotations = rotator.survived(run_started, time.monotonic())
            result.problems += [
                f"rotation of {r.secret_id}: {r.error}" for r in rotator.records if r.error
            ]
            result.tasks = self.meta.task_instances(backfill_id)
            result.calls = {n: Counter(p.requests) for n, p in self.proxies.items()}
            result.secret_reads = {n: _reads_by_secret(p) for n, p in self.proxies.items()}
            for name, agent in self.agents.items():
                now = agent.stats()
                result.agent_hits[name] = _delta(now, agents_before[name], "hits")
                result.agent_api_calls[name] = _delta(now, agents_before[name], "api_calls")
            logs = "\n".join(
                self.task_log(self.net.host(h), r, t) for r, t, _s, h in result.tasks if h
            )
            result.refused_logins = len(REFUSED_RETRIED.findall(logs))
            result.pending_logins = len(PENDING_LOGIN.findall(logs))
            bad = [t for t in result.tasks if t[2] != "success"]
            if bad or any(s != "success" for s in states):
                result.problems.append(f"{len(bad)} task(s) did not succeed: {bad[:4]}")
            if result.rotations < 2:
                result.problems.append(f"only {result.rotations} rotation(s) completed mid-run")
            try:
                compare_totals(self.admin, first, first + timedelta(days=days))
            except AssertionError as exc:
                result.problems.append(f"target differs from source: {exc}")
            hosts = {t[3] for t in result.tasks}
            if not {"worker1", "worker2"} <= hosts:
                result.problems.append(f"tasks ran only on {sorted(hosts)}")
            self.out.say(
                f"[{mode}] {len(result.tasks)} tasks in {result.seconds:.0f}s, "
                f"{result.rotations} rotations, {result.refused_logins} refused logins "
                f"recovered ({result.pending_logins} with AWSPENDING); calls "
                + ", ".join(f"{h} {sum(c.values())}" for h, c in result.calls.items())
            )
            return result
        finally:
            if mode != "agents":
                self.stop_mode()

    @property
    def control_ns(self) -> str:
        assert self.net.control is not None
        return self.net.control.netns

    @property
    def admin(self) -> Admin:
        c = self.cluster
        return Admin(c.host, c.port, c.admin_user, c.admin_password)

    def run_faults(self, first: date, days: int) -> ModeResult:
        """With the agents up: worker1's agent killed, worker2's Secrets Manager route down."""
        result = ModeResult("faults", (first, first + timedelta(days=days)))
        try:
            worker1, worker2 = self.net.host("worker1"), self.net.host("worker2")
            # The fault under test: the route fails while worker2's agent holds the
            # current secrets (as its prefetch ensures within a TTL on a quiet host).
            # Without this, whether it had re-read them since the rotation that just
            # finished was a race, and a rotated-away password is a different failure.
            for secret_id in (stack.SOURCE_SECRET_ID, stack.TARGET_SECRET_ID):
                self.agents["worker2"].client().get_secret_value(secret_id, refresh=True)
            self.agents["worker1"].kill()
            self.net.break_route(worker2)
            self.out.say(
                "[faults] worker1's agent killed (SIGKILL); worker2's route to Secrets Manager "
                f"is unreachable; waiting {self.agent_ttl:.0f}s for the agents' TTL"
            )
            time.sleep(self.agent_ttl + 2)  # worker2's agent must now need Secrets Manager
            for proxy in self.proxies.values():
                proxy.clear()
            started = time.monotonic()
            backfill_id = self.backfill("agents", first, days)
            states = self.wait_for(backfill_id, days, timeout=300)
            result.seconds = time.monotonic() - started
            result.tasks = self.meta.task_instances(backfill_id)
            result.calls = {n: Counter(p.requests) for n, p in self.proxies.items()}
            result.secret_reads = {n: _reads_by_secret(p) for n, p in self.proxies.items()}
            self.net.restore_route(worker2)
            self._check_faults(result, states, first, days, worker1, worker2)
            return result
        finally:
            self.stop_mode()

    def _check_faults(
        self,
        result: ModeResult,
        states: list[str],
        first: date,
        days: int,
        worker1: Host,
        worker2: Host,
    ) -> None:
        on1 = [t for t in result.tasks if t[3] == "worker1"]
        on2 = [t for t in result.tasks if t[3] == "worker2"]
        if not on1 or not on2:
            result.problems.append(f"fault tasks did not reach both workers: {len(on1)}/{len(on2)}")
        failed1 = [t for t in on1 if t[2] != "success"]
        if failed1:
            result.problems.append(f"worker1 (agent killed): {len(failed1)} task(s) failed")
        # The fallback is logged by whichever process asked (the task, or the task
        # runner's supervisor for the backend): at least once, at most once per task.
        worker_log = self.deployment.work / "logs" / "agents" / "worker1-celery-worker.log"
        texts = [worker_log.read_text(errors="replace")] + [
            self.task_log(worker1, run_id, task_id) for run_id, task_id, _s, _h in on1
        ]
        fallbacks = sum(len(FALLBACK.findall(text)) for text in texts)
        result.fallbacks_logged = fallbacks
        if on1 and not 1 <= fallbacks <= 2 * len(on1):
            result.problems.append(
                f"worker1: the fallback was logged {fallbacks} time(s) for {len(on1)} task(s)"
            )
        if result.calls.get("worker1", Counter()).get("GetSecretValue", 0) == 0:
            result.problems.append("worker1 made no direct call after its agent died")
        for run_id, task_id, state, _ in on2:
            if state == "success":
                continue
            text = self.task_log(worker2, run_id, task_id)
            if REFUSED.search(text) or not UNREACHABLE.search(text):
                result.problems.append(
                    f"worker2 {task_id} {run_id} failed without a clear 'unreachable' error"
                )
        if sum(result.calls.get("worker2", Counter()).values()):
            result.problems.append("worker2 reached Secrets Manager through a broken route")
        succeeded_days = [
            first + timedelta(days=i) for i, state in enumerate(states) if state == "success"
        ]
        for day in succeeded_days:
            try:
                compare_totals(self.admin, day, day + timedelta(days=1))
            except AssertionError as exc:
                result.problems.append(f"{day}: target differs from source: {exc}")
        self.out.say(
            f"[faults] worker1: {len(on1)} task(s), {len(failed1)} failed; worker2: "
            f"{len(on2)} task(s), {sum(1 for t in on2 if t[2] == 'success')} succeeded "
            f"(stale-if-error or a clear error); runs: {Counter(states)}"
        )

    def task_log(self, host: Host, run_id: str, task_id: str) -> str:
        base = self.deployment.work / host.name / "logs"
        parts = [
            p.read_text(errors="replace")
            for p in base.rglob("*")
            if p.is_file() and f"run_id={run_id}" in str(p) and f"task_id={task_id}" in str(p)
        ]
        return "\n".join(parts)

    def leak_scan(self) -> tuple[int, list[str]]:
        """Every file under the work directory (task, worker, agent, scheduler, API
        server and DAG processor logs) and our own output, for every password any
        version of the secrets held and the admin password."""
        from tests.leakguard import LeakGuard

        guard = LeakGuard()
        for value in self.known_values | {self.cluster.admin_password}:
            guard.register(value)
            guard.register(json.dumps(value)[1:-1])
        leaks = ["multihost output"] if guard.find(self.out.text()) else []
        scanned = 1
        for path in sorted(self.deployment.work.rglob("*")):
            if path.is_file() and not path.is_socket() and path.name != "agent.token":
                scanned += 1
                if guard.find(path.read_bytes().decode("utf-8", errors="replace")):
                    leaks.append(str(path.relative_to(self.deployment.work)))
        return scanned, leaks


def _reads_by_secret(proxy: FaultProxy) -> Counter[str]:
    """GetSecretValue calls that reached Secrets Manager, by secret id."""
    return Counter(
        secret_id
        for operation, secret_ids in list(proxy.calls)
        if operation == "GetSecretValue"
        for secret_id in secret_ids
    )


def _delta(now: dict[str, Any], before: dict[str, Any], key: str) -> int:
    def total(stats: dict[str, Any]) -> int:
        value = stats.get(key, 0)
        if isinstance(value, dict):
            return int(sum(value.values()))
        return int(value or 0)

    return max(0, total(now) - total(before))


# -- the report ----------------------------------------------------------------------
def report(results: list[ModeResult], scanned: int, leaks: list[str]) -> dict[str, Any]:
    hosts = ("control", "worker1", "worker2")
    modes = []
    for r in results:
        modes.append(
            {
                "mode": r.mode,
                "days": [r.days[0].isoformat(), r.days[1].isoformat()],
                "seconds": round(r.seconds, 1),
                "tasks": len(r.tasks),
                "tasks_per_host": {h: r.tasks_on(h) for h in hosts},
                "task_states": dict(Counter(t[2] for t in r.tasks)),
                "rotations": r.rotations,
                "fallbacks_logged": r.fallbacks_logged,
                "refused_logins": r.refused_logins,
                "pending_logins": r.pending_logins,
                "task_states_per_host": {
                    h: dict(Counter(t[2] for t in r.tasks if t[3] == h)) for h in hosts
                },
                "calls": {h: dict(r.calls.get(h, Counter())) for h in hosts},
                "secret_reads": {h: dict(r.secret_reads.get(h, Counter())) for h in hosts},
                "agent_hits": r.agent_hits,
                "agent_api_calls": r.agent_api_calls,
                "problems": r.problems,
            }
        )
    problems = [p for r in results for p in r.problems] + [f"secret value in {w}" for w in leaks]
    return {"modes": modes, "files_scanned": scanned, "leaks": leaks, "problems": problems}


def table(rep: dict[str, Any]) -> list[str]:
    """Markdown: per mode and host, tasks, Secrets Manager calls and agent hits."""
    lines = [
        "| mode | host | tasks | Secrets Manager calls | of which GetSecretValue | agent hits |",
        "|---|---|---|---|---|---|",
    ]
    for m in rep["modes"]:
        for host, calls in m["calls"].items():
            hits = m["agent_hits"].get(host)
            lines.append(
                f"| {m['mode']} | {host} | {m['tasks_per_host'][host]} | "
                f"{sum(calls.values())} | {calls.get('GetSecretValue', 0)} | "
                f"{'-' if hits is None else hits} |"
            )
    return lines


@contextmanager
def deployment(out: Output, work: Path, agent_ttl: float, pause: float) -> Iterator[MultiHost]:
    """Everything up; everything torn down on exit (namespaces included)."""
    with ExitStack() as cleanup:
        tag = str(os.getpid())
        net = HostNetwork(workers=2, tag=tag)
        cleanup.callback(net.close)
        net.open()
        out.say(
            f"hosts: control ({net.control.netns if net.control else '?'}), "
            + ", ".join(f"{h.name} {h.address}" for h in net.hosts)
        )
        moto = start_moto()
        cleanup.callback(moto.stop)
        cluster = start_cluster()
        cleanup.callback(cluster.stop)
        admin = Admin(cluster.host, cluster.port, cluster.admin_user, cluster.admin_password)
        seeded = seed(
            moto.client(), admin, admin,
            source_host=SERVICES_ADDRESS, target_host=SERVICES_ADDRESS,
            days=14, orders_per_day=200,
        )  # fmt: skip
        with admin.connect(stack.TARGET_DB) as conn, conn.cursor() as cur:
            cur.execute(f"DELETE FROM {stack.DAILY_TABLE}")
        out.say(f"seeded {seeded.orders} orders; secrets point at {SERVICES_ADDRESS}")
        db_name = f"af_multihost_{tag}"
        create_database(db_name)
        cleanup.callback(drop_database, db_name)
        queue = f"psmh_{tag}"
        redis_db = int(tag) % 15 + 1
        cleanup.callback(clear_redis_keys, redis_db, queue)
        proxies = {
            name: FaultProxy(moto.endpoint_url).start()
            for name in ("control", "worker1", "worker2")
        }
        for proxy in proxies.values():
            cleanup.callback(proxy.stop)
        forwarder = _start_forwarder(net, moto, cluster, proxies, work)
        cleanup.callback(_stop_forwarder, forwarder)
        dep = Deployment(
            db_name, redis_db, queue, work,
            fernet_key=_fernet_key(), jwt_secret=secrets.token_urlsafe(32),
        )  # fmt: skip
        assert net.control is not None
        env = dep.env(net.control, "ours", None)
        started = time.monotonic()
        airflow_cli(net.control, env, "db", "migrate")
        out.say(f"metadata database {db_name} migrated in {time.monotonic() - started:.0f}s")
        mh = MultiHost(out, net, moto, cluster, dep, Metadata(db_name), proxies, agent_ttl, pause)
        cleanup.callback(mh.stop_mode)
        yield mh


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def _start_forwarder(
    net: HostNetwork,
    moto: MotoServer,
    cluster: PostgresCluster,
    proxies: dict[str, FaultProxy],
    work: Path,
) -> subprocess.Popen[str]:
    """The hosts' path to the root namespace's services (see devstack/netforward.py)."""
    assert net.control is not None
    ns = net.control.netns
    moto_port = int(moto.endpoint_url.rsplit(":", 1)[1])
    proxy_at = {n: p.endpoint_url.split("//", 1)[1] for n, p in proxies.items()}
    routes = [
        Route(ns, "0.0.0.0", REDIS[1], f"{REDIS[0]}:{REDIS[1]}"),
        Route(ns, "0.0.0.0", META_PG[1], f"{META_PG[0]}:{META_PG[1]}"),
        Route(ns, "0.0.0.0", cluster.port, f"127.0.0.1:{cluster.port}"),
        # moto itself, on control's loopback only: the rotation (the "Lambda") uses it
        Route(ns, "127.0.0.1", moto_port, f"127.0.0.1:{moto_port}"),
        Route(
            ns, SECRETS_ADDRESS, SM_PORT, proxy_at["control"],
            by_peer={h.address: proxy_at[h.name] for h in net.hosts},
        ),
    ]  # fmt: skip
    log = open(work / "forwarder.log", "a")  # noqa: SIM115 - lives as long as the process
    proc = subprocess.Popen(
        [sys.executable, "-m", "devstack.netforward"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(json.dumps([r.to_json() for r in routes]) + "\n")
    proc.stdin.flush()
    if proc.stdout.readline().strip() != "ready":
        proc.kill()
        raise RuntimeError(f"the forwarder did not start (see {work / 'forwarder.log'})")
    return proc


def _stop_forwarder(proc: subprocess.Popen[str]) -> None:
    if proc.stdin is not None:
        proc.stdin.close()  # it exits when its stdin closes
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=3, help="days of data per mode")
    parser.add_argument("--fault-days", type=int, default=4)
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated subset")
    parser.add_argument("--no-faults", action="store_true")
    parser.add_argument("--pause", type=float, default=5.0, help="seconds inside each window")
    parser.add_argument("--agent-ttl", type=float, default=30.0)
    parser.add_argument("--json", type=Path, help="write the report here")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)

    ok, why = netns.available()
    if not ok:
        print(f"multihost: skipped: {why}", flush=True)
        return EXIT_SKIP

    for service, (host, port) in (("Redis (the broker)", REDIS), ("PostgreSQL", META_PG)):
        try:
            wait_for_port(host, port, timeout=5)
        except TimeoutError:
            print(f"multihost: {service} is not listening on {host}:{port}", flush=True)
            return 1

    def _terminated(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)  # unwinds the teardown, namespaces included

    signal.signal(signal.SIGTERM, _terminated)
    out = Output()
    out.say("pipeline-secrets multi-host run: Celery workers on 2 hosts, an agent per host")
    work = Path(tempfile.mkdtemp(prefix="ps-multihost-"))
    os.chmod(work, 0o700)
    results: list[ModeResult] = []
    rep: dict[str, Any] = {}
    exit_code = 1
    try:
        with deployment(out, work, args.agent_ttl, args.pause) as mh:
            first = FIRST_DAY
            modes = [m for m in args.modes.split(",") if m]
            for mode in modes:
                results.append(mh.run_mode(mode, first, args.days))
                first += timedelta(days=args.days)
            if "agents" in modes and not args.no_faults:
                results.append(mh.run_faults(first, args.fault_days))
            mh.stop_mode()
            scanned, leaks = mh.leak_scan()
            rep = report(results, scanned, leaks)
            out.say(f"leak scan: {scanned} files, {len(leaks)} with a secret value")
    except Exception as exc:
        out.say(f"multihost run failed: {type(exc).__name__}: {exc}")
        rep = report(results, 0, [])
        rep["problems"].append(f"{type(exc).__name__}: {exc}")
    finally:
        if not args.keep:
            import shutil

            shutil.rmtree(work, ignore_errors=True)
        out.say(f"torn down; total {time.monotonic() - out.started:.0f}s")
    rep["seconds"] = round(time.monotonic() - out.started, 1)
    for line in table(rep):
        print(line, flush=True)
    for problem in rep["problems"]:
        print(f"PROBLEM: {problem}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rep, indent=2))
    exit_code = 0 if not rep["problems"] and results else 1
    print(f"multihost: {'ok' if exit_code == 0 else 'FAILED'}", flush=True)
    return exit_code


if __name__ == "__main__":
    raise SystemExit(main())
