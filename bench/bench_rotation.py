"""Rotation under load: clients connect-query-disconnect while passwords rotate.

    python -m bench.bench_rotation [--threads 8] [--rotations 30] [--window 0.5]

For each client and each strategy (single user, alternating users) a fresh PostgreSQL
user (SCRAM password auth, a throwaway cluster) and a fresh secret on one moto server;
``--threads`` threads open a psycopg 3 connection, run ``SELECT 1`` and close it, in a
loop with ``--think`` seconds between operations, while ``--rotations`` rotations run
through our rotation functions (``pipeline_secrets.rotation.rotate_secret``), each
holding the setSecret window (new password in the database, AWSCURRENT still old) open
for ``--window`` seconds. Clients:

* ``ours``: the core ``Reconnector`` over one shared ``SecretCache`` (refresh once for
  all threads, then AWSPENDING, backoff within a budget);
* ``aws-advanced-python-wrapper``: ``AwsWrapperConnection`` with the
  ``aws_secrets_manager`` plugin over psycopg 3 (its process-wide cache keeps the
  secret until a login fails - default expiry one year - then re-fetches once; moto is
  made to answer its stage-less GetSecretValue as AWS does, see ``_current_stage_shim``);
* ``refetch-once``: cached AWSCURRENT; on an authentication failure re-fetch AWSCURRENT
  once and retry once;
* ``never-refetch``: fetches the secret once at start and keeps it.

API calls made by the clients are the moto server's counts minus the calls of the
rotation itself (counted on the rotation's boto3 client).
"""

from __future__ import annotations

import argparse
import json
import secrets as pysecrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from bench.report import fmt_seconds, markdown_table, summary, write_results

CLIENTS = ("ours", "aws-advanced-python-wrapper", "refetch-once", "never-refetch")
STRATEGIES = ("single", "alternating")


class _Cancelled(Exception):
    pass


def _counter_hook(counter: Counter[str]) -> Callable[..., None]:
    def count(model: Any, **_: Any) -> None:
        counter[model.name] += 1

    return count


def _current_stage_shim(params: dict[str, Any], **_: Any) -> None:
    """moto returns the old version for GetSecretValue without VersionStage after a
    rotation (it never moves its default version); AWS returns AWSCURRENT. Make moto
    answer as AWS does for a client that omits the stage."""
    if "VersionId" not in params and "VersionStage" not in params:
        params["VersionStage"] = "AWSCURRENT"


def _query_psycopg(kwargs: dict[str, Any]) -> None:
    import psycopg

    with psycopg.connect(**kwargs, connect_timeout=5) as conn:
        conn.execute("SELECT 1").fetchone()


def make_client(kind: str, name: str, moto: Any) -> Callable[[], None]:
    """One operation (connect, SELECT 1, disconnect) as that client does it."""
    from pipeline_secrets.cache import CachePolicy, SecretCache
    from pipeline_secrets.classify import is_authentication_failure
    from pipeline_secrets.client import ClientSettings
    from pipeline_secrets.credentials import DatabaseCredentials, parse_db_credentials
    from pipeline_secrets.reconnect import Reconnector, ReconnectPolicy
    from pipeline_secrets.source import SecretsManagerSource

    settings = ClientSettings.create(endpoint_url=moto.endpoint_url, region_name="us-east-1")
    cache = SecretCache(SecretsManagerSource(settings), policy=CachePolicy(ttl_seconds=300.0))

    def query(creds: DatabaseCredentials) -> None:
        _query_psycopg(creds.dbapi_kwargs("psycopg"))

    if kind == "ours":
        reconnector = Reconnector(
            cache,
            ReconnectPolicy(
                budget_seconds=30.0, initial_backoff_seconds=0.05, max_backoff_seconds=0.5
            ),
        )
        return lambda: reconnector.connect(name, query)
    if kind == "refetch-once":

        def once() -> None:
            try:
                query(parse_db_credentials(cache.get(name), secret_id=name))
            except Exception as exc:
                if not is_authentication_failure(exc):
                    raise
                fresh = cache.get(name, force_refresh=True)
                query(parse_db_credentials(fresh, secret_id=name))

        return once
    if kind == "never-refetch":
        fixed = parse_db_credentials(cache.get(name), secret_id=name)
        return lambda: query(fixed)
    if kind == "aws-advanced-python-wrapper":
        import psycopg
        from aws_advanced_python_wrapper import AwsWrapperConnection
        from aws_advanced_python_wrapper.aws_credentials_manager import AwsCredentialsManager

        doc = json.loads(
            moto.client().get_secret_value(SecretId=name, VersionStage="AWSCURRENT")["SecretString"]
        )
        conninfo = f"host={doc['host']} port={doc['port']} dbname={doc['dbname']}"

        def wrapped() -> None:
            conn = AwsWrapperConnection.connect(
                psycopg.Connection.connect,
                conninfo,
                plugins="aws_secrets_manager",
                secrets_manager_secret_id=name,
                secrets_manager_region="us-east-1",
                secrets_manager_endpoint=moto.endpoint_url,
                connect_timeout=5,
            )
            try:
                cur = conn.cursor()
                cur.execute("SELECT 1")
                cur.fetchone()
            finally:
                conn.close()

        wrapped()  # builds (and caches) its boto3 client; then the moto shim goes on it
        for client in list(AwsCredentialsManager._clients.values()):
            client.meta.events.register(
                "provide-client-params.secrets-manager.GetSecretValue", _current_stage_shim
            )
        return wrapped
    raise ValueError(kind)


