"""``pipeline-secrets audit``: rotation, stuck rotations, replication and resource
policies of every secret under the given prefixes, as a table or JSON.

Each secret gets the rules of its kind (database credentials: rotation on and at most
90 days old; API tokens: at most 365 days old; Variables and other: no rotation rule),
changed by a --policy file (JSON: "kinds", prefix/tag "rules", "exclude"; or flat
``key = value`` lines that apply to every kind). A rotation by any means counts.

Exit codes (for CI gates): 0 nothing failed the policy (with --fail-on warn: nothing
found at all), 1 at least one secret failed it, 2 bad arguments or policy file, 3
Secrets Manager could not be read (the report is still printed).
"""

from __future__ import annotations

import argparse
import sys

from pipeline_secrets.source import SecretsManagerSource
from pipeline_secrets.tools.audit import PolicySet, audit_secrets
from pipeline_secrets.tools.cli import _tooling as tooling

COMMAND = "audit"
HELP = "compliance report: rotation, stuck AWSPENDING, replication, resource policy"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    tooling.add_repeatable(
        parser,
        "--prefix",
        "secret name prefix to audit (repeatable; default: all secrets)",
    )
    parser.add_argument("--policy", help="policy file (JSON object or 'key = value' lines)")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.add_argument(
        "--fail-on",
        choices=("fail", "warn"),
        default="fail",
        help="exit 1 on failures only (default) or on warnings too",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    tooling.add_aws_arguments(parser)


def run(args: argparse.Namespace) -> int:
    try:
        policy = PolicySet.from_file(args.policy) if args.policy else PolicySet()
    except (OSError, ValueError) as exc:
        print(f"pipeline-secrets audit: bad policy file: {exc}", file=sys.stderr)
        return tooling.EXIT_USAGE
    progress = tooling.Progress(args.quiet)
    source = SecretsManagerSource(tooling.client_settings(args))
    progress.note(f"auditing secrets under {', '.join(args.prefix) or 'every prefix'}")
    report = audit_secrets(
        source,
        args.prefix,
        policy,
        progress=lambda i, n, name: progress.step(i, n, f"auditing {name}"),
    )
    print(report.to_json() if args.format == "json" else report.to_table())
    failed = sum(1 for s in report.secrets if s.failed)
    progress.note(
        f"{len(report.secrets)} secret(s) audited, {failed} failed the policy, "
        f"{len(report.excluded)} excluded, {len(report.errors)} error(s)"
    )
    if report.errors:
        return tooling.EXIT_AWS
    if failed or (args.fail_on == "warn" and report.warned):
        return tooling.EXIT_FINDINGS
    return tooling.EXIT_OK
