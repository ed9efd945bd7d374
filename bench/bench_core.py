"""Cache-hit lookup vs a plain GetSecretValue against the same moto server, in one run.

    python -m bench.bench_core [--rounds 5] [--calls 2000]

Each round times ``--calls`` lookups of each kind; the figure is the median of the
round medians, with the spread across rounds; the ratio is computed per round.
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
from typing import Any

from bench.report import fmt_seconds, markdown_table, summary, time_calls, write_results
from devstack.moto_server import start_moto
from pipeline_secrets import CachePolicy, ClientSettings, SecretCache, SecretsManagerSource


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args(argv)

    server = start_moto()
    try:
        client = server.client()
        client.create_secret(
            Name="bench/db",
            SecretString=json.dumps(
                {
                    "engine": "postgres",
                    "host": "h",
                    "username": "u",
                    "password": secrets.token_urlsafe(16),
                }
            ),
        )
        settings = ClientSettings.create(endpoint_url=server.endpoint_url, region_name="us-east-1")
        cache = SecretCache(SecretsManagerSource(settings), policy=CachePolicy(ttl_seconds=3600))
        cache.get("bench/db")  # warm

        def plain() -> None:
            client.get_secret_value(SecretId="bench/db", VersionStage="AWSCURRENT")

        def hit() -> None:
            cache.get("bench/db")

        rounds: list[dict[str, Any]] = []
        for _ in range(args.rounds):
            p = summary(time_calls(plain, max(50, args.calls // 10)))  # moto is slow
            h = summary(time_calls(hit, args.calls))
            rounds.append({"plain": p, "hit": h, "ratio": p["median"] / h["median"]})
        calls_before = cache.stats.api_calls()
        for _ in range(args.calls):
            hit()
        hit_api_calls = cache.stats.api_calls() - calls_before
    finally:
        server.stop()

    ratio = statistics.median(r["ratio"] for r in rounds)
    ratios = sorted(r["ratio"] for r in rounds)
    plain_med = statistics.median(r["plain"]["median"] for r in rounds)
    hit_med = statistics.median(r["hit"]["median"] for r in rounds)
    plain_p99 = statistics.median(r["plain"]["p99"] for r in rounds)
    hit_p99 = statistics.median(r["hit"]["p99"] for r in rounds)
    table = markdown_table(
        ["lookup", "p50 (median of rounds)", "p99", "API calls per lookup"],
        [
            [
                "GetSecretValue (boto3, moto on 127.0.0.1)",
                fmt_seconds(plain_med),
                fmt_seconds(plain_p99),
                "1",
            ],
            [
                "SecretCache hit",
                fmt_seconds(hit_med),
                fmt_seconds(hit_p99),
                f"{hit_api_calls / args.calls:g}",
            ],
        ],
    )
    text = (
        f"## Core cache: hit vs GetSecretValue ({args.rounds} rounds)\n\n{table}\n\n"
        f"Cache hit is **{ratio:,.0f}x** faster (per-round ratios {ratios[0]:,.0f}x"
        f"-{ratios[-1]:,.0f}x)."
    )
    print(text)
    write_results(
        "core_cache",
        {"rounds": rounds, "ratio_median": ratio, "hit_api_calls": hit_api_calls},
        text,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
