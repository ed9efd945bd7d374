"""Scale curve: our API calls and memory vs number of secrets and concurrent workers.

    python -m bench.bench_scale [--secrets 10,100,1000,10000] [--threads 1,8,32]

Secrets: with S secrets on moto, a new core ``SecretCache`` (a) looks each one up once
(one GetSecretValue each), then again (all hits), and (b) in a new process, a new cache
prefetches them (``prefetch(secret_ids)``: BatchGetSecretValue, 20 ids per call).
Memory: ``tracemalloc`` bytes still allocated in that process after the prefetch
(cache entries and values), per secret too. (``prefetch(name_prefix=...)`` costs the
same number of pages, but moto answers each Filters page by reading every matching
secret, quadratic in S, so it times out at 10,000 secrets on moto.)

Workers: ``--lookups`` secrets, each looked up ``--passes`` times, by W threads sharing
one cache from cold (single-flight: one call per secret however many threads ask),
and by 4 processes (each its own cache, as separate Airflow/Spark processes are; and
the same 4 processes reading through one ``pipeline-secrets agent``). Memory for
threads: tracemalloc bytes retained after the run; for processes: each child's peak
RSS (ru_maxrss), which includes the interpreter and boto3.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import os
import resource
import secrets as pysecrets
import threading
import time
import tracemalloc
from typing import Any

from bench.report import markdown_table, write_results

VALUE = '{"engine": "postgres", "host": "db%d.example", "username": "u%d", "password": "%s"}'


def _cache(endpoint_url: str) -> Any:
    from pipeline_secrets import CachePolicy, ClientSettings, SecretCache, SecretsManagerSource

    settings = ClientSettings.create(endpoint_url=endpoint_url, region_name="us-east-1")
    return SecretCache(SecretsManagerSource(settings), policy=CachePolicy(ttl_seconds=3600))


def _fmt_bytes(n: float) -> str:
    if n >= 1 << 20:
        return f"{n / (1 << 20):.1f} MiB"
    if n >= 1 << 10:
        return f"{n / (1 << 10):.1f} KiB"
    return f"{n:.0f} B"


def _prefetch_in_child(endpoint_url: str, names: list[str]) -> dict[str, Any]:
    """In a new process (moto, in the parent, is neither traced nor slowed): fill a new
    cache with ``prefetch(secret_ids)`` under tracemalloc; then look every secret up."""
    from devstack.moto_server import read_counts

    cache = _cache(endpoint_url)
    cache.get(names[0])  # build the client outside the measurement
    cache.invalidate()
    gc.collect()
    read_counts(endpoint_url, reset=True)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    started = time.perf_counter()
    cache.prefetch(names)
    seconds = time.perf_counter() - started
    gc.collect()
    retained = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    calls = dict(read_counts(endpoint_url, reset=True))
    for name in names:
        cache.get(name)
    after = sum(read_counts(endpoint_url).values())
    return {
        "prefetch_calls": calls,
        "prefetch_calls_total": sum(calls.values()),
        "prefetch_seconds": seconds,
        "lookups_after_prefetch_calls": after,
        "memory_bytes": retained,
    }


def secrets_curve(moto: Any, sizes: list[int]) -> list[dict[str, Any]]:
    client = moto.client()
    created = 0
    out = []
    for size in sizes:
        while created < size:
            client.create_secret(
                Name=f"scale/s{created:05d}",
                SecretString=VALUE % (created, created, pysecrets.token_urlsafe(12)),
            )
            created += 1
        names = [f"scale/s{i:05d}" for i in range(size)]
        cache = _cache(moto.endpoint_url)
        moto.reset_counts()
        started = time.perf_counter()
        for name in names:
            cache.get(name)
        cold_seconds = time.perf_counter() - started
        cold_calls = sum(moto.calls.values())
        moto.reset_counts()
        started = time.perf_counter()
        for name in names:
            cache.get(name)
        warm_seconds = time.perf_counter() - started
        warm_calls = sum(moto.calls.values())
        del cache

        context = multiprocessing.get_context("spawn")
        with context.Pool(1) as pool:
            measured = pool.apply(_prefetch_in_child, (moto.endpoint_url, names))
        out_calls = measured
        out.append(
            {
                "secrets": size,
                "one_by_one_calls": cold_calls,
                "one_by_one_seconds": cold_seconds,
                "second_pass_calls": warm_calls,
                "second_pass_seconds": warm_seconds,
                **out_calls,
                "memory_bytes_per_secret": out_calls["memory_bytes"] / size,
            }
        )
        print(f"secrets {size}: {cold_calls} calls one by one, {out_calls}", flush=True)
    return out


def _seed_workers(moto: Any, n: int) -> list[str]:
    client = moto.client()
    names = [f"airflow/connections/w{i:04d}" for i in range(n)]
    for i, name in enumerate(names):
        client.create_secret(Name=name, SecretString=VALUE % (i, i, pysecrets.token_urlsafe(12)))
    return names


def threads_run(moto: Any, names: list[str], threads: int, passes: int) -> dict[str, Any]:
    cache = _cache(moto.endpoint_url)
    cache.get("airflow/connections/w0000")  # build the client first
    cache.invalidate()
    gc.collect()
    moto.reset_counts()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    barrier = threading.Barrier(threads)
    errors: list[str] = []

    def work(offset: int) -> None:
        barrier.wait()
        try:
            for _ in range(passes):
                for i in range(len(names)):
                    cache.get(names[(i + offset) % len(names)])
        except Exception as exc:
            errors.append(type(exc).__name__)

    pool = [threading.Thread(target=work, args=(k * 7,)) for k in range(threads)]
    started = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    seconds = time.perf_counter() - started
    gc.collect()
    retained = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return {
        "workers": f"{threads} thread(s)",
        "lookups": threads * passes * len(names),
        "api_calls": sum(moto.calls.values()),
        "seconds": seconds,
        "memory": f"{_fmt_bytes(retained)} retained (tracemalloc)",
        "memory_bytes": retained,
        "errors": errors,
    }


def _child(endpoint_url: str, names: list[str], passes: int, agent: tuple[str, str] | None) -> int:
    if agent is None:
        cache = _cache(endpoint_url)
    else:
        from pipeline_secrets import CachePolicy, ClientSettings, SecretCache, SecretsManagerSource
        from pipeline_secrets.agent.client import AgentClient, AgentSource

        direct = SecretsManagerSource(
            ClientSettings.create(endpoint_url=endpoint_url, region_name="us-east-1")
        )
        cache = SecretCache(
            AgentSource(AgentClient(agent[0], agent[1]), direct),
            policy=CachePolicy(ttl_seconds=3600),
        )
    for _ in range(passes):
        for name in names:
            cache.get(name)
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def processes_run(
    moto: Any, names: list[str], processes: int, passes: int, agent: tuple[str, str] | None
) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    moto.reset_counts()
    started = time.perf_counter()
    with context.Pool(processes) as pool:
        rss = pool.starmap(
            _child, [(moto.endpoint_url, names, passes, agent)] * processes, chunksize=1
        )
    seconds = time.perf_counter() - started
    label = f"{processes} processes" + (", through one agent" if agent else ", own caches")
    return {
        "workers": label,
        "lookups": processes * passes * len(names),
        "api_calls": sum(moto.calls.values()),
        "seconds": seconds,
        "memory": f"peak RSS per process {_fmt_bytes(max(rss))} (interpreter + boto3 included)",
        "memory_bytes": max(rss),
        "errors": [],
    }


def _peak_rss(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--secrets", default="10,100,1000,10000")
    parser.add_argument("--threads", default="1,8,32")
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--lookups", type=int, default=100, help="secrets in the workers runs")
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--no-agent", action="store_true")
    args = parser.parse_args(argv)

    import logging

    from devstack.moto_server import start_moto

    logging.getLogger("pipeline_secrets").setLevel(logging.ERROR)
    moto = start_moto()
    os.environ.update(moto.env())
    agent = None
    try:
        names = _seed_workers(moto, args.lookups)
        workers = [
            threads_run(moto, names, int(t), args.passes) for t in args.threads.split(",") if t
        ]
        if args.processes:
            workers.append(processes_run(moto, names, args.processes, args.passes, None))
            if not args.no_agent:
                from bench.bench_backend import _start_agent

                token = pysecrets.token_urlsafe(24)
                moto.reset_counts()
                agent, address = _start_agent(moto, token)
                result = processes_run(moto, names, args.processes, args.passes, (address, token))
                hwm = _peak_rss(agent.pid)
                if hwm is not None:
                    result["memory"] += f"; agent peak RSS {_fmt_bytes(hwm)}"
                    result["agent_peak_rss_bytes"] = hwm
                workers.append(result)
        for w in workers:
            print(f"{w['workers']}: {w['api_calls']} calls", flush=True)
        curve = secrets_curve(moto, [int(s) for s in args.secrets.split(",") if s])
    finally:
        if agent is not None:
            import signal

            agent.send_signal(signal.SIGTERM)
            agent.wait(timeout=10)
        moto.stop()

    secrets_table = markdown_table(
        [
            "secrets",
            "calls, one lookup each",
            "calls, second pass",
            "calls, prefetch (ids, 20 per call)",
            "calls, lookups after prefetch",
            "memory (prefetched cache)",
            "per secret",
        ],
        [
            [
                f"{r['secrets']:,}",
                f"{r['one_by_one_calls']:,}",
                r["second_pass_calls"],
                ", ".join(f"{k} {v}" for k, v in sorted(r["prefetch_calls"].items())),
                r["lookups_after_prefetch_calls"],
                _fmt_bytes(r["memory_bytes"]),
                _fmt_bytes(r["memory_bytes_per_secret"]),
            ]
            for r in curve
        ],
    )
    workers_table = markdown_table(
        ["workers", "lookups", "API calls", "seconds", "memory"],
        [
            [w["workers"], f"{w['lookups']:,}", w["api_calls"], f"{w['seconds']:.2f}", w["memory"]]
            for w in workers
        ],
    )
    text = "\n\n".join(
        [
            "## Scale curve",
            "### Number of secrets (core SecretCache)",
            secrets_table,
            f"### Concurrent workers ({args.lookups} secrets x {args.passes} passes each, "
            "cold start)",
            workers_table,
        ]
    )
    print(text)
    write_results("scale", {"args": vars(args), "secrets": curve, "workers": workers}, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
