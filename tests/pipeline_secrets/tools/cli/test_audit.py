"""``pipeline-secrets audit`` end to end against moto (in-process and as a command)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from pipeline_secrets.tools.cli import main
from tests.pipeline_secrets.tools.test_audit import seed

ROOT = Path(__file__).resolve().parents[4]


def test_audit_json_and_exit_codes(moto: Any, capsys: Any, tmp_path: Path) -> None:
    seed(moto)
    args = ["audit", "--endpoint-url", moto.endpoint_url, "--region", "us-east-1"]
    assert main([*args, "--prefix", "db/", "--format", "json"]) == 1
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert {s["name"] for s in report["secrets"]} == {"db/good", "db/stuck", "db/norotate"}
    assert "[3/3] auditing" in err and "3 secret(s) audited" in err
    lenient = tmp_path / "lenient.conf"
    lenient.write_text("require_rotation = false\npending_grace_minutes = 600\n")
    assert main([*args, "--prefix", "db/good", "--policy", str(lenient), "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("secret") and "db/good" in out and err == ""
    # db/stuck: a rotation in progress within the grace period is a warning only.
    stuck = [*args, "--prefix", "db/stuck", "--policy", str(lenient), "--quiet"]
    assert main(stuck) == 0
    assert main([*stuck, "--fail-on", "warn"]) == 1
    capsys.readouterr()
    bad = tmp_path / "bad.conf"
    bad.write_text("nonsense\n")
    assert main([*args, "--policy", str(bad)]) == 2


def test_audit_command_unreachable_endpoint_exits_3(moto: Any) -> None:
    from devstack.ports import free_port

    env = {**os.environ, "PYTHONPATH": str(ROOT), "AWS_MAX_ATTEMPTS": "1"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline_secrets.tools",
            "audit",
            "--endpoint-url",
            f"http://127.0.0.1:{free_port()}",
            "--region",
            "us-east-1",
            "--prefix",
            "db/",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )
    assert proc.returncode == 3, proc.stderr[-2000:]
    assert "could not reach Secrets Manager" in proc.stdout + proc.stderr
