"""``pipeline-secrets scan PATH...``: hard-coded credentials in DAGs, Glue scripts and
configuration (connection URIs with passwords, password literals, AWS keys), each with
the secret to use instead. Values are never printed.

Exit codes: 0 nothing found, 1 findings, 2 a path does not exist.
Silence a line that is not a credential with a ``pipeline-secrets: ignore`` comment.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pipeline_secrets.tools.cli._tooling import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, Progress
from pipeline_secrets.tools.scan import iter_files, scan_paths


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "scan",
        help="find hard-coded credentials in DAG files, Glue scripts and config",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files or directories")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    missing = [p for p in args.paths if not Path(p).exists()]
    if missing:
        print(f"pipeline-secrets scan: no such path: {', '.join(missing)}", file=sys.stderr)
        return EXIT_USAGE
    progress = Progress(args.quiet)
    total = sum(1 for _ in iter_files(args.paths))
    progress.note(f"scanning {total} file(s) under {', '.join(args.paths)}")
    findings, scanned = scan_paths(args.paths)
    if args.format == "json":
        print(json.dumps([asdict(f) for f in findings], indent=2))
    else:
        for finding in findings:
            print(finding.format())
    files = len({f.path for f in findings})
    progress.note(f"{scanned} file(s) scanned, {len(findings)} finding(s) in {files} file(s)")
    return EXIT_FINDINGS if findings else EXIT_OK
