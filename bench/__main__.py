"""Every benchmark of BENCHMARKS.md, in one run: ``python -m bench [--quick]``.

Runs each part in its own process (one part failing or timing out does not stop the
others), then writes ``bench/results/BENCHMARKS-run.md`` (the tables, ready to paste
into BENCHMARKS.md) and ``bench/results/all.json`` (every part's JSON, the versions and
the time each part took). ``--quick`` runs every part at tiny sizes (a smoke run, a
minute or two; its figures mean nothing). ``--only`` / ``--skip`` take part names.
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.report import RESULTS_DIR, markdown_table

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Part:
    name: str
    title: str
    module: str
    full: tuple[str, ...]
    quick: tuple[str, ...]
    result: str  # results file stem; "spark" is read from bench_spark's own file
    timeout: float = 600.0


PARTS = (
    Part(
        "cost",
        "1. API cost of an Airflow deployment (simulated hour)",
        "bench.bench_airflow_cost",
        (),
        ("--dag-files", "2", "--tasks", "12", "--hours", "0.1"),
        "airflow_cost",
    ),
    Part(
        "processes",
        "1b. Cross-check with real processes (bench_backend)",
        "bench.bench_backend",
        ("--parses", "16", "--tasks", "16"),
        ("--parses", "2", "--tasks", "2", "--micro-n", "200"),
        "bench_backend",
    ),
    Part(
        "latency",
        "2. Lookup latency",
        "bench.bench_latency",
        (),
        ("--rounds", "1", "--hits", "200", "--misses", "10"),
        "latency",
    ),
    Part(
        "core",
        "2b. Core cache hit vs GetSecretValue (bench_core)",
        "bench.bench_core",
        (),
        ("--rounds", "1", "--calls", "200"),
        "core_cache",
    ),
    Part(
        "rotation",
        "3. Rotation under load",
        "bench.bench_rotation",
        (),
        (
            "--rotations",
            "2",
            "--threads",
            "2",
            "--window",
            "0.2",
            "--settle",
            "0.1",
            "--baseline",
            "0.5",
        ),
        "rotation",
    ),
    Part(
        "spark",
        "4. Spark (bench_spark)",
        "bench.bench_spark",
        ("--rows", "1000000", "--repeat", "3"),
        (
            "--rows",
            "2000",
            "--repeat",
            "1",
            "--rounds",
            "1",
            "--settle-rounds",
            "0",
            "--read-blocks",
            "1",
            "--steps",
            "write,read",
            "--partitions",
            "2",
        ),
        "spark",
        timeout=900.0,
    ),
    Part(
        "scale",
        "5. Scale curve",
        "bench.bench_scale",
        (),
        (
            "--secrets",
            "10,100",
            "--threads",
            "1,8",
            "--lookups",
            "20",
            "--passes",
            "2",
            "--processes",
            "2",
        ),
        "scale",
    ),
)


def _versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for dist in (
        "apache-airflow-core",
        "apache-airflow-providers-amazon",
        "aws-secretsmanager-caching",
        "aws-advanced-python-wrapper",
        "moto",
        "boto3",
        "pyspark",
        "psycopg",
    ):
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            out[dist] = None
    return out


def _spark_markdown(data: dict[str, Any]) -> str:
    med = data["median_seconds"]
    best = data["min_seconds"]
    secs = data["seconds"]
    rows = []
    for key in secs:
        base = "write_raw" if key.startswith("write") else "read_raw"
        rows.append(
            [
                key,
                f"{med[key]:.2f}",
                f"{min(secs[key]):.2f}-{max(secs[key]):.2f}",
                f"{data['rows'] / med[key]:,.0f}",
                f"{med[key] / med[base]:.3f}",
                f"{best[key] / best[base]:.3f}",
            ]
        )
    table = markdown_table(
        ["path", "median s", "min-max s", "rows/s (median)", "vs raw (median)", "vs raw (min)"],
        rows,
    )
    ratios = data["ratio_median"]
    verdicts = []
    for key, label in (
        ("write_glue_lib_to_raw", "write_jdbc (staged)"),
        ("write_glue_lib_unstaged_to_raw", "write_jdbc(staging=False)"),
        ("read_glue_lib_to_raw", "read_jdbc"),
    ):
        overhead = ratios[key] - 1
        verdicts.append(
            f"- {label}: {100 * overhead:+.1f}% vs raw Spark JDBC (median; by min "
            f"{100 * (data['ratio_min'][key] - 1):+.1f}%) - target < 5% overhead: "
            f"**{'met' if overhead < 0.05 else 'NOT met'}**"
        )
    return "\n\n".join(
        [
            f"## Spark ({data['rows']:,} rows, {data['partitions']} partitions, local[2], "
            f"{data['engine']}, {data['repeat']} run(s) each)",
            table,
            "\n".join(verdicts),
        ]
    )


def _run_part(part: Part, quick: bool, log_dir: Path) -> dict[str, Any]:
    args = part.quick if quick else part.full
    if part.name == "spark":
        cmd = [sys.executable, str(ROOT / "bench" / "bench_spark.py"), *args]
        cmd += ["--out", str(RESULTS_DIR)]
    else:
        cmd = [sys.executable, "-m", part.module, *args]
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    started_at = time.time()
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    log_path = log_dir / f"{part.name}.log"
    status = "ok"
    with open(log_path, "wb") as log:
        try:
            proc = subprocess.run(
                cmd,
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=part.timeout,
                check=False,
            )
            code: int | None = proc.returncode
        except subprocess.TimeoutExpired:
            code = None
            status = f"timed out after {part.timeout:.0f} s"
    seconds = time.perf_counter() - started
    data: dict[str, Any] | None = None
    markdown = ""
    if part.name == "spark":
        found = sorted(
            (p for p in RESULTS_DIR.glob("spark-*.json") if p.stat().st_mtime >= started_at),
            key=lambda p: p.stat().st_mtime,
        )
        if found:
            data = json.loads(found[-1].read_text())
            markdown = _spark_markdown(data)
            (RESULTS_DIR / "spark.json").write_text(json.dumps(data, indent=2))
            (RESULTS_DIR / "spark.md").write_text(markdown + "\n")
    else:
        json_path = RESULTS_DIR / f"{part.result}.json"
        md_path = RESULTS_DIR / f"{part.result}.md"
        if json_path.exists() and json_path.stat().st_mtime >= started_at:
            data = json.loads(json_path.read_text())
            markdown = md_path.read_text() if md_path.exists() else ""
    if data is None and status == "ok":
        status = f"failed (exit {code}; see {log_path.relative_to(ROOT)})"
    elif code not in (0, None) and part.name != "processes":
        status = f"exit {code} (results written)"
    return {
        "part": part.name,
        "title": part.title,
        "command": " ".join(["python", *cmd[1:]]).replace(str(ROOT) + "/", ""),
        "seconds": seconds,
        "load_1min": [load_before, os.getloadavg()[0]],
        "status": status,
        "results": data,
        "markdown": markdown,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    parser.add_argument("--only", default="", help="comma-separated part names")
    parser.add_argument("--skip", default="", help="comma-separated part names")
    args = parser.parse_args(argv)
    names = [p.name for p in PARTS]
    only = [n for n in args.only.split(",") if n]
    skip = [n for n in args.skip.split(",") if n]
    for n in only + skip:
        if n not in names:
            parser.error(f"unknown part {n!r} (parts: {', '.join(names)})")
    parts = [p for p in PARTS if (not only or p.name in only) and p.name not in skip]

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    log_dir = RESULTS_DIR / "logs"
    log_dir.mkdir(exist_ok=True)
    started = time.perf_counter()
    runs = []
    for part in parts:
        print(f"[bench] {part.name}: {part.title} ...", flush=True)
        run = _run_part(part, args.quick, log_dir)
        print(f"[bench] {part.name}: {run['status']} in {run['seconds']:.0f} s", flush=True)
        runs.append(run)
    total = time.perf_counter() - started

    versions = _versions()
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    header = [
        f"# Benchmark run {'(QUICK - smoke sizes, figures meaningless) ' if args.quick else ''}"
        f"- {when}",
        f"Machine: {os.cpu_count()} CPUs, {platform.platform()}. Versions: "
        + ", ".join(f"{k} {v}" for k, v in versions.items() if v),
        markdown_table(
            ["part", "command", "seconds", "load (1 min) before/after", "status"],
            [
                [
                    r["title"],
                    f"`{r['command']}`",
                    f"{r['seconds']:.0f}",
                    "{:.1f} / {:.1f}".format(*r["load_1min"]),
                    r["status"],
                ]
                for r in runs
            ]
            + [
                [
                    "total",
                    "`python -m bench" + (" --quick" if args.quick else "") + "`",
                    f"{total:.0f}",
                    "",
                ]
            ],
        ),
    ]
    body = [
        r["markdown"].replace("\n# ", "\n## ").replace("# Airflow", "## Airflow", 1)
        for r in runs
        if r["markdown"]
    ]
    text = "\n\n".join(header + body) + "\n"
    (RESULTS_DIR / "BENCHMARKS-run.md").write_text(text)
    (RESULTS_DIR / "all.json").write_text(
        json.dumps(
            {
                "quick": args.quick,
                "when": when,
                "total_seconds": total,
                "cpus": os.cpu_count(),
                "versions": versions,
                "parts": [{k: v for k, v in r.items() if k != "markdown"} for r in runs],
            },
            indent=2,
            default=str,
        )
    )
    print(f"[bench] total {total:.0f} s; wrote {RESULTS_DIR / 'BENCHMARKS-run.md'}")
    failed = [r["part"] for r in runs if r["results"] is None]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
