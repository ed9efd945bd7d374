"""jdbc_options and Glue connection_options for every engine, checked against the URL
formats and driver classes the vendors document."""

from __future__ import annotations

import re
from typing import Any

import pytest

from glue_lib import glue_connection_options, jdbc_options
from pipeline_secrets.credentials import parse_db_credentials

# Vendor-documented URL syntax (simplified to the single-host forms we render):
#  PostgreSQL JDBC: jdbc:postgresql://host:port/database
#  MySQL Connector/J: jdbc:mysql://host:port/database
#  MariaDB Connector/J: jdbc:(mysql|mariadb)://host:port/[database][?key=value...]
#  Amazon Redshift JDBC 4.2: jdbc:redshift://endpoint:port/database
#  Oracle JDBC thin (EZConnect): jdbc:oracle:thin:@//host:port/service_name
#  Microsoft JDBC for SQL Server: jdbc:sqlserver://server:port;property=value[;...]
VENDOR = {
    "postgres": (r"jdbc:postgresql://[^:/]+:\d+/\w+", "org.postgresql.Driver"),
    "mysql": (r"jdbc:mysql://[^:/]+:\d+/\w+", "com.mysql.cj.jdbc.Driver"),
    "redshift": (r"jdbc:redshift://[^:/]+:\d+/\w+", "com.amazon.redshift.jdbc42.Driver"),
    "oracle": (r"jdbc:oracle:thin:@//[^:/]+:\d+/\w+", "oracle.jdbc.OracleDriver"),
    "sqlserver": (
        r"jdbc:sqlserver://[^:;]+:\d+(;\w+=[^;]+)+",
        "com.microsoft.sqlserver.jdbc.SQLServerDriver",
    ),
}
HOSTS = {
    "postgres": ("db.abc.us-east-1.rds.amazonaws.com", 5432, "sales"),
    "aurora-postgresql": ("cl.cluster-abc.us-east-1.rds.amazonaws.com", "5432", "sales"),
    "mysql": ("my.abc.us-east-1.rds.amazonaws.com", 3306, "sales"),
    "aurora-mysql": ("cl.cluster-abc.us-east-1.rds.amazonaws.com", 3306, "sales"),
    "mariadb": ("maria.abc.us-east-1.rds.amazonaws.com", 3306, "sales"),
    "redshift": ("wg.123.us-east-1.redshift-serverless.amazonaws.com", 5439, "dev"),
    "oracle": ("ora.abc.us-east-1.rds.amazonaws.com", 1521, "ORCL"),
    "sqlserver": ("ms.abc.us-east-1.rds.amazonaws.com", 1433, "sales"),
}
FAMILY = {
    "postgres": "postgres",
    "aurora-postgresql": "postgres",
    "mysql": "mysql",
    "aurora-mysql": "mysql",
    "mariadb": "mysql",  # Glue's way: the MySQL driver and URL
    "redshift": "redshift",
    "oracle": "oracle",
    "sqlserver": "sqlserver",
}
PASSWORD = "pw-opt-Xy7:/@?&;="


def _creds(engine: str, **extra: Any) -> Any:
    host, port, db = HOSTS[engine]
    doc = {"engine": engine, "host": host, "port": port, "username": "etl", "password": PASSWORD}
    doc["dbname"] = db
    doc.update(extra)
    return parse_db_credentials(doc, secret_id=f"db/{engine}")


@pytest.fixture(autouse=True)
def _register(leak_registry: Any) -> None:
    leak_registry.register(PASSWORD)


@pytest.mark.parametrize("engine", sorted(HOSTS))
def test_jdbc_options_match_vendor_formats(engine: str, monkeypatch: Any) -> None:
    monkeypatch.delenv("PIPELINE_SECRETS_MARIADB_JDBC_FLAVOR", raising=False)
    opts = jdbc_options(credentials=_creds(engine), table="public.orders")
    pattern, driver = VENDOR[FAMILY[engine]]
    assert re.fullmatch(pattern, opts["url"]), opts["url"]
    assert opts["driver"] == driver
    host, port, db = HOSTS[engine]
    assert f"{host}:{port}" in opts["url"] and db in opts["url"]
    assert opts["user"] == "etl" and opts["password"] == PASSWORD
    assert PASSWORD not in opts["url"]
    assert opts["dbtable"] == "public.orders"
    assert PASSWORD not in repr(opts) and PASSWORD not in str(opts)


def test_mariadb_flavors() -> None:
    creds = _creds("mariadb")
    as_mysql = jdbc_options(credentials=creds, table="t", flavor="mariadb-as-mysql")
    # Connector/J 3.x accepts jdbc:mysql: only with permitMysqlScheme in the URL itself.
    assert re.fullmatch(r"jdbc:mysql://[^:/]+:3306/sales\?permitMysqlScheme", as_mysql["url"])
    assert as_mysql["driver"] == "org.mariadb.jdbc.Driver"
    native = jdbc_options(credentials=creds, table="t", flavor="mariadb-connector")
    assert re.fullmatch(r"jdbc:mariadb://[^:/]+:3306/sales", native["url"])


