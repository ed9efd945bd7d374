"""API cost of an Airflow deployment over one simulated hour, against one moto server.

    python -m bench.bench_airflow_cost [--dag-files 10] [--variables-per-file 5] ...

Workload: ``--dag-files`` DAG files, each parsed every 30 s (Airflow's default
``min_file_process_interval``), each parse reading ``--variables-per-file`` Variables at
top level (``--absent-per-file`` of them absent from Secrets Manager, as
``Variable.get(key, default_var=None)`` does); ``--tasks`` task runs spread over the
hour, each reading ``--connections-per-task`` Connections. Time is simulated (a manual
clock, no waiting); the calls are real requests to moto, counted by the server.

Airflow's process model, modelled explicitly: Airflow parses each DAG file and runs
each task in a new process, so every parse and every task run here gets a NEW backend
object with an empty in-process cache (``bench_backend`` checks with real processes
that this is what happens). What survives between processes:

* ``official``: nothing (the amazon provider's backend caches nothing);
* ``official+use_cache``: Airflow's ``[secrets] use_cache``
  (``airflow.sdk.execution_time.cache.SecretCache``): the DAG processor manager calls
  ``SecretCache.init()`` before it forks the parsing processes; the cache is a
  ``multiprocessing.Manager().dict()`` shared by every parsing process, entries
  expire after ``[secrets] cache_ttl_seconds`` (default 900 s), Variables are cached
  with ``None`` (absent) too, Connections only when found; task runs never call
  ``init()``, so tasks go uncached. Modelled as one dict shared by all parses with
  entries stamped in simulated time;
* ``ours``: our backend with defaults (in-process cache only, no agent);
* ``ours+prefetch``: ``prefetch=True`` (in-process prefix prefetch, no agent);
* ``ours+agent``: our backend reading through one host-level ``pipeline-secrets
  agent`` (prefetch of both prefixes, default TTLs), run in this process on the
  simulated clock and reached over HTTP like a sidecar.

Dollars per month: calls per hour x 24 x 30 x $0.05 / 10,000 (list price per API call;
the per-secret monthly charge is the same for every variant and left out).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import secrets as pysecrets
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from bench.report import markdown_table, write_results

OPERATIONS = ("GetSecretValue", "BatchGetSecretValue", "DescribeSecret", "ListSecrets")
OFFICIAL = "official"
PRICE_PER_CALL = 0.05 / 10_000
HOURS_PER_MONTH = 24 * 30
PARSE_INTERVAL = 30.0


class SimClock:
    """The clock of the simulated hour (monotonic for the agent's cache)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class UseCacheModel:
    """Airflow's ``[secrets] use_cache``: one dict shared by all parsing processes."""

    def __init__(self, clock: SimClock, ttl: float = 900.0) -> None:
        self.clock = clock
        self.ttl = ttl
        self.entries: dict[str, tuple[str | None, float]] = {}

    def variable(self, key: str, fetch: Callable[[], str | None]) -> str | None:
        entry = self.entries.get("__v_" + key)
        if entry is not None and self.clock.now - entry[1] <= self.ttl:
            return entry[0]
        value = fetch()
        self.entries["__v_" + key] = (value, self.clock.now)  # None is saved as well
        return value


def _events(args: argparse.Namespace) -> list[tuple[float, str, int]]:
    events = [
        (round_no * PARSE_INTERVAL, "parse", f)
        for round_no in range(int(args.hours * 3600 / PARSE_INTERVAL))
        for f in range(args.dag_files)
    ]
    span = args.hours * 3600
    events += [(i * span / args.tasks + 7.0, "task", i) for i in range(args.tasks)]
    return sorted(events)


def _variables(args: argparse.Namespace, f: int) -> list[str]:
    present = args.variables_per_file - args.absent_per_file
    keys = [f"v{(f * 3 + k) % args.variable_pool:03d}" for k in range(present)]
    keys += [f"absent_{(f + k) % args.absent_pool:03d}" for k in range(args.absent_per_file)]
    return keys


def _connections(args: argparse.Namespace, i: int) -> list[str]:
    return [
        f"c{(i * 7 + k * 3) % args.connection_pool:03d}" for k in range(args.connections_per_task)
    ]


def seed(moto: Any, args: argparse.Namespace) -> None:
    client = moto.client()
    for i in range(args.connection_pool):
        client.create_secret(
            Name=f"airflow/connections/c{i:03d}",
            SecretString=json.dumps(
                {
                    "conn_type": "postgres",
                    "host": f"db{i}.example",
                    "login": "app",
                    "password": pysecrets.token_urlsafe(16),
                    "port": 5432,
                    "schema": "sales",
                }
            ),
        )
    for i in range(args.variable_pool):
        client.create_secret(Name=f"airflow/variables/v{i:03d}", SecretString=f"value-{i}")


def run_variant(name: str, moto: Any, args: argparse.Namespace) -> dict[str, Any]:
    from airflow.providers.amazon.aws.secrets.secrets_manager import (
        SecretsManagerBackend as Official,
    )

    from airflow_plugin.secrets_manager import SecretsManagerBackend as Ours

    clock = SimClock()
    agent = None
    shared_official_client = moto.client()
    use_cache = (
        UseCacheModel(clock, ttl=args.use_cache_ttl) if name == "official+use_cache" else None
    )
    ours_kwargs: dict[str, Any] = {}
    if name == "ours+prefetch":
        ours_kwargs = {"prefetch": True}
    if name == "ours+agent":
        from pipeline_secrets.cache import CachePolicy, SecretCache
        from pipeline_secrets.client import ClientSettings
        from pipeline_secrets.source import SecretsManagerSource
        from pipeline_secrets.tools.agent_server.server import Agent, AgentConfig

        token = pysecrets.token_urlsafe(24)
        cache = SecretCache(
            SecretsManagerSource(
                ClientSettings.create(endpoint_url=moto.endpoint_url, region_name="us-east-1")
            ),
            policy=CachePolicy.create(),
            clock=clock,
        )
        agent = Agent(
            cache,
            AgentConfig(
                port=0,
                token=token,
                prefetch_prefixes=("airflow/connections/", "airflow/variables/"),
                # The simulated hour runs ~50x faster than real time on a loaded machine:
                # a miss may wait for a prefix pass as long as it really takes here.
                prefetch_wait_seconds=10.0,
            ),
        )
        address = agent.start_in_thread()
        ours_kwargs = {"agent_address": address, "agent_token": token}

    def new_backend() -> Any:
        """A new process's backend: nothing cached in it."""
        if name.startswith(OFFICIAL):
            backend = Official()
            # Client construction is not an API call; share one so that building 2,000+
            # boto3 clients does not dominate the run time. Counts are unaffected.
            backend.__dict__["client"] = shared_official_client
            return backend
        return Ours(**ours_kwargs)

    import airflow_plugin.secrets_manager as ours_module

    original_factory = ours_module.client_factory
    factories: dict[str, Any] = {}

    def shared_factory(*a: Any, **kw: Any) -> Any:
        # Client construction is not an API call; reuse one boto3 client per
        # configuration instead of building one per simulated process (~150 ms each).
        key = repr((a, sorted(kw.items())))
        if key not in factories:
            factories[key] = original_factory(*a, **kw)
        return factories[key]

    ours_module.client_factory = shared_factory
    moto.reset_counts()
    found = Counter[str]()
    started = time.perf_counter()
    units = 0
    try:
        for when, role, index in _events(args):
            clock.now = 1000.0 + when
            backend = new_backend()
            units += 1
            if role == "parse":
                for key in _variables(args, index):
                    if use_cache is not None:
                        fetch = functools.partial(backend.get_variable, key)
                        value = use_cache.variable(key, fetch)
                    else:
                        value = backend.get_variable(key)
                    found["variables found" if value is not None else "variables absent"] += 1
            else:
                for conn_id in _connections(args, index):
                    conn = backend.get_connection(conn_id)
                    found["connections found" if conn is not None else "connections absent"] += 1
    finally:
        ours_module.client_factory = original_factory
        if agent is not None:
            agent.stop()
    wall = time.perf_counter() - started
    calls = moto.calls
    total = sum(calls.get(op, 0) for op in OPERATIONS)
    per_hour = total / args.hours
    return {
        "variant": name,
        "units": units,
        "lookups": dict(found),
        "calls": {op: calls.get(op, 0) for op in OPERATIONS},
        "other_calls": {k: v for k, v in calls.items() if k not in OPERATIONS},
        "total_calls": total,
        "calls_per_hour": per_hour,
        "dollars_per_month": per_hour * HOURS_PER_MONTH * PRICE_PER_CALL,
        "wall_seconds": wall,
    }


def _fewer(cut: float) -> str:
    if cut >= 0:
        return f"{100 * cut:.1f}% fewer calls than"
    return f"{1 - cut:.2f}x as many calls as"


VARIANTS = ("official", "official+use_cache", "ours", "ours+prefetch", "ours+agent")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dag-files", type=int, default=10)
    parser.add_argument("--variables-per-file", type=int, default=5)
    parser.add_argument("--absent-per-file", type=int, default=2)
    parser.add_argument("--variable-pool", type=int, default=40)
    parser.add_argument("--absent-pool", type=int, default=6)
    parser.add_argument("--tasks", type=int, default=240, help="task runs per simulated hour")
    parser.add_argument("--connections-per-task", type=int, default=2)
    parser.add_argument("--connection-pool", type=int, default=20)
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--use-cache-ttl", type=float, default=900.0)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    args = parser.parse_args(argv)

    import logging

    from devstack.moto_server import start_moto

    logging.getLogger("airflow").setLevel(logging.ERROR)
    logging.getLogger("airflow_plugin").setLevel(logging.ERROR)
    moto = start_moto()
    os.environ.update(moto.env())
    for key in [k for k in os.environ if k.startswith(("AIRFLOW__SECRETS", "PIPELINE_SECRETS_"))]:
        del os.environ[key]
    try:
        seed(moto, args)
        results = {}
        for name in args.variants.split(","):
            results[name] = run_variant(name, moto, args)
            r = results[name]
            print(f"{name:<20}{r['total_calls']:>8} calls  {r['wall_seconds']:.1f}s", flush=True)
    finally:
        moto.stop()

    base = results.get("official", {}).get("total_calls")
    cached = results.get("official+use_cache", {}).get("total_calls")
    rows = []
    for name, r in results.items():
        total = r["total_calls"]
        rows.append(
            [
                name,
                *(f"{r['calls'][op]:,}" for op in OPERATIONS),
                f"{r['calls_per_hour']:,.0f}",
                f"${r['dollars_per_month']:,.2f}",
                f"{total / base:.4f}" if base else "-",
                f"{total / cached:.3f}" if cached else "-",
            ]
        )
    table = markdown_table(
        [
            "variant",
            *(f"{op} (run)" for op in OPERATIONS),
            "calls / hour",
            "$ / month",
            "ratio to official",
            "ratio to official+use_cache",
        ],
        rows,
    )
    lookups = next(iter(results.values()))["lookups"]
    parses = int(args.hours * 3600 / PARSE_INTERVAL) * args.dag_files
    verdicts = []
    for ours_name in ("ours", "ours+prefetch", "ours+agent"):
        if ours_name not in results or not base or not cached:
            continue
        total = results[ours_name]["total_calls"]
        cut_off = 1 - total / base
        cut_cached = 1 - total / cached
        verdicts.append(
            f"- {ours_name}: {_fewer(cut_off)} official (target >= 95% fewer: "
            f"**{'met' if cut_off >= 0.95 else 'NOT met'}**), {_fewer(cut_cached)} "
            f"official+use_cache (target >= 50% fewer: "
            f"**{'met' if cut_cached >= 0.5 else 'NOT met'}**)"
        )
    text = "\n\n".join(
        [
            f"## API cost of an Airflow deployment (one simulated hour: {args.dag_files} DAG "
            f"files parsed every 30 s = {parses:,} parses x {args.variables_per_file} Variables "
            f"({args.absent_per_file} absent); {args.tasks} task runs x "
            f"{args.connections_per_task} Connections)",
            table,
            "Lookups per variant: " + ", ".join(f"{k} {v:,}" for k, v in sorted(lookups.items())),
            "\n".join(verdicts),
        ]
    )
    print(text)
    write_results("airflow_cost", {"args": vars(args), "results": results}, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
