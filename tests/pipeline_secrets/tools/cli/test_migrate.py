"""``pipeline-secrets migrate``: dry run by default, --apply, --force, exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from pipeline_secrets.tools.cli import main


def test_migrate_command(
    moto: Any, secret_value: Any, capsys: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    password = secret_value("cli")
    monkeypatch.setenv("AIRFLOW_CONN_SALES", f"mysql://app:{quote(password, safe='')}@db/sales")
    monkeypatch.setenv("AIRFLOW_VAR_MODE", "full")
    aws = ["--endpoint-url", moto.endpoint_url, "--region", "us-east-1"]
    assert main(["migrate", *aws]) == 0
    out, err = capsys.readouterr()
    assert "would-create" in out and "airflow/connections/sales" in out
    assert "dry run" in err and "[2/2]" in err
    assert moto.client().list_secrets()["SecretList"] == []

    assert (
        main(
            [
                "migrate",
                *aws,
                "--apply",
                "--connections-prefix",
                "af/conn",
                "--variables-prefix",
                "af/var",
            ]
        )
        == 0
    )
    out, _ = capsys.readouterr()
    assert "create             af/conn/sales" in out
    assert (
        main(
            [
                "migrate",
                *aws,
                "--apply",
                "--connections-prefix",
                "af/conn",
                "--variables-prefix",
                "af/var",
                "--quiet",
            ]
        )
        == 1
    )  # exists, no --force
    out, err = capsys.readouterr()
    assert out.count("skip-exists") == 2 and "[1/2]" not in err
    assert (
        main(
            [
                "migrate",
                *aws,
                "--apply",
                "--force",
                "--only",
                "sales",
                "--connections-prefix",
                "af/conn",
            ]
        )
        == 0
    )
    out, _ = capsys.readouterr()
    assert "unchanged" in out and "mode" not in out

    bad = tmp_path / "conns.json"
    bad.write_text(json.dumps({"x": {"host": "h"}}))
    assert main(["migrate", *aws, "--connections-file", str(bad)]) == 2
    assert "no conn_type" in capsys.readouterr().err
