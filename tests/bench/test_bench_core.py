"""The core benchmark still runs (tiny sizes; the figures themselves live in bench/)."""

from __future__ import annotations

import json

from bench import bench_core
from bench.report import RESULTS_DIR


def test_bench_core_smoke() -> None:
    assert bench_core.main(["--rounds", "1", "--calls", "200"]) == 0
    data = json.loads((RESULTS_DIR / "core_cache.json").read_text())
    assert data["hit_api_calls"] == 0
    assert data["ratio_median"] > 1
