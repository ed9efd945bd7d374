"""Shared bits of the subcommands: their parser, AWS options, progress, exit codes."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from pipeline_secrets import settings
from pipeline_secrets.client import ClientSettings

EXIT_OK = 0
EXIT_FINDINGS = 1  # the command ran and found something to fix (or skipped work)
EXIT_USAGE = 2  # bad arguments or input files (argparse uses 2 as well)
EXIT_AWS = 3  # Secrets Manager could not be used (access denied, unreachable, ...)


def add_repeatable(
    parser: argparse.ArgumentParser, flag: str, help: str, *, metavar: str | None = None
) -> None:
    """A flag that may be given several times: its value is the list given ([] if none)."""
    parser.add_argument(flag, action="append", default=[], metavar=metavar, help=help)


def add_aws_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("AWS")
    group.add_argument("--region", help="AWS region (default: boto3's)")
    group.add_argument("--endpoint-url", help="Secrets Manager endpoint (tests, VPC endpoints)")
    group.add_argument("--profile", help="AWS profile name")
    group.add_argument("--role-arn", action="append", help="role to assume (repeat for a chain)")


def client_settings(args: argparse.Namespace) -> ClientSettings:
    """The AWS flags through the core's one mapping (``pipeline_secrets.settings``)."""
    return settings.client_settings(vars(args))


class Progress:
    """``[3/12] doing thing`` lines on stderr (silent with ``quiet``)."""

    def __init__(self, quiet: bool = False, stream: TextIO | None = None) -> None:
        self.quiet = quiet
        self.stream = stream or sys.stderr

    def step(self, index: int, total: int, what: str) -> None:
        if not self.quiet:
            print(f"[{index}/{total}] {what}", file=self.stream, flush=True)

    def note(self, message: str) -> None:
        if not self.quiet:
            print(message, file=self.stream, flush=True)
