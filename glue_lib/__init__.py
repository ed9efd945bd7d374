"""glue_lib: JDBC from AWS Secrets Manager secrets for Glue and Spark jobs, surviving
credential rotation mid-job.

Importing it loads only the pipeline_secrets core, boto3 and the standard library;
pyspark, awsglue and database drivers are imported when a function needs them.
"""

from glue_lib.context import JobContext, init_job, job_arguments, spark_session
from glue_lib.driver_sql import dbapi_connect, run_sql, sqlalchemy_engine, transaction
from glue_lib.executor import SecretAccess, executor_reconnector
from glue_lib.jdbc_io import WriteResult, read_jdbc, write_jdbc
from glue_lib.partitions import PartitionWriter, partition_ranges, read_partitions
from glue_lib.spark_options import (
    GlueConnection,
    SecretOptions,
    glue_connection_options,
    jdbc_options,
)

__all__ = [
    "GlueConnection",
    "JobContext",
    "PartitionWriter",
    "SecretAccess",
    "SecretOptions",
    "WriteResult",
    "dbapi_connect",
    "executor_reconnector",
    "glue_connection_options",
    "init_job",
    "jdbc_options",
    "job_arguments",
    "partition_ranges",
    "read_jdbc",
    "read_partitions",
    "run_sql",
    "spark_session",
    "sqlalchemy_engine",
    "transaction",
    "write_jdbc",
]
