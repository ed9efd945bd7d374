"""``pipeline-secrets build-lambda --output DIR``: the rotation Lambda's zip.

Build pipeline-secrets-rotation-lambda.zip: pipeline_secrets plus psycopg2-binary
(manylinux wheel) and pymysql, installed for the Lambda platform. Handler:
pipeline_secrets.rotation.lambda_handler.
"""

from __future__ import annotations

import argparse
import sys

from pipeline_secrets.tools.cli import _tooling as tooling

COMMAND = "build-lambda"
HELP = "build the rotation Lambda's deployment zip (code + database drivers)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", required=True, metavar="DIR", help="directory for the zip")
    parser.add_argument("--python-version", default="3.11", help="Lambda runtime (default 3.11)")
    parser.add_argument("--architecture", choices=("x86_64", "arm64"), default="x86_64")
    parser.add_argument(
        "--ca-bundle", metavar="PEM", help="CA bundle to ship (e.g. the RDS global bundle)"
    )
    tooling.add_repeatable(
        parser,
        "--driver",
        "pip requirement to bundle instead of the defaults (repeatable)",
        metavar="SPEC",
    )


def run(args: argparse.Namespace) -> int:
    import subprocess

    from pipeline_secrets.rotation.package import DEFAULT_DRIVERS, HANDLER, build_lambda_zip

    try:
        path = build_lambda_zip(
            args.output,
            python_version=args.python_version,
            architecture=args.architecture,
            drivers=tuple(args.driver) if args.driver else DEFAULT_DRIVERS,
            ca_bundle=args.ca_bundle,
        )
    except (subprocess.CalledProcessError, OSError, ValueError) as exc:
        print(f"error: could not build the Lambda zip: {exc}", file=sys.stderr)
        return 1
    print(f"{path} (handler: {HANDLER})")
    return 0
