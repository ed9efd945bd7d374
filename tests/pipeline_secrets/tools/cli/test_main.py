"""The ``pipeline-secrets`` command itself: --version and readable help."""

from __future__ import annotations

import pytest

from pipeline_secrets import __version__
from pipeline_secrets.tools.cli import build_parser, main


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"pipeline-secrets {__version__}"


def test_no_help_text_shows_rest_backticks() -> None:
    parser = build_parser()
    texts = [parser.format_help()]
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    assert sub.choices, "no subcommands registered"
    for command in sub.choices.values():
        texts.append(command.format_help())
    for text in texts:
        assert "``" not in text, text[:400]
    assert "build-glue" in sub.choices
    assert "pipeline-secrets build-glue --output DIR" in sub.choices["build-glue"].format_help()
