"""glue_jobs/rds_to_redshift.py on local Spark (``python script --args``, as the DAG's
local mode and the demo run it): the range's daily totals equal the source's, stale
days of the range go, other days stay, and a re-run changes nothing (no duplicates).
A rotation of both secrets between the two runs is survived."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from devstack import stack
from glue_lib.local import run_script
from pipeline_secrets.rotation import rotate_secret
from tests.dags.stack_helpers import ExampleStack
from tests.leakguard import GUARD

pytestmark = [pytest.mark.slow, pytest.mark.spark, pytest.mark.postgres]
ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "glue_jobs" / "rds_to_redshift.py"


def _run(example: ExampleStack, start: str, end: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PIPELINE_"))}
    env.update(example.moto.env())
    env["PYTHONPATH"] = str(ROOT)
    proc = run_script(
        SCRIPT,
        {
            "JOB_NAME": "test",
            "source_secret_id": stack.SOURCE_SECRET_ID,
            "target_secret_id": stack.TARGET_SECRET_ID,
            "start_date": start,
            "end_date": end,
        },
        env=env,
        timeout=300,
    )
    GUARD.assert_clean({"job stdout": proc.stdout, "job stderr": proc.stderr})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def test_job_loads_the_range_idempotently(glue_stack: ExampleStack) -> None:
    ex = glue_stack
    table = stack.DAILY_TABLE
    # A stale total inside the range (no orders that day) and one outside it.
    ex.execute(
        stack.TARGET_DB,
        f"INSERT INTO {table} (order_date, orders, customers, revenue) "
        "VALUES ('2026-10-31', 9, 9, 9), ('2026-11-07', 9, 9, 9)",
    )
    start, end = "2026-10-30", "2026-11-04"
    expected = ex.source_totals(start, end)
    assert [r[0] for r in expected] == ["2026-11-01", "2026-11-02", "2026-11-03"]

    proc = _run(ex, start, end)
    assert "rds_to_redshift: 900 orders -> 3 daily total(s)" in proc.stdout
    assert ex.target_totals(start, end) == expected  # the stale 10-31 row is gone
    assert ex.target_totals("2026-11-07", "2026-11-08") == [("2026-11-07", "9", "9", "9.00")]

    for secret_id in (stack.SOURCE_SECRET_ID, stack.TARGET_SECRET_ID):
        rotate_secret(secret_id, client=ex.client())
    ex.register_secrets()

    _run(ex, start, end)
    assert ex.target_totals(start, end) == expected
    count = ex.rows(
        stack.TARGET_DB,
        f"SELECT count(*) FROM {table} WHERE order_date >= %s AND order_date < %s",
        (start, end),
    )
    assert count == [("3",)]
