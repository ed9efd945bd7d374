"""Where glue_lib's log lines go: Python ``logging``, and Glue's job log in a Glue job.

A Glue job configures no Python logging, so INFO lines from the ``glue_lib`` logger
would be dropped; the job's driver log stream is fed by Glue's own log4j logger
(``GlueLogger``, what ``glueContext.get_logger()`` returns). In a Glue job (the
``awsglue`` package loaded and a SparkContext running) the ``glue_lib`` logger gets,
once, a handler that forwards to ``GlueLogger`` and a level of INFO if it had none.
Elsewhere nothing is configured: the application's logging decides.

Only messages that carry no secret values are logged here (ids, counts, seconds).
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from typing import Any

LOGGER_NAME = "glue_lib"


class GlueLoggerHandler(logging.Handler):
    """Forwards records to a Glue (log4j) logger: ``info``/``warn``/``error``."""

    def __init__(self, glue_logger: Any) -> None:
        super().__init__(logging.INFO)
        self.glue_logger = glue_logger

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
            if record.levelno >= logging.ERROR:
                self.glue_logger.error(text)
            elif record.levelno >= logging.WARNING:
                self.glue_logger.warn(text)
            else:
                self.glue_logger.info(text)
        except Exception:  # logging must never break the job
            self.handleError(record)


def _glue_logger() -> Any | None:
    """Glue's log4j logger when running inside a Glue job, else None."""
    if "awsglue" not in sys.modules:
        return None
    try:
        from pyspark import SparkContext

        sc = SparkContext._active_spark_context
        if sc is None:
            return None
        jvm: Any = sc._jvm
        return jvm.GlueLogger()
    except Exception:
        return None


def job_logger(name: str) -> logging.Logger:
    """``logging.getLogger(name)`` (a child of ``glue_lib``), routed to Glue's job log
    when running in Glue."""
    root = logging.getLogger(LOGGER_NAME)
    if not any(isinstance(h, GlueLoggerHandler) for h in root.handlers):
        glue = _glue_logger()
        if glue is not None:
            root.addHandler(GlueLoggerHandler(glue))
            if root.level == logging.NOTSET:
                root.setLevel(logging.INFO)
    return logging.getLogger(name)


@dataclass(frozen=True)
class JdbcSummary:
    """One line per read/write: what happened, never a value."""

    operation: str  # "read" or "write"
    secret_id: str
    target: str
    rows: int | None
    partitions: int | None
    attempts: int
    refreshes: int | None
    seconds: float

    def line(self) -> str:
        rows = "?" if self.rows is None else f"{self.rows}"
        parts = "?" if self.partitions is None else f"{self.partitions}"
        refreshes = "?" if self.refreshes is None else f"{self.refreshes}"
        return (
            f"JDBC {self.operation} {self.target} (secret {self.secret_id!r}): rows={rows} "
            f"partitions={parts} attempts={self.attempts} refreshes={refreshes} "
            f"seconds={self.seconds:.2f}"
        )


def log_summary(summary: JdbcSummary) -> None:
    job_logger("glue_lib.jdbc_io").info("%s", summary.line())


def log_refresh(operation: str, secret_id: str, version_id: str | None) -> None:
    """A WARNING per credential refresh: the job goes on with another secret version."""
    job_logger("glue_lib.jdbc_io").warning(
        "JDBC %s (secret %r): database refused the credentials; retrying with version %s",
        operation,
        secret_id,
        version_id or "?",
    )


def summary_wanted() -> bool:
    """Whether the summary line would be printed: its row count costs a few Py4J calls,
    made only then."""
    return job_logger("glue_lib.jdbc_io").isEnabledFor(logging.INFO)


def sql_execution_count(spark: Any) -> int | None:
    """How many SQL executions this session has run (a mark for :func:`jdbc_rows_read`)."""
    try:
        return int(spark._jsparkSession.sharedState().statusStore().executionsCount())
    except Exception:
        return None


def jdbc_rows_read(spark: Any, since: int | None) -> int | None:
    """Rows output by JDBC scans in the SQL executions run after mark ``since``, from
    Spark's SQL status store (the "number of output rows" metric of each ``Scan
    JDBCRelation`` node); None when Spark does not say."""
    if since is None:
        return None
    try:
        store = spark._jsparkSession.sharedState().statusStore()
        executions = store.executionsList(since, 1000).iterator()
        total: int | None = None
        while executions.hasNext():
            execution_id = executions.next().executionId()
            values = store.executionMetrics(execution_id)
            nodes = store.planGraph(execution_id).allNodes().iterator()
            while nodes.hasNext():
                node = nodes.next()
                if "JDBCRelation" not in node.name():
                    continue
                metrics = node.metrics().iterator()
                while metrics.hasNext():
                    metric = metrics.next()
                    if metric.name() != "number of output rows":
                        continue
                    text = values.get(metric.accumulatorId())
                    if text.isDefined():
                        total = (total or 0) + int(str(text.get()).replace(",", ""))
        return total
    except Exception:
        return None
