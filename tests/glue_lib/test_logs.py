"""glue_lib's log routing: Glue's job logger inside Glue, plain logging elsewhere."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from glue_lib import logs
from glue_lib.logs import GlueLoggerHandler, JdbcSummary


class FakeGlueLogger:
    """Stands in for ``sc._jvm.GlueLogger()`` (log4j: info/warn/error)."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def info(self, text: str) -> None:
        self.lines.append(("info", text))

    def warn(self, text: str) -> None:
        self.lines.append(("warn", text))

    def error(self, text: str) -> None:
        self.lines.append(("error", text))


@pytest.fixture
def clean_root() -> Iterator[logging.Logger]:
    root = logging.getLogger(logs.LOGGER_NAME)
    saved = (list(root.handlers), root.level)
    root.handlers = [h for h in root.handlers if not isinstance(h, GlueLoggerHandler)]
    root.setLevel(logging.NOTSET)
    yield root
    root.handlers, level = saved
    root.setLevel(level)


SUMMARY = JdbcSummary("read", "prod/db", "items", 40, 3, 2, 1, 1.234)


def test_summary_line_names_every_figure() -> None:
    assert SUMMARY.line() == (
        "JDBC read items (secret 'prod/db'): rows=40 partitions=3 attempts=2 refreshes=1 "
        "seconds=1.23"
    )
    unknown = JdbcSummary("write", "s", "t", None, None, 1, None, 0.5).line()
    assert "rows=? partitions=? attempts=1 refreshes=? seconds=0.50" in unknown


def test_in_glue_lines_reach_glues_logger_at_info_by_default(
    clean_root: logging.Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    glue = FakeGlueLogger()
    monkeypatch.setattr(logs, "_glue_logger", lambda: glue)
    assert logs.summary_wanted()  # INFO is on without any logging configuration
    logs.log_summary(SUMMARY)
    logs.log_refresh("read", "prod/db", "v2")
    logs.job_logger("glue_lib.jdbc_io")  # a second call adds no second handler
    assert sum(isinstance(h, GlueLoggerHandler) for h in clean_root.handlers) == 1
    assert [level for level, _ in glue.lines] == ["info", "warn"]
    assert "rows=40" in glue.lines[0][1] and "version v2" in glue.lines[1][1]


def test_outside_glue_nothing_is_configured(
    clean_root: logging.Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(logs, "_glue_logger", lambda: None)
    top = logging.getLogger()
    level = top.level
    top.setLevel(logging.WARNING)
    try:
        assert not logs.summary_wanted()  # the row count (Py4J calls) is skipped then
    finally:
        top.setLevel(level)
    assert not any(isinstance(h, GlueLoggerHandler) for h in clean_root.handlers)
    assert clean_root.level == logging.NOTSET


def test_outside_a_glue_job_no_glue_logger(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.delitem(sys.modules, "awsglue", raising=False)
    assert logs._glue_logger() is None


def test_a_broken_glue_logger_does_not_break_the_job(
    clean_root: logging.Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Broken:
        def info(self, text: str) -> Any:
            raise RuntimeError("py4j gone")

    monkeypatch.setattr(logs, "_glue_logger", lambda: Broken())
    monkeypatch.setattr(logging, "raiseExceptions", False)
    logs.log_summary(SUMMARY)  # no exception
