# ruff: noqa
import json
import sys

import boto3
from awsglue.context import GlueContext
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext

args = getResolvedOptions(sys.argv, ["JOB_NAME", "source_secret_id"])
glue = GlueContext(SparkContext.getOrCreate())
spark = glue.spark_session
secret = json.loads(
    boto3.client("secretsmanager").get_secret_value(SecretId=args["source_secret_id"])[
        "SecretString"
    ]
)
orders = (
    spark.read.format("jdbc")
    .option("url", f"jdbc:postgresql://{secret['host']}:5432/orders")
    .option("user", secret["username"])
    .option("password", secret["password"])
    .option("dbtable", "public.orders")
    .load()
)
redshift_options = {
    "url": "jdbc:redshift://dw.abc123.eu-west-1.redshift.amazonaws.com:5439/dev",
    "user": secret["username"],
    "password": secret["password"],
    "secretId": "prod/redshift/glue_writer",
    "redshiftTmpDir": "s3://etl-temp/redshift/",
}
TABLE_HASH = "d41d8cd98f00b204e9800998ecf8427e"
