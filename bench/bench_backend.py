"""Airflow's process model against one moto server: the amazon provider's backend vs ours.

Airflow parses every DAG file and runs every task in a new process, so a cache that
lives in one process saves almost nothing. This benchmark starts every DAG parse and
every task run in its own new process (``ProcessPoolExecutor`` with
``max_tasks_per_child=1``: one process per unit; start method ``forkserver`` by
default - a clean parent that imported Airflow forks each one, as Airflow's DAG
processor and task supervisor do, and no backend, client or cache is inherited -
or ``spawn`` for fresh interpreters),
parses reading Variables (some missing, as ``Variable.get(..., default_var=None)``
does), tasks reading Connections and a Variable, and runs the same workload with:

* ``official``: ``airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend``;
* ``ours-direct``: our backend without the agent (per-process cache only);
* ``ours-agent``: our backend reading through ``pipeline-secrets agent`` (started once,
  as a sidecar would be: the hardened agent on a Unix socket with a token file, scoped
  to and prefetching the two prefixes).

API calls are counted by the moto server itself (every request of every process,
the agent's included) and cross-checked against the clients' own counts. It also
times, in one process, a cache hit of ``get_connection`` against building the
Connection object from its JSON (``Connection.from_json``).

Run: ``python -m bench.bench_backend`` (1-2 minutes on 2 cores). Writes
bench/results/bench_backend.json and .md (``--start-method spawn``:
bench_backend_spawn.*).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from bench.report import fmt_seconds, markdown_table, summary, time_calls, write_results

OFFICIAL = "airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend"
OURS = "airflow_plugin.secrets_manager.SecretsManagerBackend"
OPERATIONS = ("GetSecretValue", "BatchGetSecretValue", "ListSecrets", "DescribeSecret")
PRELOAD = [
    "bench.bench_backend",
    "airflow.providers.amazon.aws.secrets.secrets_manager",
    "airflow_plugin.secrets_manager",
    "airflow.models.connection",
]
N_CONNECTIONS = 20
N_VARIABLES = 30


@dataclass(frozen=True)
class Unit:
    """One new process: a DAG parse or a task run."""

    variant: str
    role: str  # "parse" or "task"
    index: int
    backend_path: str
    kwargs: dict[str, Any]


def _parse_keys(index: int) -> list[str]:
    present = [f"v{(index * 3 + k) % N_VARIABLES:02d}" for k in range(3)]
    missing = [f"missing_{(index + k) % 4}" for k in range(2)]  # same DAG files, same misses
    return present + missing


def _task_lookups(index: int) -> list[tuple[str, str]]:
    return [
        ("conn", f"c{index % N_CONNECTIONS:02d}"),
        ("conn", f"c{(index * 7 + 3) % N_CONNECTIONS:02d}"),
        ("var", f"v{(index * 5) % N_VARIABLES:02d}"),
    ]


def run_unit(unit: Unit) -> dict[str, Any]:
    """Runs in a brand-new process: build the backend the way Airflow does, then look up."""
    import importlib

    module_name, class_name = unit.backend_path.rsplit(".", 1)
    backend = getattr(importlib.import_module(module_name), class_name)(**unit.kwargs)
    client_calls = Counter[str]()
    client_seconds = 0.0
    if unit.backend_path == OFFICIAL:
        # Its client is built on the first lookup; build it here to hook the counter in,
        # and charge the time to the first lookup as Airflow would see it.

        def count(model: Any, **_: Any) -> None:
            client_calls[model.name] += 1

        start = time.perf_counter()
        client = backend.client
        client_seconds = time.perf_counter() - start
        client.meta.events.register("before-call.secrets-manager.*", count)
    lookups: list[tuple[str, str]]
    if unit.role == "parse":
        lookups = [("var", key) for key in _parse_keys(unit.index)]
    else:
        lookups = _task_lookups(unit.index)
    times: list[float] = []
    found = 0
    for kind, key in lookups:
        start = time.perf_counter()
        result = backend.get_connection(key) if kind == "conn" else backend.get_variable(key)
        times.append(time.perf_counter() - start)
        found += result is not None
    times[0] += client_seconds
    if unit.backend_path == OURS:
        client_calls.update(backend.stats()["api_calls"])
    return {"times": times, "found": found, "lookups": len(lookups), "calls": dict(client_calls)}


def _seed(moto: Any) -> None:
    client = moto.client()
    for i in range(N_CONNECTIONS):
        client.create_secret(
            Name=f"airflow/connections/c{i:02d}",
            SecretString=json.dumps(
                {
                    "conn_type": "postgres",
                    "host": f"db{i}.example",
                    "login": "app",
                    "password": secrets.token_urlsafe(16),
                    "port": 5432,
                    "schema": "sales",
                    "extra": {"sslmode": "require"},
                }
            ),
        )
    for i in range(N_VARIABLES):
        client.create_secret(Name=f"airflow/variables/v{i:02d}", SecretString=f"value-{i}")


def _start_agent(moto: Any, token: str) -> tuple[subprocess.Popen[bytes], str]:
    """An agent on loopback TCP with ``token`` (kept for bench_scale), scoped to and
    prefetching the two prefixes."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, **moto.env(), "PIPELINE_SECRETS_AGENT_TOKEN": token}
    cmd = [sys.executable, "-m", "pipeline_secrets.tools", "agent", "--port", str(port)]
    cmd += ["--prefetch-prefix", "airflow/connections/", "--prefetch-prefix", "airflow/variables/"]
    agent = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    from pipeline_secrets.agent.client import AgentClient

    address = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not AgentClient(address, None).ping():
        if time.monotonic() > deadline or agent.poll() is not None:
            raise RuntimeError("the agent did not start")
        time.sleep(0.1)
    return agent, address


