"""devstack/demo.py's own checks, without running the stack: the leak scan finds a
value in the demo's output, in a run's output and in Airflow task log files; the
summary counts failures (and a leak is one)."""

from __future__ import annotations

import io
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from devstack.demo import Demo, Output, StepResult, summary_lines

VALUE = "Demo-Value-#8x!Q"


def _demo(tmp_path: Path, *, home: Any = None) -> Demo:
    fake_stack: Any = SimpleNamespace(cluster=SimpleNamespace(admin_password="admin-pw-123456"))
    out = Output(stream=io.StringIO())
    demo = Demo(out, fake_stack, tmp_path)
    demo.known_values.add(VALUE)
    demo.airflow_home = home
    return demo


def test_clean_output_passes(tmp_path: Path) -> None:
    demo = _demo(tmp_path)
    demo.out.say("nothing secret here")
    demo.scanned_texts["run stdout"] = "connected with secret 'a' version 1 (AWSPENDING)"
    scanned, leaks = demo.leak_scan()
    assert (scanned, leaks) == (2, [])


@pytest.mark.parametrize("where", ["demo output", "run stdout", "task log", "json"])
def test_a_value_anywhere_is_found(tmp_path: Path, where: str) -> None:
    logs = tmp_path / "home" / "logs" / "dag_id=x"
    logs.mkdir(parents=True)
    (logs / "attempt=1.log").write_text("fine\n")
    demo = _demo(tmp_path, home=SimpleNamespace(path=tmp_path / "home"))
    if where == "demo output":
        demo.out.say(f"oops {VALUE}")
    elif where == "run stdout":
        demo.scanned_texts["run stdout"] = f"password={VALUE}"
    elif where == "json":
        demo.scanned_texts["run stdout"] = '{"password": "' + VALUE + '"}'
    else:
        (logs / "attempt=1.log").write_text(f"user:{VALUE}@host\n")
    _, leaks = demo.leak_scan()
    assert leaks == [{"task log": "Airflow task logs", "json": "run stdout"}.get(where, where)]
    lines = summary_lines(demo, Counter(), leaks, 3)
    assert lines[-1] == "failures: 1"


def test_summary_counts_failed_steps_and_rotations(tmp_path: Path) -> None:
    demo = _demo(tmp_path)
    demo.results = [
        StepResult("airflow dags test", True, 1.0, rotations_survived=2, rows_moved=1),
        StepResult("glue script", False, 1.0, rotations_survived=1, rows_moved=0),
    ]
    lines = summary_lines(demo, Counter({"GetSecretValue": 3, "DescribeSecret": 2}), [], 4)
    text = "\n".join(lines)
    assert "rows moved: 1" in text and "rotations survived: 3" in text
    assert "secrets manager api calls: 5 (DescribeSecret 2, GetSecretValue 3)" in text
    assert lines[-1] == "failures: 1"
