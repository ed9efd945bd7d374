"""The multi-host run (devstack/multihost.py): Airflow's CeleryExecutor with two workers
on two network-namespace "hosts", an agent per host, both database secrets rotating
mid-run, then faults (one agent killed, one host's route to Secrets Manager down).

Runs the real script once (about 8-10 minutes on a loaded 2-core machine) and checks
its report. Skips, saying why, where network namespaces cannot be created.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from devstack import netns

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.airflow, pytest.mark.postgres]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict[str, Any], str]:
    ok, why = netns.available()
    if not ok:
        pytest.skip(f"network namespaces are not permitted here: {why}")
    report = tmp_path_factory.mktemp("multihost") / "report.json"
    proc = subprocess.run(
        [sys.executable, "-m", "devstack.multihost", "--json", str(report)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=1500,
    )
    output = proc.stdout + proc.stderr
    assert report.exists(), output[-4000:]
    return proc.returncode, json.loads(report.read_text()), output


def _mode(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(m for m in report["modes"] if m["mode"] == name)


@pytest.mark.timeout(1600)
def test_the_run_passes_every_check(run: tuple[int, dict[str, Any], str]) -> None:
    code, report, output = run
    assert report["problems"] == [], output[-4000:]
    assert code == 0, output[-4000:]
    assert [m["mode"] for m in report["modes"]] == ["official", "ours", "agents", "faults"]
    assert report["seconds"] < 900


@pytest.mark.timeout(1600)
def test_every_task_succeeded_on_both_workers_while_secrets_rotated(
    run: tuple[int, dict[str, Any], str],
) -> None:
    _, report, _ = run
    for name in ("official", "ours", "agents"):
        mode = _mode(report, name)
        assert mode["tasks"] >= 9 and mode["task_states"] == {"success": mode["tasks"]}, mode
        assert mode["tasks_per_host"]["worker1"] > 0 and mode["tasks_per_host"]["worker2"] > 0
        assert mode["tasks_per_host"]["control"] == 0
        assert mode["rotations"] == 2, mode


@pytest.mark.timeout(1600)
def test_no_secret_value_in_any_log(run: tuple[int, dict[str, Any], str]) -> None:
    _, report, _ = run
    assert report["leaks"] == []
    # task logs, two Celery workers, API server, scheduler, DAG processor, agents
    assert report["files_scanned"] >= 30


@pytest.mark.timeout(1600)
def test_agents_answer_lookups_and_save_calls(run: tuple[int, dict[str, Any], str]) -> None:
    _, report, _ = run
    agents, ours = _mode(report, "agents"), _mode(report, "ours")
    for host in ("worker1", "worker2"):
        assert agents["agent_hits"][host] > 0, agents
    workers = ("worker1", "worker2")
    with_agents = sum(sum(agents["calls"][h].values()) for h in workers)
    without = sum(sum(ours["calls"][h].values()) for h in workers)
    assert with_agents < without, (with_agents, without)


@pytest.mark.timeout(1600)
def test_faults_fall_back_or_fail_clearly(run: tuple[int, dict[str, Any], str]) -> None:
    _, report, _ = run
    faults = _mode(report, "faults")
    assert faults["problems"] == []
    # worker1's agent was dead: its tasks called Secrets Manager directly, and succeeded
    assert faults["tasks_per_host"]["worker1"] > 0
    assert faults["calls"]["worker1"].get("GetSecretValue", 0) > 0
    # worker2 had no route: not one of its calls arrived
    assert faults["tasks_per_host"]["worker2"] > 0
    assert sum(faults["calls"]["worker2"].values()) == 0
