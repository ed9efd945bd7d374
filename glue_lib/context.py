"""Where a job runs: a GlueContext when ``awsglue`` is there, a plain SparkSession
otherwise (EMR, local), and the job's arguments (``getResolvedOptions``).

Job arguments may be logged by Glue: pass secret *ids* there, never secret values.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

_SECRETISH = re.compile(r"pass(word)?|pwd|token|secret_?value|api_?key|credential", re.I)


def glue_available() -> bool:
    try:
        import awsglue.context  # noqa: F401
    except ImportError:
        return False
    return True


def job_arguments(
    names: Sequence[str], argv: Sequence[str] | None = None, *, optional: Sequence[str] = ()
) -> dict[str, str]:
    """The values of ``--NAME value`` job arguments.

    Uses Glue's ``getResolvedOptions`` when available, else the same rules in plain
    Python: every name in ``names`` is required; ``optional`` names are returned when
    present. Names that look like they carry a password are refused.
    """
    argv = list(sys.argv if argv is None else argv)
    for name in (*names, *optional):
        if _SECRETISH.search(name) and not name.lower().endswith(("_id", "_arn", "_name")):
            raise ValueError(
                f"job argument {name!r} looks like a secret value: job arguments can be "
                "logged; pass a secret id (e.g. --db_secret_id) and let the job fetch it"
            )
    present = [
        n for n in optional if f"--{n}" in argv or any(a.startswith(f"--{n}=") for a in argv)
    ]
    wanted = [*names, *present]
    try:
        from awsglue.utils import getResolvedOptions
    except ImportError:
        return _resolve(argv, wanted)
    return dict(getResolvedOptions(argv, wanted))


def _resolve(argv: Sequence[str], names: Sequence[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("--"):
            key, eq, value = arg[2:].partition("=")
            if not eq and i + 1 < len(argv):
                value = argv[i + 1]
                i += 1
            found[key] = value
        i += 1
    missing = [n for n in names if n not in found]
    if missing:
        raise ValueError(f"missing job argument(s): {', '.join('--' + n for n in missing)}")
    return {n: found[n] for n in names}


@dataclass
class JobContext:
    """The Spark session, the GlueContext (None outside Glue), the job arguments and
    the Glue ``Job`` (None outside Glue or when not initialised)."""

    spark: Any
    glue_context: Any = None
    args: dict[str, str] = field(default_factory=dict)
    job: Any = None

    def commit(self) -> None:
        if self.job is not None:
            self.job.commit()


def spark_session(app_name: str | None = None, conf: Mapping[str, str] | None = None) -> Any:
    """The active SparkSession, or a new one (``getOrCreate``)."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder
    if app_name:
        builder = builder.appName(app_name)
    for key, value in (conf or {}).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def init_job(
    arg_names: Sequence[str] = (),
    argv: Sequence[str] | None = None,
    *,
    optional_args: Sequence[str] = (),
    app_name: str | None = None,
) -> JobContext:
    """Start a job: GlueContext + ``Job.init`` on Glue (``JOB_NAME`` is added to the
    arguments), a plain SparkSession elsewhere."""
    if glue_available():
        from awsglue.context import GlueContext
        from awsglue.job import Job
        from pyspark.context import SparkContext

        args = job_arguments(["JOB_NAME", *arg_names], argv, optional=optional_args)
        glue_context = GlueContext(SparkContext.getOrCreate())
        job = Job(glue_context)
        job.init(args["JOB_NAME"], args)
        return JobContext(glue_context.spark_session, glue_context, args, job)
    args = job_arguments(arg_names, argv, optional=optional_args)
    log.info("awsglue not found: running on a plain SparkSession")
    return JobContext(spark_session(app_name), None, args, None)
