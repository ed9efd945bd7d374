"""The ``pipeline-secrets`` command. Each subcommand lives in its own module here and
declares ``COMMAND`` (its name), ``HELP`` (its line in ``--help``), its docstring (the
subcommand's description), ``add_arguments(parser)`` and ``run(args) -> exit code``;
a module that is absent is simply not offered."""

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
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(f"pipeline_secrets.tools.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"pipeline_secrets.tools.cli.{name}":
                continue
            raise
        sub = subparsers.add_parser(
            module.COMMAND,
            help=module.HELP,
            description=module.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(sub)
        sub.set_defaults(handler=module.run)
    _plain_help(parser)
    return parser


def _version() -> str:
    from pipeline_secrets import __version__

    return str(__version__)


def _plain(text: str | None) -> str | None:
    """Help shown in a terminal: the docstrings' reST ``literals`` without the backticks."""
    return None if text is None else text.replace("``", "")


def _plain_help(parser: argparse.ArgumentParser) -> None:
    """Strip reST markup from every description and option help, subcommands included
    (their descriptions are module docstrings)."""
    parser.description = _plain(parser.description)
    parser.epilog = _plain(parser.epilog)
    for action in parser._actions:
        if isinstance(action.help, str):
            action.help = _plain(action.help)
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                choice.help = _plain(choice.help)
            for sub in set(action.choices.values()):
                _plain_help(sub)


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
