"""The multi-host run (devstack/multihost.py): Airflow's CeleryExecutor with two workers
on two network-namespace "hosts", an agent per host, both database secrets rotating
mid-run, then faults (one agent killed, one host's route to Secrets Manager down).

The slow tests run the real script once (about 8-10 minutes on a loaded 2-core
machine) and check its report; a quick test checks the hosts and the forwarder alone.
All skip, saying why, where network namespaces cannot be created.
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


def slow_run(test: Any) -> Any:
    """The tests that read the full run's report (one run per module)."""
    for mark in (
        pytest.mark.timeout(1600),
        pytest.mark.slow,
        pytest.mark.airflow,
        pytest.mark.postgres,
    ):
        test = mark(test)
    return test


def _need_netns() -> None:
    ok, why = netns.available()
    if not ok:
        pytest.skip(f"network namespaces are not permitted here: {why}")


def test_hosts_reach_root_services_through_the_forwarder_by_source(tmp_path: Path) -> None:
    """Each worker reaches a root-namespace service at SERVICES/SECRETS_ADDRESS, the
    forwarder picks the upstream by the worker's address, a broken route fails at once,
    and closing removes every namespace."""
    _need_netns()
    import socketserver
    import threading

    from devstack.netforward import Route

    class Named(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            self.request.sendall(self.server.name)  # type: ignore[attr-defined]

    servers = {}
    for name in (b"control", b"worker1", b"worker2"):
        server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Named)
        server.name = name  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers[name.decode()] = server
    at = {n: f"127.0.0.1:{s.server_address[1]}" for n, s in servers.items()}
    net = netns.HostNetwork(workers=2, tag=f"{os.getpid() % 100000}9").open()
    forwarder = None
    try:
        assert net.control is not None
        routes = [
            Route(net.control.netns, netns.SECRETS_ADDRESS, 4566, at["control"],
                  by_peer={h.address: at[h.name] for h in net.hosts}),
        ]  # fmt: skip
        forwarder = subprocess.Popen(
            [sys.executable, "-m", "devstack.netforward"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
        assert forwarder.stdin is not None and forwarder.stdout is not None
        forwarder.stdin.write(json.dumps([r.to_json() for r in routes]) + "\n")
        forwarder.stdin.flush()
        assert forwarder.stdout.readline().strip() == "ready"
        probe = (
            "import socket,sys\n"
            "try:\n"
            f"  c=socket.create_connection(('{netns.SECRETS_ADDRESS}',4566),timeout=5)\n"
            "  print(c.recv(20).decode())\n"
            "except OSError as e: print('error', e.errno)\n"
        )

        def ask(host: netns.Host) -> str:
            out = subprocess.run(
                host.command([sys.executable, "-c", probe]),
                capture_output=True, text=True, timeout=30,
            )  # fmt: skip
            return out.stdout.strip()

        worker1, worker2 = net.hosts
        assert ask(worker1) == "worker1"
        assert ask(worker2) == "worker2"
        assert ask(net.control) == "control"
        net.break_route(worker2)
        assert ask(worker2) == "error 113"  # EHOSTUNREACH: no route to host
        assert ask(worker1) == "worker1"
        net.restore_route(worker2)
        assert ask(worker2) == "worker2"
    finally:
        if forwarder is not None and forwarder.stdin is not None:
            forwarder.stdin.close()
            forwarder.wait(10)
        names = [net.control.netns] if net.control else []
        names += [h.netns for h in net.hosts]
        net.close()
        for server in servers.values():
            server.shutdown()
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert not any(name in listed for name in names)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict[str, Any], str]:
    _need_netns()
    report = tmp_path_factory.mktemp("multihost") / "report.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "devstack.multihost", "--json", str(report)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        output, _ = proc.communicate(timeout=1400)
    except subprocess.TimeoutExpired:
        proc.terminate()  # SIGTERM: the script tears everything down
        output, _ = proc.communicate(timeout=180)
    assert report.exists(), output[-4000:]
    return proc.returncode, json.loads(report.read_text()), output


def _mode(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(m for m in report["modes"] if m["mode"] == name)


@slow_run
def test_the_run_passes_every_check(run: tuple[int, dict[str, Any], str]) -> None:
    code, report, output = run
    assert report["problems"] == [], output[-4000:]
    assert code == 0, output[-4000:]
    assert [m["mode"] for m in report["modes"]] == ["official", "ours", "agents", "faults"]
    assert report["seconds"] < 900


@slow_run
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


@slow_run
def test_no_secret_value_in_any_log(run: tuple[int, dict[str, Any], str]) -> None:
    _, report, _ = run
    assert report["leaks"] == []
    # task logs, two Celery workers, API server, scheduler, DAG processor, agents
    assert report["files_scanned"] >= 30


@slow_run
def test_agents_answer_lookups_and_save_calls(run: tuple[int, dict[str, Any], str]) -> None:
    _, report, _ = run
    agents, ours = _mode(report, "agents"), _mode(report, "ours")
    for host in ("worker1", "worker2"):
        assert agents["agent_hits"][host] > 0, agents
    # The backend's lookups of the DAG's settings Variable (every task reads it): through
    # the agent none reaches Secrets Manager; without an agent, they do.
    variable = "airflow/variables/pipeline_example_settings"
    for host in ("worker1", "worker2"):
        assert agents["secret_reads"][host].get(variable, 0) == 0, agents["secret_reads"]
    assert sum(ours["secret_reads"][h].get(variable, 0) for h in ("worker1", "worker2")) > 0
    workers = ("worker1", "worker2")
    with_agents = sum(sum(agents["calls"][h].values()) for h in workers)
    without = sum(sum(ours["calls"][h].values()) for h in workers)
    assert with_agents < without, (with_agents, without)


@slow_run
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
