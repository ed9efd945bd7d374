"""The ``pipeline-secrets`` command. Each subcommand lives in its own module here and
exposes ``register(subparsers)``; a module that is absent is simply not offered."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

SUBCOMMAND_MODULES = (
    "rotate",  # pipeline-secrets rotate SECRET_ID
    "lambda_zip",  # pipeline-secrets build-lambda
    "glue_package",  # pipeline-secrets build-glue
    "audit",  # pipeline-secrets audit
    "scan",  # pipeline-secrets scan PATH...
    "migrate",  # pipeline-secrets migrate
    "agent",  # pipeline-secrets agent
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pipeline-secrets",
        description="AWS Secrets Manager tooling for data pipelines.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(f"pipeline_secrets.tools.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"pipeline_secrets.tools.cli.{name}":
                continue
            raise
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("botocore").setLevel(logging.WARNING)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    return int(handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
