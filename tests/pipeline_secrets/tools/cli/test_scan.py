"""``pipeline-secrets scan`` output and exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipeline_secrets.tools.cli import main

FIXTURES = Path(__file__).resolve().parents[1] / "scan_fixtures"


def test_scan_exit_codes_and_formats(capsys: Any, tmp_path: Path) -> None:
    assert main(["scan", str(FIXTURES / "good")]) == 0
    out, err = capsys.readouterr()
    assert out == "" and "3 file(s) scanned, 0 finding(s)" in err
    assert main(["scan", "--format", "json", str(FIXTURES / "bad")]) == 1
    out, err = capsys.readouterr()
    findings = json.loads(out)
    assert len(findings) == 12 and {"path", "line", "kind", "suggestion"} <= set(findings[0])
    assert "Sup3rS3cret!" not in out
    assert "scanning 5 file(s)" in err
    assert main(["scan", "--quiet", str(FIXTURES / "bad" / "settings.ini")]) == 1
    out, err = capsys.readouterr()
    assert "settings.ini:3:1: password-literal" in out and err == ""
    assert main(["scan", str(tmp_path / "missing")]) == 2
