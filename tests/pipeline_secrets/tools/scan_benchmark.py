"""Our scanner against Yelp's detect-secrets on the same corpus, in one run.

    ~/.cache/pipeline-secrets/venv-af3/bin/python -m tests.pipeline_secrets.tools.scan_benchmark

The corpus (``scan_corpus/``): ``planted/`` holds realistic pipeline files (DAGs, Glue
scripts, .env, airflow.cfg, compose, Terraform, SQL, shell, YAML/JSON/properties) with
the credentials listed in ``manifest.json``; ``clean/`` holds look-alikes of the same
files with none (lookups, templates, placeholders, image tags, paths, hashes).

A unit is a (file, line): a planted line is found when a tool reports that line; every
reported line that holds no planted value is a false positive. Our three output formats
are also searched for any 4-character piece of any planted value.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pipeline_secrets.tools.scan import ScanResult, scan
from pipeline_secrets.tools.scan_report import to_json, to_sarif, to_text

CORPUS = Path(__file__).parent / "scan_corpus"
LEAK_WINDOW = 4  # any run of this many characters of a planted value counts as a leak


@dataclass
class Score:
    tool: str
    found: int
    planted: int
    false_positives: int
    false_positive_lines: list[str]
    missed: list[str]

    @property
    def recall(self) -> float:
        return self.found / self.planted if self.planted else 1.0


def planted_values() -> dict[str, list[str]]:
    data = json.loads((CORPUS / "manifest.json").read_text())
    return {str(k): list(v) for k, v in data["planted"].items()}


def planted_lines() -> set[tuple[str, int]]:
    lines: set[tuple[str, int]] = set()
    for rel, values in planted_values().items():
        text = (CORPUS / "planted" / rel).read_text().splitlines()
        for number, line in enumerate(text, 1):
            if any(v in line for v in values):
                lines.add((f"planted/{rel}", number))
    return lines


def score(tool: str, reported: set[tuple[str, int]]) -> Score:
    truth = planted_lines()
    false = sorted(reported - truth)
    return Score(
        tool,
        found=len(truth & reported),
        planted=len(truth),
        false_positives=len(false),
        false_positive_lines=[f"{p}:{n}" for p, n in false],
        missed=[f"{p}:{n}" for p, n in sorted(truth - reported)],
    )


def run_ours() -> tuple[Score, ScanResult]:
    result = scan([CORPUS / "planted", CORPUS / "clean"])
    reported = {(Path(f.path).relative_to(CORPUS).as_posix(), f.line) for f in result.findings}
    return score("pipeline-secrets scan", reported), result


def detect_secrets_command() -> list[str] | None:
    exe = Path(sys.executable).parent / "detect-secrets"
    return [str(exe)] if exe.exists() else None


def run_detect_secrets() -> Score | None:
    """``detect-secrets scan --all-files`` with its default plugins and filters."""
    command = detect_secrets_command()
    if command is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        # Outside any git work tree, so --all-files sees exactly the corpus.
        work = Path(tmp) / "corpus"
        subprocess.run(["cp", "-r", str(CORPUS), str(work)], check=True)
        proc = subprocess.run(
            [*command, "scan", "--all-files", "planted", "clean"],
            cwd=work,
            capture_output=True,
            text=True,
            check=True,
            timeout=300,
        )
    data = json.loads(proc.stdout)
    reported = {
        (Path(name).as_posix(), int(item["line_number"]))
        for name, items in data["results"].items()
        for item in items
    }
    return score("detect-secrets " + detect_secrets_version(), reported)


def detect_secrets_version() -> str:
    from importlib.metadata import version

    return version("detect-secrets")


def leaked_pieces(result: ScanResult) -> dict[str, list[str]]:
    """Every output format, searched for any piece of any planted value."""
    outputs = {
        "text": to_text(result),
        "json": to_json(result),
        "sarif": to_sarif(result, CORPUS),
    }
    leaks: dict[str, list[str]] = {}
    for name, text in outputs.items():
        for values in planted_values().values():
            for value in values:
                for i in range(len(value) - LEAK_WINDOW + 1):
                    piece = value[i : i + LEAK_WINDOW]
                    if piece in text:
                        leaks.setdefault(name, []).append(f"{len(value)}-char value, piece {i}")
    return leaks


def report(ours: Score, theirs: Score | None, leaks: dict[str, list[str]]) -> str:
    rows = [("tool", "recall", "found/planted", "false positives")]
    for s in (ours, theirs):
        if s is not None:
            rows.append(
                (s.tool, f"{s.recall:.1%}", f"{s.found}/{s.planted}", str(s.false_positives))
            )
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
    lines.append(
        f"planted-value pieces ({LEAK_WINDOW}+ chars) in our text/JSON/SARIF output: "
        f"{sum(len(v) for v in leaks.values())}"
    )
    for s in (ours, theirs):
        if s is not None and s.missed:
            lines.append(f"{s.tool} missed: {', '.join(s.missed)}")
    return "\n".join(lines)


def main() -> int:
    ours, result = run_ours()
    theirs = run_detect_secrets()
    leaks = leaked_pieces(result)
    print(report(ours, theirs, leaks))
    return 0


if __name__ == "__main__":
    sys.exit(main())
