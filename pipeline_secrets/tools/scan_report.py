"""Rendering scan results (text, JSON, SARIF 2.1.0), reading baselines and the
``[tool.pipeline-secrets.scan]`` settings of a ``pyproject.toml``.

Nothing here sees a value: findings carry only masked excerpts and value-free
fingerprints, so every format is as safe as the text output.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pipeline_secrets.tools.scan import KINDS, ScanResult

JSON_SCHEMA_VERSION = 2
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/pipeline-secrets/pipeline-secrets"
CONFIG_TABLE = ("tool", "pipeline-secrets", "scan")


class BaselineError(ValueError):
    """A baseline file could not be read (names the file, never a finding's content)."""


def to_text(result: ScanResult) -> str:
    return "\n".join(f.format() for f in result.findings)


def to_json(result: ScanResult) -> str:
    """Schema version 2: ``{"schema_version", "tool", "summary", "findings"}``. A
    findings file doubles as a baseline (``--baseline``)."""
    by_kind = Counter(f.kind for f in result.findings)
    return json.dumps(
        {
            "schema_version": JSON_SCHEMA_VERSION,
            "tool": {"name": "pipeline-secrets scan", "version": _version()},
            "summary": {
                "files_scanned": result.files_scanned,
                "findings": len(result.findings),
                "files_with_findings": len({f.path for f in result.findings}),
                "baselined": result.baselined,
                "by_kind": dict(sorted(by_kind.items())),
            },
            "findings": [asdict(f) for f in result.findings],
        },
        indent=2,
    )


def to_sarif(result: ScanResult, root: Path | None = None) -> str:
    """A SARIF 2.1.0 log for code scanning (GitHub, GitLab, Azure DevOps)."""
    rules = [
        {
            "id": kind,
            "name": "".join(part.title() for part in kind.split("-")),
            "shortDescription": {"text": description},
            "helpUri": f"{INFORMATION_URI}/blob/main/docs/reliability-tooling.md",
            "defaultConfiguration": {"level": "error"},
        }
        for kind, description in KINDS.items()
    ]
    index = {kind: i for i, kind in enumerate(KINDS)}
    results = []
    for f in result.findings:
        uri = _relative_uri(f.path, root)
        results.append(
            {
                "ruleId": f.kind,
                "ruleIndex": index[f.kind],
                "level": "error",
                "message": {"text": f"{f.message}. Fix: {f.suggestion}"},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": uri, "uriBaseId": "SRCROOT"},
                            "region": {
                                "startLine": f.line,
                                "startColumn": f.column,
                                "snippet": {"text": f.excerpt},
                            },
                        }
                    }
                ],
                "partialFingerprints": {"pipelineSecrets/v1": f.fingerprint},
            }
        )
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "pipeline-secrets scan",
                        "version": _version(),
                        "informationUri": INFORMATION_URI,
                        "rules": rules,
                    }
                },
                "originalUriBaseIds": {
                    "SRCROOT": {"uri": (root or Path.cwd()).resolve().as_uri() + "/"}
                },
                "results": results,
            }
        ],
    }
    return json.dumps(log, indent=2)


def _relative_uri(path: str, root: Path | None) -> str:
    p = Path(path)
    base = (root or Path.cwd()).resolve()
    try:
        return p.resolve().relative_to(base).as_posix()
    except ValueError:
        return p.as_posix()


def _version() -> str:
    from pipeline_secrets import __version__

    return __version__


def load_baseline(path: str | Path) -> frozenset[str]:
    """Fingerprints from a baseline: our JSON output (schema 1 list or schema 2
    object), a SARIF log we wrote, or a list of fingerprint strings."""
    try:
        data = json.loads(Path(path).read_text())
    except OSError as exc:
        raise BaselineError(f"baseline {path}: {exc.strerror or exc}") from None
    except ValueError:
        raise BaselineError(f"baseline {path}: not valid JSON") from None
    prints: set[str] = set()
    entries: Any
    if isinstance(data, Mapping) and "runs" in data:
        for run in data.get("runs") or []:
            for res in run.get("results") or []:
                fp = (res.get("partialFingerprints") or {}).get("pipelineSecrets/v1")
                if fp:
                    prints.add(str(fp))
        return frozenset(prints)
    entries = data.get("findings") if isinstance(data, Mapping) else data
    if not isinstance(entries, list):
        raise BaselineError(f"baseline {path}: expected a findings list")
    for entry in entries:
        if isinstance(entry, str):
            prints.add(entry)
        elif isinstance(entry, Mapping) and entry.get("fingerprint"):
            prints.add(str(entry["fingerprint"]))
    return frozenset(prints)


@dataclass(frozen=True)
class ScanConfig:
    """``[tool.pipeline-secrets.scan]``: ``exclude = [globs]``, ``baseline = "file"``
    (relative to the pyproject.toml)."""

    exclude: tuple[str, ...] = ()
    baseline: Path | None = None


def read_config(pyproject: Path) -> ScanConfig:
    if not pyproject.is_file():
        return ScanConfig()
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: no settings file support
        return ScanConfig()
    try:
        data: Any = tomllib.loads(pyproject.read_text())
    except (OSError, ValueError):
        raise BaselineError(f"{pyproject}: not valid TOML") from None
    for part in CONFIG_TABLE:
        data = data.get(part) if isinstance(data, Mapping) else None
    if not isinstance(data, Mapping):
        return ScanConfig()
    exclude = data.get("exclude") or []
    if not isinstance(exclude, Sequence) or isinstance(exclude, str):
        raise BaselineError(f"{pyproject}: [tool.pipeline-secrets.scan] exclude must be a list")
    baseline = data.get("baseline")
    return ScanConfig(
        exclude=tuple(str(e) for e in exclude),
        baseline=(pyproject.parent / str(baseline)) if baseline else None,
    )
