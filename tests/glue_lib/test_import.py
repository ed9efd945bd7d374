"""Importing glue_lib loads only the core, boto3 and the standard library."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = (
    "pyspark",
    "py4j",
    "awsglue",
    "psycopg2",
    "psycopg",
    "pymysql",
    "mysql",
    "redshift_connector",
    "oracledb",
    "pymssql",
    "sqlalchemy",
    "airflow",
    "airflow_plugin",
)

PROBE = """
import json, sys
before = set(sys.modules)
import glue_lib, glue_lib.context, glue_lib.driver_sql, glue_lib.executor
import glue_lib.jdbc_io, glue_lib.spark_options, glue_lib.partitions, glue_lib.dialects
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def test_import_loads_no_framework_or_driver() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    loaded = json.loads(out.strip().splitlines()[-1])
    tops = {name.split(".")[0] for name in loaded}
    assert not tops & set(FORBIDDEN), sorted(tops & set(FORBIDDEN))
    assert "glue_lib" in tops and "pipeline_secrets" in tops
    third_party = {t for t in tops - set(sys.stdlib_module_names) if not t.startswith("__")} - {
        "glue_lib",
        "pipeline_secrets",
    }  # __mp_main__ is multiprocessing's alias
    aws_stack = {"boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six"}
    assert third_party <= aws_stack | {"_cffi_backend", "certifi", "charset_normalizer", "idna"}, (
        sorted(third_party - aws_stack)
    )