def test_spark_options_and_ssl() -> None:
    opts = jdbc_options(
        credentials=_creds("postgres", ssl="verify-full"),
        query="SELECT 1",
        partition_column="id",
        lower_bound=0,
        upper_bound=100,
        num_partitions=8,
        fetchsize=5000,
        session_init_statement="SET search_path TO sales",
        pushDownPredicate=False,
    )
    assert opts["query"] == "SELECT 1" and "dbtable" not in opts
    assert opts["partitionColumn"] == "id" and opts["numPartitions"] == "8"
    assert opts["lowerBound"] == "0" and opts["upperBound"] == "100"
    assert opts["fetchsize"] == "5000"
    assert opts["sessionInitStatement"] == "SET search_path TO sales"
    assert opts["pushDownPredicate"] == "false"
    assert opts["sslmode"] == "verify-full"
    ms = jdbc_options(credentials=_creds("sqlserver", ssl=True), table="t", batchsize=1000)
    assert ms["encrypt"] == "true" and ms["batchsize"] == "1000"
    my = jdbc_options(credentials=_creds("mysql", ssl="require"), table="t")
    assert my["sslMode"] == "REQUIRED"


def test_option_errors() -> None:
    creds = _creds("postgres")
    with pytest.raises(ValueError, match="not both"):
        jdbc_options(credentials=creds, table="t", query="q")
    with pytest.raises(ValueError, match="comes from the secret"):
        jdbc_options(credentials=creds, table="t", password="x")
    with pytest.raises(ValueError, match="go together"):
        jdbc_options(credentials=creds, table="t", partition_column="id", num_partitions=2)
    with pytest.raises(ValueError, match="secret_id"):
        jdbc_options(table="t")


def test_jdbc_options_from_secret(put_secret: Any) -> None:
    host, port, db = HOSTS["postgres"]
    put_secret(
        "prod/pg",
        {
            "engine": "postgres",
            "host": host,
            "port": str(port),
            "username": "etl",
            "password": PASSWORD,
            "dbname": db,
        },
    )
    opts = jdbc_options("prod/pg", table="t")
    assert opts["url"] == f"jdbc:postgresql://{host}:{port}/{db}"
    # An RDS-managed secret holds only username/password: the rest comes as defaults.
    put_secret("rds!db-123", {"username": "admin", "password": PASSWORD})
    opts = jdbc_options(
        "rds!db-123", table="t", defaults={"engine": "mysql", "host": "h.example", "port": 3306}
    )
    assert opts["url"] == "jdbc:mysql://h.example:3306/"
    assert opts["user"] == "admin"


GLUE_TYPES = {
    "postgres": "postgresql",
    "aurora-postgresql": "postgresql",
    "mysql": "mysql",
    "aurora-mysql": "mysql",
    "mariadb": "mysql",
    "oracle": "oracle",
    "sqlserver": "sqlserver",
}


@pytest.mark.parametrize("engine", sorted(GLUE_TYPES))
def test_glue_connection_options(engine: str) -> None:
    conn = glue_connection_options(credentials=_creds(engine), table="orders", hashfield="id")
    assert conn.connection_type == GLUE_TYPES[engine]
    opts = conn.connection_options
    pattern, _ = VENDOR[FAMILY[engine]]
    assert re.fullmatch(pattern, opts["url"])
    assert opts["dbtable"] == "orders" and opts["hashfield"] == "id"
    assert opts["user"] == "etl" and opts["password"] == PASSWORD
    assert PASSWORD not in repr(conn)
    kwargs = conn.as_kwargs()
    assert kwargs["connection_type"] == GLUE_TYPES[engine]
    query = glue_connection_options(credentials=_creds(engine), query="SELECT 1")
    assert query.connection_options["sampleQuery"] == "SELECT 1"


def test_glue_redshift_options() -> None:
    conn = glue_connection_options(
        credentials=_creds("redshift", ssl="require"),
        table="public.sales",
        redshift_tmp_dir="s3://bucket/tmp/",
        aws_iam_role="arn:aws:iam::123456789012:role/redshift-s3",
    )
    assert conn.connection_type == "redshift"
    opts = conn.connection_options
    assert re.fullmatch(r"jdbc:redshift://[^:/]+:5439/dev\?.*", opts["url"])
    assert "ssl=true" in opts["url"] and "sslmode=require" in opts["url"]
    assert opts["redshiftTmpDir"] == "s3://bucket/tmp/"
    assert opts["aws_iam_role"] == "arn:aws:iam::123456789012:role/redshift-s3"
    with pytest.raises(ValueError, match="redshift_tmp_dir"):
        glue_connection_options(credentials=_creds("redshift"), table="t")
    with pytest.raises(ValueError, match="Redshift only"):
        glue_connection_options(credentials=_creds("postgres"), table="t", aws_iam_role="r")


@pytest.mark.spark
def test_real_drivers_accept_our_urls(spark: Any) -> None:
    """The Debian JDBC drivers themselves accept the URLs we render."""
    jvm = spark.sparkContext._jvm
    pg = jdbc_options(credentials=_creds("postgres", ssl="require"), table="t")
    assert jvm.org.postgresql.Driver().acceptsURL(pg["url"])
    maria = jdbc_options(credentials=_creds("mariadb"), table="t", flavor="mariadb-as-mysql")
    assert jvm.org.mariadb.jdbc.Driver().acceptsURL(maria["url"])
