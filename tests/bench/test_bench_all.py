"""``python -m bench --quick`` still runs every part (tiny sizes; the figures live in
BENCHMARKS.md). Results go to a temporary directory, not over a full run's."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(tmp_path: Path, *args: str) -> dict[str, Any]:
    env = {**os.environ, "BENCH_RESULTS_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    for key in [k for k in env if k.startswith(("AIRFLOW__SECRETS", "PIPELINE_SECRETS_"))]:
        del env[key]
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    logs = {p.name: p.read_text()[-2000:] for p in (tmp_path / "logs").glob("*.log")}
    assert proc.returncode == 0, (proc.stdout[-3000:], logs)
    assert (tmp_path / "BENCHMARKS-run.md").read_text().startswith("# Benchmark run (QUICK")
    data: dict[str, Any] = json.loads((tmp_path / "all.json").read_text())
    return {p["part"]: p["results"] for p in data["parts"]}


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.airflow
def test_quick_run_of_every_part_but_spark(tmp_path: Path) -> None:
    parts = _run(tmp_path, "--skip", "spark")
    assert set(parts) == {"cost", "processes", "latency", "core", "rotation", "scale"}

    cost = parts["cost"]["results"]
    assert cost["official"]["total_calls"] == cost["ours"]["total_calls"] > 0  # fresh processes
    assert cost["ours+agent"]["total_calls"] < cost["official+use_cache"]["total_calls"]
    assert cost["official+use_cache"]["total_calls"] < cost["official"]["total_calls"]

    latency = parts["latency"]["api_calls_per_lookup"]
    assert latency["ours (Airflow backend)"] == {"hit": 0, "miss": 1, "negative": 0}
    assert latency["official amazon-provider backend"] == {"miss": 1, "negative": 1}

    rotation = {(r["client"], r["strategy"]): r for r in parts["rotation"]["results"]}
    assert rotation[("ours", "single")]["failed"] == 0
    assert rotation[("ours", "alternating")]["failed"] == 0
    assert rotation[("never-refetch", "single")]["failed"] > 0
    wrapper = rotation[("aws-advanced-python-wrapper", "single")]
    if importlib.util.find_spec("aws_advanced_python_wrapper") is not None:
        assert "setup_error" not in wrapper, wrapper
    else:
        assert wrapper["setup_error"] == "not installed"

    workers = {w["workers"]: w for w in parts["scale"]["workers"]}
    assert workers["1 thread(s)"]["api_calls"] == workers["8 thread(s)"]["api_calls"] == 20
    assert [r["second_pass_calls"] for r in parts["scale"]["secrets"]] == [0, 0]


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.spark
def test_quick_run_of_the_spark_part(tmp_path: Path) -> None:
    spark = _run(tmp_path, "--only", "spark")["spark"]
    assert spark["rows"] == 2000
    assert set(spark["ratio_median"]) == {
        "write_glue_lib_to_raw",
        "write_glue_lib_unstaged_to_raw",
        "read_glue_lib_to_raw",
        # PostgreSQL: raw Spark given the batch property write_jdbc sets, for comparison
        "write_glue_lib_to_raw_batched",
        "write_glue_lib_unstaged_to_raw_batched",
    }
    assert set(spark["median_seconds"]) >= {"write_raw", "write_raw_batched", "write_glue_lib"}
