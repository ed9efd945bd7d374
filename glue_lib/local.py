"""Run a Glue script with ``python`` on a local Spark (tests, demos, the example DAG's
local mode). Imports nothing heavy; Spark starts in the child process.

``PYSPARK_SUBMIT_ARGS`` gives the child a ``local[2]`` master and the JDBC drivers:
``PIPELINE_SECRETS_SPARK_JARS`` (comma-separated paths), else Debian's PostgreSQL and
MariaDB jars when present.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

DEFAULT_JARS = ("/usr/share/java/postgresql.jar", "/usr/share/java/mariadb-java-client.jar")


def local_spark_env(
    base: Mapping[str, str] | None = None, *, master: str = "local[2]"
) -> dict[str, str]:
    """``base`` (default: this process's environment) plus what local Spark needs."""
    env = dict(os.environ if base is None else base)
    jars = env.get("PIPELINE_SECRETS_SPARK_JARS") or ",".join(
        j for j in DEFAULT_JARS if os.path.exists(j)
    )
    submit = ["--master", master, "--driver-memory", "1g"]
    for conf in (
        "spark.ui.enabled=false",
        "spark.ui.showConsoleProgress=false",
        "spark.sql.shuffle.partitions=2",
        "spark.sql.adaptive.enabled=false",
    ):
        submit += ["--conf", conf]
    if jars:
        submit += ["--jars", jars]
    env.setdefault("PYSPARK_SUBMIT_ARGS", " ".join([*submit, "pyspark-shell"]))
    env.setdefault("PYSPARK_PYTHON", sys.executable)
    env.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    return env


def script_command(script: str | Path, arguments: Mapping[str, str]) -> list[str]:
    """``python script --name=value ...`` (names given with or without ``--``)."""
    argv = [sys.executable, str(script)]
    for name, value in arguments.items():
        argv.append(f"--{name.lstrip('-')}={value}")
    return argv


def run_script(
    script: str | Path,
    arguments: Mapping[str, str],
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = 3600,
) -> subprocess.CompletedProcess[str]:
    """Run a Glue script on local Spark and wait; output captured, never raised."""
    return subprocess.run(
        script_command(script, arguments),
        env=local_spark_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
