"""``pipeline-secrets rotate SECRET_ID``: rotate a secret now, from this machine."""

from __future__ import annotations

import argparse
import sys
from typing import Any

STOP_STEPS = ("createSecret", "setSecret", "testSecret")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "rotate",
        help="rotate a database secret now (runs the four rotation steps locally)",
        description=(
            "Rotate a database secret: createSecret, setSecret, testSecret, finishSecret, "
            "run from this machine against AWS or any endpoint (a moto server). An "
            "interrupted rotation is resumed. RotationEnabled is not required."
        ),
    )
    parser.add_argument("secret_id", metavar="SECRET_ID")
    parser.add_argument("--endpoint-url", help="Secrets Manager endpoint (e.g. a moto server)")
    parser.add_argument("--region", help="AWS region")
    parser.add_argument("--token", help="ClientRequestToken: resume or name this rotation")
    parser.add_argument(
        "--stop-after",
        choices=STOP_STEPS,
        help="stop after this step, leaving the rotation window open",
    )
    pw = parser.add_argument_group("new password")
    pw.add_argument("--password-length", type=int)
    pw.add_argument("--exclude-characters", help="characters never used (default: per engine)")
    for flag in ("numbers", "punctuation", "uppercase", "lowercase"):
        pw.add_argument(f"--exclude-{flag}", action="store_true", default=None)
    pw.add_argument("--include-space", action="store_true", default=None)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from pipeline_secrets.rotation import PasswordOptions, RotationError, rotate_secret
    from pipeline_secrets.rotation.runner import default_client

    try:
        options = PasswordOptions.from_env()
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
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
    options = replace(options, **changes)
    try:
        client = default_client(endpoint_url=args.endpoint_url, region_name=args.region)
        result = rotate_secret(
            args.secret_id,
            client=client,
            token=args.token,
            stop_after=args.stop_after,
            password_options=options,
        )
    except RotationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if result.finished:
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