def run_one(
    kind: str, strategy: str, moto: Any, cluster: Any, master_name: str, args: argparse.Namespace
) -> dict[str, Any]:
    from pipeline_secrets.rotation import rotate_secret

    sm = moto.client()
    rotation_calls: Counter[str] = Counter()
    sm.meta.events.register("before-call.secrets-manager.*", _counter_hook(rotation_calls))
    user = f"rot_{kind.replace('-', '_')[:12]}_{strategy[:3]}_{pysecrets.token_hex(2)}"
    password = "Rb-" + pysecrets.token_urlsafe(16)
    cluster.create_user(user, password)
    cluster.admin_sql(f"GRANT CONNECT ON DATABASE postgres TO {user}")
    doc: dict[str, Any] = {
        "engine": "postgres",
        "host": cluster.host,
        "port": cluster.port,
        "username": user,
        "password": password,
        "dbname": "postgres",
    }
    if strategy == "alternating":
        doc["masterarn"] = sm.describe_secret(SecretId=master_name)["ARN"]
    name = f"bench/rot/{user}"
    sm.create_secret(Name=name, SecretString=json.dumps(doc))
    setup_error = None
    try:
        op = make_client(kind, name, moto)
    except Exception as exc:  # keep the row, with the reason
        setup_error = f"{type(exc).__name__}: {str(exc)[:200]}"
        return {"client": kind, "strategy": strategy, "setup_error": setup_error}

    stop = threading.Event()
    lock = threading.Lock()
    ops: list[tuple[float, float, bool]] = []  # (start, seconds, ok)
    kinds: Counter[str] = Counter()

    def worker() -> None:
        clock = time.perf_counter
        while not stop.is_set():
            start = clock()
            ok = True
            try:
                op()
            except Exception as exc:
                ok = False
                with lock:
                    kinds[type(exc).__name__] += 1
            with lock:
                ops.append((start, clock() - start, ok))
            time.sleep(args.think)

    windows: list[tuple[float, float]] = []

    def hold(step: str) -> None:
        if step == "setSecret":
            time.sleep(args.window)

    time.sleep(0.05)
    moto.reset_counts()
    rotation_calls.clear()
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(args.threads)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    rotation_errors: list[str] = []
    try:
        time.sleep(args.settle)  # warm-up, not measured
        baseline_from = time.perf_counter()
        time.sleep(args.baseline)  # the same load without rotations
        baseline_to = time.perf_counter()
        for _ in range(args.rotations):
            r_start = time.perf_counter()
            try:
                rotate_secret(name, client=sm, on_step=hold)
            except Exception as exc:
                rotation_errors.append(type(exc).__name__)
            windows.append((r_start, time.perf_counter()))
            time.sleep(args.gap)
        time.sleep(args.settle)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    wall = time.perf_counter() - started
    server = moto.calls
    client_calls = server - rotation_calls
    client_calls = Counter({k: v for k, v in client_calls.items() if v > 0})

    def in_rotation(start: float) -> bool:
        return any(a <= start <= b for a, b in windows)

    inside = [s for start, s, ok in ops if in_rotation(start)]
    outside = [s for start, s, ok in ops if baseline_from <= start < baseline_to]
    failed = sum(1 for *_, ok in ops if not ok)
    base = summary(outside) if outside else None
    during = summary(inside) if inside else None
    return {
        "client": kind,
        "strategy": strategy,
        "rotations": len(windows),
        "rotation_errors": rotation_errors,
        "operations": len(ops),
        "failed": failed,
        "failure_kinds": dict(kinds),
        "failed_in_rotation": sum(1 for start, _, ok in ops if not ok and in_rotation(start)),
        "latency_baseline": base,
        "latency_during_rotation": during,
        "added_p50": (during["p50"] - base["p50"]) if base and during else None,
        "added_p99": (during["p99"] - base["p99"]) if base and during else None,
        "client_api_calls": dict(client_calls),
        "client_api_calls_total": sum(client_calls.values()),
        "rotation_api_calls_total": sum(rotation_calls.values()),
        "wall_seconds": wall,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--rotations", type=int, default=30, help="per strategy and client")
    parser.add_argument("--window", type=float, default=0.5, help="setSecret window, seconds")
    parser.add_argument("--think", type=float, default=0.01, help="pause between operations")
    parser.add_argument("--gap", type=float, default=0.05, help="pause between rotations")
    parser.add_argument("--settle", type=float, default=0.3)
    parser.add_argument("--baseline", type=float, default=3.0, help="load without rotations")
    parser.add_argument("--clients", default=",".join(CLIENTS))
    args = parser.parse_args(argv)

    import logging

    from devstack.moto_server import start_moto
    from devstack.postgres import start_cluster

    logging.getLogger("pipeline_secrets").setLevel(logging.ERROR)
    logging.getLogger("aws_advanced_python_wrapper").setLevel(logging.CRITICAL)
    moto = start_moto()
    cluster = start_cluster()
    results: list[dict[str, Any]] = []
    try:
        import importlib.metadata as md

        try:
            wrapper_version = md.version("aws-advanced-python-wrapper")
        except md.PackageNotFoundError:
            wrapper_version = None
        master_name = "bench/rot/master"
        moto.client().create_secret(
            Name=master_name,
            SecretString=json.dumps(
                {
                    "engine": "postgres",
                    "host": cluster.host,
                    "port": cluster.port,
                    "username": cluster.admin_user,
                    "password": cluster.admin_password,
                    "dbname": "postgres",
                    "ssl": False,  # the local cluster has no TLS (master default: verify-full)
                }
            ),
        )
        for strategy in STRATEGIES:
            for kind in args.clients.split(","):
                if kind == "aws-advanced-python-wrapper" and wrapper_version is None:
                    results.append(
                        {"client": kind, "strategy": strategy, "setup_error": "not installed"}
                    )
                    continue
                result = run_one(kind, strategy, moto, cluster, master_name, args)
                results.append(result)
                print(
                    f"{strategy:<12}{kind:<30}ops {result.get('operations', '-')}, "
                    f"failed {result.get('failed', '-')}, "
                    f"api {result.get('client_api_calls_total', '-')}"
                    f"{'  ' + result['setup_error'] if 'setup_error' in result else ''}",
                    flush=True,
                )
    finally:
        cluster.stop()
        moto.stop()

    rows = []
    for r in results:
        if "setup_error" in r:
            rows.append([r["strategy"], r["client"], "-", "-", "-", "-", "-", r["setup_error"]])
            continue
        base = r["latency_baseline"]
        during = r["latency_during_rotation"]
        rows.append(
            [
                r["strategy"],
                r["client"],
                f"{r['operations']:,}",
                f"**{r['failed']}**" if r["failed"] else "0",
                f"{fmt_seconds(base['p50'])} / {fmt_seconds(base['p99'])}" if base else "-",
                f"{fmt_seconds(during['p50'])} / {fmt_seconds(during['p99'])}" if during else "-",
                r["client_api_calls_total"],
                ", ".join(f"{k} {v}" for k, v in sorted(r["failure_kinds"].items())) or "-",
            ]
        )
    table = markdown_table(
        [
            "strategy",
            "client",
            "operations",
            "failed",
            f"p50 / p99 without rotations ({args.baseline:g} s baseline)",
            "p50 / p99 during rotations",
            "client API calls",
            "failures",
        ],
        rows,
    )
    by = {(r["client"], r["strategy"]): r for r in results}
    ours_failed = sum(by.get(("ours", s), {}).get("failed", 1) for s in STRATEGIES)
    once_failed = sum(by.get(("refetch-once", s), {}).get("failed", 0) for s in STRATEGIES)
    met = ours_failed == 0 and once_failed > 0
    verdict = (
        f"Target (zero failed operations for ours across all {2 * args.rotations} rotations, "
        f"where the refetch-once client fails): **{'met' if met else 'NOT met'}** - ours "
        f"failed {ours_failed}, refetch-once failed {once_failed}."
    )
    text = "\n\n".join(
        [
            f"## Rotation under load ({args.threads} threads, {args.rotations} single-user + "
            f"{args.rotations} alternating-user rotations per client, setSecret window "
            f"{args.window:g} s)",
            table,
            verdict,
        ]
    )
    print(text)
    write_results(
        "rotation",
        {
            "args": vars(args),
            "aws_advanced_python_wrapper_version": wrapper_version,
            "results": results,
            "ours_failed": ours_failed,
            "refetch_once_failed": once_failed,
            "target_met": met,
        },
        text,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
