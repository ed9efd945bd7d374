# ruff: noqa
import sys

from awsglue.context import GlueContext
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext

args = getResolvedOptions(sys.argv, ["JOB_NAME"])
glue = GlueContext(SparkContext.getOrCreate())
spark = glue.spark_session

orders = (
    spark.read.format("jdbc")
    .option("url", "jdbc:postgresql://orders.internal:5432/orders")
    .option("user", "glue_reader")
    .option("password", "Wd2*Hk8sLq5m")
    .option("dbtable", "public.orders")
    .load()
)
customers = spark.read.jdbc(
    "jdbc:mysql://crm.internal:3306/crm?user=glue&password=Pn9~Ft4rXc7b&useSSL=true", "customers"
)
redshift_options = {
    "url": "jdbc:redshift://dw.abc123.eu-west-1.redshift.amazonaws.com:5439/dev",
    "user": "glue_writer",
    "password": "Jq4%Ns8vBw3y",
    "redshiftTmpDir": "s3://etl-temp/redshift/",
}
mongo_uri = "mongodb+srv://analytics:Rx5/Tm9kGp2w@cluster0.mongo.internal/app"
glue.write_dynamic_frame.from_options(
    frame=None, connection_type="redshift", connection_options=redshift_options
)
