"""Shared helpers for benchmarks: repeated timing, medians with spread, output files."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

# BENCH_RESULTS_DIR redirects every benchmark's output (the smoke test uses a temp dir).
RESULTS_DIR = Path(
    os.environ.get("BENCH_RESULTS_DIR") or Path(__file__).resolve().parent / "results"
)


def time_calls(fn: Callable[[], Any], n: int) -> list[float]:
    """Seconds taken by each of ``n`` calls of ``fn``."""
    out = []
    clock = time.perf_counter
    for _ in range(n):
        start = clock()
        fn()
        out.append(clock() - start)
    return out


def summary(samples: Sequence[float]) -> dict[str, float]:
    ordered = sorted(samples)
    n = len(ordered)

    def pct(p: float) -> float:
        return ordered[min(n - 1, int(p * n))]

    return {
        "n": n,
        "median": statistics.median(ordered),
        "p50": pct(0.50),
        "p99": pct(0.99),
        "min": ordered[0],
        "max": ordered[-1],
        "iqr": pct(0.75) - pct(0.25),
    }


def fmt_seconds(seconds: float) -> str:
    if seconds < 1e-6:
        return f"{seconds * 1e9:.0f} ns"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.2f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def write_results(name: str, data: dict[str, Any], markdown: str) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    data = {
        **data,
        "machine": {
            "python": platform.python_version(),
            "cpu_count": _cpus(),
            "platform": platform.platform(),
        },
        "written_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, default=str))
    (RESULTS_DIR / f"{name}.md").write_text(markdown + "\n")
    return path


def _cpus() -> int:
    import os

    return os.cpu_count() or 0
