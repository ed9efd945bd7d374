"""``pipeline-secrets rotate SECRET_ID``: rotate a secret now, from this machine.

Rotate a database secret: createSecret, setSecret, testSecret, finishSecret, run from
this machine against AWS or any endpoint (a moto server). An interrupted rotation is
resumed. RotationEnabled is not required. The same checks as the Lambda apply (see
docs/rotation.md, Security model).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from pipeline_secrets.tools.cli import _tooling as tooling

STOP_STEPS = ("createSecret", "setSecret", "testSecret")
FORMATS = ("text", "json")


COMMAND = "rotate"
HELP = "rotate a database secret now (runs the four rotation steps locally)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("secret_id", metavar="SECRET_ID")
    tooling.add_aws_arguments(parser)  # --region, --endpoint-url, --profile, --role-arn
    parser.add_argument("--token", help="ClientRequestToken: resume or name this rotation")
    parser.add_argument(
        "--stop-after",
        choices=STOP_STEPS,
        help="stop after this step, leaving the rotation window open",
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="text",
        help="output: a sentence (text, default) or one JSON object on stdout (json)",
    )
    pw = parser.add_argument_group("new password")
    pw.add_argument(
        "--password-length",
        type=int,
        metavar="N",
        help="length of the new password (default 32, or PASSWORD_LENGTH; "
        "PostgreSQL 8-1024, MySQL/MariaDB 8-256, Redshift 8-64)",
    )
    pw.add_argument("--exclude-characters", help="characters never used (default: per engine)")
    for flag in ("numbers", "punctuation", "uppercase", "lowercase"):
        pw.add_argument(
            f"--exclude-{flag}", action="store_true", default=None, help=f"no {flag} in it"
        )
    pw.add_argument("--include-space", action="store_true", default=None, help="allow spaces")


def _options(args: argparse.Namespace) -> Any:
    from dataclasses import replace

    from pipeline_secrets.rotation import PasswordOptions

    options = PasswordOptions.from_env()
    changes: dict[str, Any] = {}
    if args.password_length is not None:
        changes["length"] = args.password_length
    if args.exclude_characters is not None:
        changes["exclude_characters"] = args.exclude_characters
    for flag in ("numbers", "punctuation", "uppercase", "lowercase"):
        if getattr(args, f"exclude_{flag}"):
            changes[f"exclude_{flag}"] = True
    if args.include_space:
        changes["include_space"] = True
    return replace(options, **changes)


def _fail(args: argparse.Namespace, message: str, code: int, **fields: Any) -> int:
    if args.format == "json":
        print(json.dumps({"secret_id": args.secret_id, "error": message, **fields}))
    print(f"error: {message}", file=sys.stderr)
    return code


def run(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError

    from pipeline_secrets.client import ClientFactory
    from pipeline_secrets.rotation import RotationError, rotate_secret
    from pipeline_secrets.rotation.store import aws_setup_problem

    try:
        options = _options(args)
    except ValueError as exc:
        return _fail(args, str(exc), 2)
    try:
        factory = ClientFactory(tooling.client_settings(args))
        result = rotate_secret(
            args.secret_id,
            client=factory.client(),
            token=args.token,
            stop_after=args.stop_after,
            password_options=options,
            rds_clients=lambda region: factory.client(region, service="rds"),
        )
    except RotationError as exc:
        return _fail(args, str(exc), 1, step=exc.step)
    except BotoCoreError as exc:  # building the client: region, profile, role
        return _fail(args, aws_setup_problem(exc), 1, step="start")
    if args.format == "json":
        print(
            json.dumps(
                {
                    "secret_id": result.secret_id,
                    "version_id": result.token,
                    "steps": list(result.steps),
                    "strategy": result.strategy,
                    "finished": result.finished,
                }
            )
        )
    elif result.finished:
        print(
            f"rotated secret {result.secret_id!r}: version {result.token} is AWSCURRENT "
            f"({result.strategy} user rotation)"
        )
    else:
        print(
            f"secret {result.secret_id!r}: stopped after {result.steps[-1]}; version "
            f"{result.token} is AWSPENDING (resume with --token {result.token})"
        )
    return 0
