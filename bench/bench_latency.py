"""Lookup latency: cache hit, cache miss, negative hit; p50 and p99; one moto server.

    python -m bench.bench_latency [--rounds 5] [--hits 2000] [--misses 100]

Every lookup returns what an Airflow task needs, an ``airflow.models.Connection``:

* ``floor``: ``Connection.from_json(value)`` alone (the value already in hand);
* ``ours``: ``airflow_plugin.secrets_manager.SecretsManagerBackend.get_connection``
  (hit: cached; miss: the entry invalidated first; negative hit: an absent id, cached);
* ``ours via agent``: the same backend in a new (empty) process reading through a
  ``pipeline-secrets agent`` that has the secret: the miss a new Airflow process sees;
* ``official``: the amazon provider's ``SecretsManagerBackend.get_connection`` (no
  cache: every lookup is a GetSecretValue, found or not);
* ``aws-secretsmanager-caching``: ``SecretCache.get_secret_string`` +
  ``Connection.from_json`` (miss: a new cache object; DescribeSecret + GetSecretValue;
  negative hit: its cached exception, within its retry backoff);
* ``core SecretCache.get``: our core cache returning the value (no Connection).

Each round times every case; figures are medians of the round p50/p99 with the
min-max of the round p50s; ratios are computed per round, then the median taken.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets as pysecrets
import statistics
from collections.abc import Callable
from typing import Any

from bench.report import fmt_seconds, markdown_table, summary, time_calls, write_results

CONN = "c_lat"
ABSENT = "c_absent"


def _calls_per(moto: Any, fn: Callable[[], Any], n: int) -> float:
    moto.reset_counts()
    for _ in range(n):
        fn()
    return sum(moto.calls.values()) / n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--hits", type=int, default=2000, help="hit/negative lookups per round")
    parser.add_argument("--misses", type=int, default=100, help="miss lookups per round")
    parser.add_argument("--no-agent", action="store_true")
    args = parser.parse_args(argv)

    import logging

    from devstack.moto_server import start_moto

    logging.getLogger("airflow").setLevel(logging.ERROR)
    moto = start_moto()
    os.environ.update(moto.env())
    for key in [k for k in os.environ if k.startswith(("AIRFLOW__SECRETS", "PIPELINE_SECRETS_"))]:
        del os.environ[key]
    agent = None
    try:
        value = json.dumps(
            {
                "conn_type": "postgres",
                "host": "db.example",
                "login": "app",
                "password": f"lat-{pysecrets.token_urlsafe(16)}",
                "port": 5432,
                "schema": "sales",
                "extra": {"sslmode": "require"},
            }
        )
        sm = moto.client()
        sm.create_secret(Name=f"airflow/connections/{CONN}", SecretString=value)

        from airflow.models import Connection
        from airflow.providers.amazon.aws.secrets.secrets_manager import (
            SecretsManagerBackend as Official,
        )
        from aws_secretsmanager_caching import SecretCache as AwsCache
        from aws_secretsmanager_caching import SecretCacheConfig

        from airflow_plugin.secrets_manager import SecretsManagerBackend as Ours
        from pipeline_secrets import CachePolicy, ClientSettings, SecretCache, SecretsManagerSource

        conn_class: Any = Connection
        ours = Ours()
        official = Official()
        aws_client = moto.client()
        aws_cache = AwsCache(config=SecretCacheConfig(), client=aws_client)
        core = SecretCache(
            SecretsManagerSource(
                ClientSettings.create(endpoint_url=moto.endpoint_url, region_name="us-east-1")
            ),
            policy=CachePolicy(ttl_seconds=3600),
        )
        path = f"airflow/connections/{CONN}"
        absent_path = f"airflow/connections/{ABSENT}"

        def aws_conn(cache: Any, conn_id: str) -> Any:
            text = cache.get_secret_string(f"airflow/connections/{conn_id}")
            return conn_class.from_json(text, conn_id=conn_id)

        def aws_negative() -> None:
            # ResourceNotFoundException, raised from its cache within its retry backoff
            with contextlib.suppress(Exception):
                aws_cache.get_secret_string(absent_path)

        def ours_miss() -> None:
            ours.cache.invalidate(path)
            ours.get_connection(CONN)

        ours_agent: Any = None
        if not args.no_agent:
            from bench.bench_backend import _start_agent

            token = pysecrets.token_urlsafe(24)
            agent, address = _start_agent(moto, token)

            def ours_agent_miss() -> None:
                ours_agent.cache.invalidate(path)
                ours_agent.get_connection(CONN)

            ours_agent = Ours(agent_address=address, agent_token=token)
            ours_agent.get_connection(CONN)  # the agent has it now

        cases: dict[str, dict[str, Callable[[], Any] | None]] = {
            "floor: Connection.from_json": {
                "hit": lambda: conn_class.from_json(value, conn_id=CONN),
                "miss": None,
                "negative": None,
            },
            "ours (Airflow backend)": {
                "hit": lambda: ours.get_connection(CONN),
                "miss": ours_miss,
                "negative": lambda: ours.get_connection(ABSENT),
            },
            "official amazon-provider backend": {
                "hit": None,
                "miss": lambda: official.get_connection(CONN),
                "negative": lambda: official.get_connection(ABSENT),
            },
            "aws-secretsmanager-caching + Connection.from_json": {
                "hit": lambda: aws_conn(aws_cache, CONN),
                "miss": lambda: aws_conn(
                    AwsCache(config=SecretCacheConfig(), client=aws_client), CONN
                ),
                "negative": aws_negative,
            },
            "core SecretCache.get (value only)": {
                "hit": lambda: core.get(path),
                "miss": lambda: core.get(path, force_refresh=True),
                "negative": None,
            },
        }
        if ours_agent is not None:
            cases["ours, new process, via agent (in-process miss)"] = {
                "hit": None,
                "miss": ours_agent_miss,
                "negative": None,
            }
        # warm everything once (imports, clients, first connections)
        for kinds in cases.values():
            for fn in kinds.values():
                if fn is not None:
                    fn()
                    fn()
        rounds: list[dict[str, dict[str, dict[str, float]]]] = []
        for _ in range(args.rounds):
            one: dict[str, dict[str, dict[str, float]]] = {}
            for name, kinds in cases.items():
                one[name] = {}
                for kind, fn in kinds.items():
                    if fn is None:
                        continue
                    n = args.misses if kind == "miss" else args.hits
                    if name.startswith("official"):
                        n = args.misses  # every official lookup is a call to moto
                    one[name][kind] = summary(time_calls(fn, n))
            rounds.append(one)
        calls = {
            name: {kind: _calls_per(moto, fn, 20) for kind, fn in kinds.items() if fn is not None}
            for name, kinds in cases.items()
        }
    finally:
        if agent is not None:
            import signal

            agent.send_signal(signal.SIGTERM)
            agent.wait(timeout=10)
        moto.stop()

    def med(name: str, kind: str, stat: str) -> float:
        return statistics.median(r[name][kind][stat] for r in rounds)

    def spread(name: str, kind: str) -> tuple[float, float]:
        vals = [r[name][kind]["p50"] for r in rounds]
        return min(vals), max(vals)

    def cell(name: str, kind: str) -> str:
        if kind not in rounds[0][name]:
            return "-"
        lo, hi = spread(name, kind)
        return (
            f"{fmt_seconds(med(name, kind, 'p50'))} / {fmt_seconds(med(name, kind, 'p99'))} "
            f"({fmt_seconds(lo)}-{fmt_seconds(hi)}); {calls[name][kind]:g} calls"
        )

    rows = [[name, cell(name, "hit"), cell(name, "miss"), cell(name, "negative")] for name in cases]
    table = markdown_table(
        [
            "lookup",
            "hit p50 / p99 (p50 min-max); API calls per lookup",
            "miss",
            "negative hit (absent id)",
        ],
        rows,
    )
    floor = "floor: Connection.from_json"
    ours_name = "ours (Airflow backend)"
    off = "official amazon-provider backend"
    hit_vs_floor = [r[ours_name]["hit"]["p50"] / r[floor]["hit"]["p50"] for r in rounds]
    official_vs_hit = [r[off]["miss"]["p50"] / r[ours_name]["hit"]["p50"] for r in rounds]
    aws_vs_ours_hit = [
        r["aws-secretsmanager-caching + Connection.from_json"]["hit"]["p50"]
        / r[ours_name]["hit"]["p50"]
        for r in rounds
    ]
    r_floor = statistics.median(hit_vs_floor)
    r_off = statistics.median(official_vs_hit)
    r_aws = statistics.median(aws_vs_ours_hit)
    text = "\n\n".join(
        [
            f"## Lookup latency ({args.rounds} rounds; {args.hits} hits / {args.misses} misses "
            "per case and round; official: "
            f"{args.misses} lookups per round)",
            table,
            "\n".join(
                [
                    f"- ours hit / floor: **{r_floor:.2f}x** (per-round "
                    f"{min(hit_vs_floor):.2f}-{max(hit_vs_floor):.2f}x; target <= 2x: "
                    f"**{'met' if r_floor <= 2 else 'NOT met'}**)",
                    f"- official lookup / ours hit: **{r_off:,.0f}x** (per-round "
                    f"{min(official_vs_hit):,.0f}-{max(official_vs_hit):,.0f}x; target >= 50x: "
                    f"**{'met' if r_off >= 50 else 'NOT met'}**)",
                    f"- aws-secretsmanager-caching hit / ours hit: **{r_aws:.2f}x** (per-round "
                    f"{min(aws_vs_ours_hit):.2f}-{max(aws_vs_ours_hit):.2f}x)",
                ]
            ),
        ]
    )
    print(text)
    write_results(
        "latency",
        {
            "args": vars(args),
            "rounds": rounds,
            "api_calls_per_lookup": calls,
            "ratio_ours_hit_to_floor": r_floor,
            "ratio_official_to_ours_hit": r_off,
            "ratio_aws_caching_hit_to_ours_hit": r_aws,
            "targets_met": {"hit_within_2x_floor": r_floor <= 2, "50x_official": r_off >= 50},
        },
        text,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
