"""``pipeline-secrets migrate``: Airflow connections and variables -> Secrets Manager.

Reads AIRFLOW_CONN_*/AIRFLOW_VAR_* environment variables (the default) and/or
``airflow connections export`` / ``airflow variables export`` files, and stores each
under the backend's prefixes in the JSON shape the backend reads. A dry run unless
--apply. --force replaces only secrets migrate created (tagged managed-by); others need
--force-unmanaged too; a secret with rotation enabled or an AWSPENDING version is never
replaced. The same secret with two different values from two sources stops the run
before anything is written. Prints what it did (or would do) and the version an update
replaced, never a value or an input line (items are named by path:line or variable).

Exit codes: 0 everything done (or would be), 1 some items skipped or failed,
2 bad arguments or input, 3 Secrets Manager could not be used.
"""

from __future__ import annotations

import argparse
import os
import sys

from pipeline_secrets.errors import SecretError
from pipeline_secrets.source import SecretsManagerSource
from pipeline_secrets.tools.cli import _tooling as tooling
from pipeline_secrets.tools.migrate import (
    MigrationInputError,
    MigrationItem,
    Targets,
    items_from_connections_file,
    items_from_env,
    items_from_variables_file,
    merge_items,
    migrate,
    outcomes_json,
)

COMMAND = "migrate"
HELP = "move Airflow connections/variables into Secrets Manager (dry run by default)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--from-env",
        action="store_true",
        help="read AIRFLOW_CONN_*/AIRFLOW_VAR_* (default when no file is given)",
    )
    tooling.add_repeatable(
        parser,
        "--connections-file",
        "an `airflow connections export` file (JSON or .env)",
    )
    tooling.add_repeatable(
        parser,
        "--variables-file",
        "an `airflow variables export` JSON file",
    )
    parser.add_argument("--connections-prefix", default="airflow/connections")
    parser.add_argument("--variables-prefix", default="airflow/variables")
    parser.add_argument("--sep", default="/", help="separator between prefix and id")
    tooling.add_repeatable(
        parser,
        "--only",
        "migrate only this conn_id / variable key (repeatable)",
    )
    parser.add_argument("--apply", action="store_true", help="write (default: dry run)")
    parser.add_argument(
        "--force", action="store_true", help="replace existing secrets that migrate created"
    )
    parser.add_argument(
        "--force-unmanaged",
        action="store_true",
        help="with --force: also replace secrets migrate did not create",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--kms-key-id", help="KMS key for new secrets")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    tooling.add_aws_arguments(parser)


def run(args: argparse.Namespace) -> int:
    targets = Targets(args.connections_prefix, args.variables_prefix, args.sep)
    progress = tooling.Progress(args.quiet)
    items: list[MigrationItem] = []
    try:
        if args.from_env or not (args.connections_file or args.variables_file):
            items += items_from_env(os.environ, targets)
        for path in args.connections_file:
            items += items_from_connections_file(path, targets)
        for path in args.variables_file:
            items += items_from_variables_file(path, targets)
    except (MigrationInputError, OSError) as exc:
        print(f"pipeline-secrets migrate: {exc}", file=sys.stderr)
        return tooling.EXIT_USAGE
    if args.only:
        items = [i for i in items if i.key in set(args.only)]
    try:
        items = merge_items(items)
    except MigrationInputError as exc:
        print(f"pipeline-secrets migrate: {exc}", file=sys.stderr)
        return tooling.EXIT_USAGE
    if not items:
        progress.note("nothing to migrate")
        if args.format == "json":
            print(outcomes_json([]))
        return tooling.EXIT_OK
    mode = "applying" if args.apply else "dry run (use --apply to write)"
    progress.note(f"{len(items)} item(s) to migrate; {mode}")
    source = SecretsManagerSource(tooling.client_settings(args))
    try:
        outcomes = migrate(
            items,
            source,
            apply=args.apply,
            force=args.force,
            force_unmanaged=args.force_unmanaged,
            kms_key_id=args.kms_key_id,
            progress=lambda i, n, item: progress.step(i, n, item.secret_name),
        )
    except SecretError as exc:
        print(f"pipeline-secrets migrate: {exc}", file=sys.stderr)
        return tooling.EXIT_AWS
    if args.format == "json":
        print(outcomes_json(outcomes))
    else:
        for outcome in outcomes:
            print(outcome.format())
    bad = [o for o in outcomes if not o.ok]
    progress.note(f"{len(outcomes) - len(bad)} ok, {len(bad)} skipped or failed")
    return tooling.EXIT_FINDINGS if bad else tooling.EXIT_OK
