"""The one-command demo itself (``python -m devstack.demo``, in a subprocess): it must
exit 0 and its summary must show rows moved, rotations survived and no failures."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.airflow, pytest.mark.spark, pytest.mark.postgres]
ROOT = Path(__file__).resolve().parents[2]


def _number(text: str, label: str) -> int:
    match = re.search(rf"^{re.escape(label)}: (\d+)", text, re.M)
    assert match, f"no {label!r} line in the summary:\n{text[-3000:]}"
    return int(match.group(1))


def test_demo_runs_and_reports_success() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AWS_"))}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.run(
        [sys.executable, "-m", "devstack.demo"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    out = proc.stdout
    assert "pipeline-secrets demo: summary" in out, proc.stderr[-3000:]
    assert _number(out, "failures") == 0, out[-3000:]
    assert _number(out, "rotations survived") >= 2
    assert _number(out, "rows moved") > 0
    assert _number(out, "secret values in output and logs") == 0
    calls = re.search(r"^secrets manager api calls: (\d+) \((.*)\)$", out, re.M)
    assert calls and int(calls.group(1)) > 0 and "GetSecretValue" in calls.group(2)
    assert proc.returncode == 0
    assert "cleaned up" in out
    # Progress lines came first, the summary at the end.
    assert out.index("[demo") < out.index("pipeline-secrets demo: summary")