def _start_unix_agent(moto: Any, directory: str) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    """The hardened agent as deployments run it: a Unix socket and a token file in a
    private directory, scoped to (and prefetching) the two prefixes."""
    socket_path = os.path.join(directory, "agent.sock")
    token_file = os.path.join(directory, "agent.token")
    env = {**os.environ, **moto.env()}
    cmd = [sys.executable, "-m", "pipeline_secrets.tools", "agent"]
    cmd += ["--unix-socket", socket_path, "--token-file", token_file]
    cmd += ["--prefetch-prefix", "airflow/connections/", "--prefetch-prefix", "airflow/variables/"]
    agent = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    from pipeline_secrets.agent.client import AgentClient

    address = f"unix:{socket_path}"
    probe = AgentClient(address, None)
    deadline = time.monotonic() + 30
    while not probe.ping():
        if time.monotonic() > deadline or agent.poll() is not None:
            raise RuntimeError("the agent did not start")
        time.sleep(0.1)
    return agent, {"agent_address": address, "agent_token_file": token_file}


def run_variant(
    name: str, backend_path: str, kwargs: dict[str, Any], args: argparse.Namespace, moto: Any
) -> dict[str, Any]:
    units = [Unit(name, "parse", i, backend_path, kwargs) for i in range(args.parses)]
    units += [Unit(name, "task", i, backend_path, kwargs) for i in range(args.tasks)]
    moto.reset_counts()
    context = multiprocessing.get_context(args.start_method)
    if args.start_method == "forkserver":
        # Like Airflow's DAG processor and task supervisor: a clean parent that has
        # imported Airflow forks a new process per unit; no backend, client or cache is
        # inherited (the forkserver never builds one).
        context.set_forkserver_preload(PRELOAD)
    started = time.perf_counter()
    with ProcessPoolExecutor(
        max_workers=args.workers, mp_context=context, max_tasks_per_child=1
    ) as pool:
        results = list(pool.map(run_unit, units))
    wall = time.perf_counter() - started
    server_calls = moto.calls
    client_calls: Counter[str] = Counter()
    for result in results:
        client_calls.update(result["calls"])
    times = [t for r in results for t in r["times"]]
    first = [r["times"][0] for r in results]
    rest = [t for r in results for t in r["times"][1:]]
    return {
        "processes": len(units),
        "lookups": sum(r["lookups"] for r in results),
        "found": sum(r["found"] for r in results),
        "server_calls": {op: server_calls.get(op, 0) for op in OPERATIONS},
        "server_calls_total": sum(server_calls.values()),
        "client_calls": dict(client_calls),
        "lookup_time": summary(times),
        "first_lookup_time": summary(first),
        "later_lookup_time": summary(rest) if rest else None,
        "wall_seconds": wall,
    }


