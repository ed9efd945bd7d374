"""``pipeline-secrets scan PATH...``: hard-coded credentials in DAGs, Glue scripts, SQL,
shell and configuration (connection URIs with passwords, credential literals, SQL
passwords, AWS keys), each with the secret to use instead. No part of a value is
ever printed, in any format.

Settings: ``[tool.pipeline-secrets.scan]`` in ./pyproject.toml (``exclude`` globs,
``baseline`` file), extended by --exclude / --baseline. Make a baseline with
``pipeline-secrets scan . --format json > .pipeline-secrets-baseline.json``.
Silence one line with a ``pipeline-secrets: ignore`` comment.

Exit codes: 0 nothing found, 1 findings, 2 a path, baseline or setting is bad.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipeline_secrets.tools import scan_report
from pipeline_secrets.tools.cli import _tooling as tooling
from pipeline_secrets.tools.scan import ScanOptions, iter_files, scan
from pipeline_secrets.tools.scan_report import BaselineError, load_baseline, read_config

# One renderer per --format value.
RENDERERS = {
    "text": scan_report.to_text,
    "json": scan_report.to_json,
    "sarif": scan_report.to_sarif,
}

COMMAND = "scan"
HELP = "find hard-coded credentials in DAG files, Glue scripts and config"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files or directories")
    parser.add_argument("--format", choices=tuple(RENDERERS), default="text")
    parser.add_argument(
        "--baseline",
        metavar="FILE",
        help="accept the findings listed in FILE (our JSON or SARIF output) by fingerprint",
    )
    tooling.add_repeatable(
        parser,
        "--exclude",
        "skip paths matching GLOB, relative to the scanned directory (repeatable)",
        metavar="GLOB",
    )
    parser.add_argument(
        "--no-config", action="store_true", help="ignore [tool.pipeline-secrets.scan]"
    )
    parser.add_argument("--output", metavar="FILE", help="write the report here, not stdout")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")


def run(args: argparse.Namespace) -> int:
    missing = [p for p in args.paths if not Path(p).exists()]
    if missing:
        print(f"pipeline-secrets scan: no such path: {', '.join(missing)}", file=sys.stderr)
        return tooling.EXIT_USAGE
    try:
        config = read_config(Path("pyproject.toml")) if not args.no_config else None
        exclude = [*(config.exclude if config else ()), *args.exclude]
        baseline_file = args.baseline or (config.baseline if config else None)
        baseline = load_baseline(baseline_file) if baseline_file else frozenset()
    except BaselineError as exc:
        print(f"pipeline-secrets scan: {exc}", file=sys.stderr)
        return tooling.EXIT_USAGE
    progress = tooling.Progress(args.quiet)
    total = sum(1 for _ in iter_files(args.paths, exclude))
    progress.note(f"scanning {total} file(s) under {', '.join(args.paths)}")
    result = scan(args.paths, ScanOptions(exclude=tuple(exclude), baseline=baseline))
    report = RENDERERS[args.format](result)
    if args.output:
        Path(args.output).write_text(report + "\n")
    elif report:
        print(report)
    files = len({f.path for f in result.findings})
    accepted = f", {result.baselined} accepted by the baseline" if result.baselined else ""
    progress.note(
        f"{result.files_scanned} file(s) scanned, {len(result.findings)} finding(s) "
        f"in {files} file(s){accepted}"
    )
    return tooling.EXIT_FINDINGS if result.findings else tooling.EXIT_OK
