"""``pipeline-secrets scan``: formats (text, JSON with counts, SARIF 2.1.0 valid against
the schema shipped in tests), baseline, excludes, settings, exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from pipeline_secrets.tools.cli import main

FIXTURES = Path(__file__).resolve().parents[1] / "scan_fixtures"
SARIF_SCHEMA = Path(__file__).resolve().parents[1] / "schemas" / "sarif-2.1.0-subset.schema.json"


def test_scan_exit_codes_and_formats(capsys: Any, tmp_path: Path) -> None:
    assert main(["scan", "--no-config", str(FIXTURES / "good")]) == 0
    out, err = capsys.readouterr()
    assert out == "" and "3 file(s) scanned, 0 finding(s)" in err
    assert main(["scan", "--no-config", "--format", "json", str(FIXTURES / "bad")]) == 1
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert report["schema_version"] == 2
    assert report["summary"]["findings"] == len(report["findings"]) == 12
    assert report["summary"]["files_scanned"] == 5
    assert sum(report["summary"]["by_kind"].values()) == 12
    assert {"path", "line", "kind", "suggestion", "fingerprint"} <= set(report["findings"][0])
    assert "Sup3rS3cret!" not in out
    assert "scanning 5 file(s)" in err
    assert main(["scan", "--quiet", "--no-config", str(FIXTURES / "bad" / "settings.ini")]) == 1
    out, err = capsys.readouterr()
    assert "settings.ini:3:1: password-literal" in out and err == ""
    assert main(["scan", str(tmp_path / "missing")]) == 2


def test_sarif_is_valid_2_1_0(capsys: Any) -> None:
    assert main(["scan", "--no-config", "--format", "sarif", str(FIXTURES / "bad")]) == 1
    out = capsys.readouterr().out
    log = json.loads(out)
    schema = json.loads(SARIF_SCHEMA.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.Draft7Validator(schema).validate(log)
    (run,) = log["runs"]
    assert log["version"] == "2.1.0" and len(run["results"]) == 12
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    for res in run["results"]:
        assert rule_ids[res["ruleIndex"]] == res["ruleId"]
        assert res["partialFingerprints"]["pipelineSecrets/v1"]
    assert "Sup3rS3cret!" not in out
    # The schema rejects what SARIF 2.1.0 forbids (it is not a pass-everything schema).
    broken = json.loads(out)
    broken["runs"][0]["results"][0]["level"] = "critical"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_baseline_exclude_and_settings(
    capsys: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    (repo / "dags").mkdir(parents=True)
    (repo / "legacy").mkdir()
    (repo / "dags" / "etl.py").write_text('PASSWORD = "Kq8zLw3mVb"\n')
    (repo / "legacy" / "old.py").write_text('token = "Jx5yHt7nQd"\n')
    monkeypatch.chdir(repo)
    assert main(["scan", "--quiet", "--format", "json", "."]) == 1
    first = capsys.readouterr().out
    (repo / "baseline.json").write_text(first)
    # A moved line keeps its fingerprint; a new finding is still reported.
    (repo / "dags" / "etl.py").write_text('\n\nPASSWORD = "Kq8zLw3mVb"\napi_key = "Zw2xCv4bNm"\n')
    args = ["scan", "--quiet", "--baseline", "baseline.json", "--exclude", "legacy/*", "."]
    assert main(args) == 1
    out = capsys.readouterr().out
    assert "etl.py:4:1" in out and "etl.py:3" not in out and "old.py" not in out
    (repo / "pyproject.toml").write_text(
        '[tool.pipeline-secrets.scan]\nexclude = ["legacy/**"]\nbaseline = "baseline.json"\n'
    )
    (repo / "dags" / "etl.py").write_text('\nPASSWORD = "Kq8zLw3mVb"  # moved\n')
    assert main(["scan", "--quiet", "."]) == 1  # the line changed: not the same finding
    capsys.readouterr()
    (repo / "dags" / "etl.py").write_text('\nPASSWORD = "Kq8zLw3mVb"\n')
    assert main(["scan", "."]) == 0
    err = capsys.readouterr().err
    assert "1 accepted by the baseline" in err
    # pre-commit passes file names: the baseline made from "scan ." still applies.
    assert main(["scan", "dags/etl.py", "legacy/old.py"]) == 0
    assert "1 accepted by the baseline" in capsys.readouterr().err
    for value in ("Kq8zLw3mVb", "Jx5yHt7nQd", "Zw2xCv4bNm"):
        assert value not in first + out + err
    (repo / "bad.json").write_text("{not json")
    assert main(["scan", "--baseline", "bad.json", "."]) == 2


def test_pre_commit_hook_runs_this_command() -> None:
    import yaml  # type: ignore[import-untyped,unused-ignore]

    root = Path(__file__).resolve().parents[4]
    (hook,) = yaml.safe_load((root / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "pipeline-secrets-scan" and hook["language"] == "python"
    command = hook["entry"].split()
    assert command[:2] == ["pipeline-secrets", "scan"]
    assert (
        'pipeline-secrets = "pipeline_secrets.tools.cli:main"'
        in (root / "pyproject.toml").read_text()
    )
    assert main([*command[1:], "--no-config", str(FIXTURES / "bad")]) == 1


def test_this_repository_scans_clean(capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    root = Path(__file__).resolve().parents[4]
    monkeypatch.chdir(root)
    assert main(["scan", "--quiet", "."]) == 0, capsys.readouterr().out