def micro(moto: Any, n: int) -> dict[str, Any]:
    """Cache hit of get_connection vs building the Connection object from its JSON."""
    from airflow_plugin.secrets_manager import SecretsManagerBackend

    backend = SecretsManagerBackend()
    value = backend.get_conn_value("c00")
    assert value is not None
    # The class Airflow's backends build (airflow.models.Connection, both 2.x and 3.x).
    from airflow.models import Connection

    conn_class: Any = Connection
    backend.get_connection("c00")  # warm
    build = summary(time_calls(lambda: conn_class.from_json(value, conn_id="c00"), n))
    hit = summary(time_calls(lambda: backend.get_connection("c00"), n))
    value_hit = summary(time_calls(lambda: backend.get_conn_value("c00"), n))
    return {
        "n": n,
        "build_connection_from_json": build,
        "get_connection_cache_hit": hit,
        "get_conn_value_cache_hit": value_hit,
        "ratio_hit_to_build": hit["median"] / build["median"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parses", type=int, default=16, help="DAG parse processes per variant")
    parser.add_argument("--tasks", type=int, default=16, help="task processes per variant")
    parser.add_argument("--workers", type=int, default=2, help="processes running at once")
    parser.add_argument(
        "--start-method",
        default="forkserver",
        choices=("forkserver", "spawn"),
        help="forkserver (default): new processes forked from a clean, Airflow-imported "
        "parent, as Airflow does; spawn: new interpreters (slower, same counts)",
    )
    parser.add_argument("--micro-n", type=int, default=3000)
    args = parser.parse_args(argv)

    from devstack.moto_server import start_moto

    moto = start_moto()
    os.environ.update(moto.env())
    for key in [k for k in os.environ if k.startswith(("AIRFLOW__SECRETS", "PIPELINE_SECRETS_"))]:
        del os.environ[key]
    agent_dir = tempfile.mkdtemp(prefix="ps-bench-")  # 0700
    agent: subprocess.Popen[bytes] | None = None
    try:
        _seed(moto)
        variants: dict[str, dict[str, Any]] = {}
        variants["official"] = run_variant("official", OFFICIAL, {}, args, moto)
        variants["ours-direct"] = run_variant("ours-direct", OURS, {}, args, moto)
        moto.reset_counts()
        agent, agent_kwargs = _start_unix_agent(moto, agent_dir)
        variants["ours-agent"] = run_variant("ours-agent", OURS, agent_kwargs, args, moto)
        from pipeline_secrets.agent.client import AgentClient
        from pipeline_secrets.agent.tokenfile import read_token_file

        token = read_token_file(agent_kwargs["agent_token_file"])
        agent_stats = AgentClient(agent_kwargs["agent_address"], token).stats()
        variants["ours-agent"]["client_calls"] = dict(
            Counter(variants["ours-agent"]["client_calls"]) + Counter(agent_stats["api_calls"])
        )
        moto.reset_counts()
        micro_result = micro(moto, args.micro_n)
    finally:
        if agent is not None:
            agent.send_signal(signal.SIGTERM)
            agent.wait(timeout=10)
        shutil.rmtree(agent_dir, ignore_errors=True)
        moto.stop()

    base = variants["official"]["server_calls_total"]
    rows = []
    for name, v in variants.items():
        total = v["server_calls_total"]
        agree = all(v["client_calls"].get(op, 0) == v["server_calls"][op] for op in OPERATIONS)
        rows.append(
            [
                name,
                v["processes"],
                v["lookups"],
                *(v["server_calls"][op] for op in OPERATIONS),
                total,
                f"{100 * (1 - total / base):.1f}%" if base else "-",
                fmt_seconds(v["lookup_time"]["median"]),
                fmt_seconds(v["lookup_time"]["p99"]),
                fmt_seconds(v["later_lookup_time"]["median"]) if v["later_lookup_time"] else "-",
                "yes" if agree else "NO",
            ]
        )
        v["reduction_vs_official"] = (1 - total / base) if base else None
        v["client_and_server_counts_agree"] = agree
    headers = [
        "variant",
        "processes",
        "lookups",
        *OPERATIONS,
        "total calls",
        "fewer calls",
        "lookup median",
        "lookup p99",
        "later lookups median",
        "counts agree",
    ]
    table = markdown_table(headers, rows)
    m = micro_result
    micro_table = markdown_table(
        ["measure (one process, cache warm)", "median", "p99"],
        [
            [
                "Connection.from_json (building the object)",
                fmt_seconds(m["build_connection_from_json"]["median"]),
                fmt_seconds(m["build_connection_from_json"]["p99"]),
            ],
            [
                "backend.get_connection (cache hit, incl. building)",
                fmt_seconds(m["get_connection_cache_hit"]["median"]),
                fmt_seconds(m["get_connection_cache_hit"]["p99"]),
            ],
            [
                "backend.get_conn_value (cache hit)",
                fmt_seconds(m["get_conn_value_cache_hit"]["median"]),
                fmt_seconds(m["get_conn_value_cache_hit"]["p99"]),
            ],
        ],
    )
    reduction = variants["ours-agent"]["reduction_vs_official"] or 0.0
    verdict = (
        f"ours-agent makes {100 * reduction:.1f}% fewer API calls than the official backend "
        f"(target >= 95%: {'met' if reduction >= 0.95 else 'NOT met'}); a get_connection cache "
        f"hit costs {m['ratio_hit_to_build']:.2f}x building the Connection "
        f"(target <= 2x: {'met' if m['ratio_hit_to_build'] <= 2 else 'NOT met'})."
    )
    markdown = "\n\n".join(
        [
            "# Airflow backend benchmark (process model: one new process per parse/task)",
            f"{args.parses} DAG parses (5 Variable lookups, 2 of them missing) and {args.tasks} "
            f"task runs (2 Connections + 1 Variable) per variant, {args.workers} at a time, "
            f"start method {args.start_method}; calls counted by the moto server.",
            table,
            micro_table,
            verdict,
        ]
    )
    print(markdown)
    name = "bench_backend" if args.start_method == "forkserver" else "bench_backend_spawn"
    path = write_results(
        name,
        {"args": vars(args), "variants": variants, "micro": micro_result, "verdict": verdict},
        markdown,
    )
    print(f"\nwritten: {path}")
    return 0 if reduction >= 0.95 and m["ratio_hit_to_build"] <= 2 else 1


if __name__ == "__main__":
    sys.exit(main())
