"""JDBC URLs, driver classes and properties, as each vendor documents them.

* PostgreSQL: ``jdbc:postgresql://host:port/db``, ``org.postgresql.Driver``
* Redshift: ``jdbc:redshift://host:port/db``, ``com.amazon.redshift.jdbc42.Driver``
* MySQL (and MariaDB, as Glue does it): ``jdbc:mysql://host:port/db``,
  ``com.mysql.cj.jdbc.Driver``
* MariaDB Connector/J (``flavor="mariadb-connector"``): ``jdbc:mariadb://host:port/db``,
  ``org.mariadb.jdbc.Driver``. Note that Spark picks its dialect from the URL
  prefix and has none for ``jdbc:mariadb:``; ``jdbc:mysql:`` with
  ``permitMysqlScheme`` keeps Spark's MySQL dialect (``flavor="mariadb-as-mysql"``).
  Connector/J 3.x reads that flag from the URL only (2.x ignores it), so it rides in
  the URL, not in the properties.

This module owns the MariaDB flavor (argument, else ``PIPELINE_SECRETS_MARIADB_JDBC_FLAVOR``,
else ``"mysql"``) and where properties go: :meth:`JdbcTarget.java_properties` for
clients that take them apart (Spark, ``DriverManager``), :meth:`JdbcTarget.url_with_properties`
for clients that take a URL only (Glue's ``connection_options``).
* Oracle: ``jdbc:oracle:thin:@//host:port/service``, ``oracle.jdbc.OracleDriver``
* SQL Server: ``jdbc:sqlserver://host:port;databaseName=db``,
  ``com.microsoft.sqlserver.jdbc.SQLServerDriver``
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from urllib.parse import quote

from pipeline_secrets import settings as _settings
from pipeline_secrets.credentials import DatabaseCredentials
from pipeline_secrets.engine_facts import engine_info

MARIADB_DRIVER = "org.mariadb.jdbc.Driver"
MARIADB_FLAVORS = ("mysql", "mariadb-as-mysql", "mariadb-connector")

# Driver properties that make a JDBC batch of INSERTs cheaper without changing what is
# written, by driver class. pgjdbc's ``reWriteBatchedInserts`` sends a batch as
# multi-row INSERTs (one round trip per up to 128 rows instead of one per row); Spark's
# JDBC writer batches (``batchsize``) and does not read the update counts it changes.
# Only drivers whose effect is measured here are listed (bench/bench_spark.py).
BATCH_WRITE_PROPERTIES: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {"org.postgresql.Driver": MappingProxyType({"reWriteBatchedInserts": "true"})}
)


@dataclass(frozen=True)
class JdbcTarget:
    """URL, driver class and connection properties. The repr hides the password."""

    url: str
    driver: str
    user: str
    password: str = field(repr=False)
    properties: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def java_properties(self) -> dict[str, str]:
        """Properties for ``DriverManager.getConnection(url, props)``."""
        return {**self.properties, "user": self.user, "password": self.password}

    def url_with_properties(self) -> str:
        """The URL with the driver properties in it (never user or password), in the
        driver's syntax: ``;k=v`` for SQL Server, ``?k=v&...`` for the others."""
        if not self.properties:
            return self.url
        if self.url.startswith("jdbc:sqlserver:"):
            return self.url + "".join(f";{k}={v}" for k, v in self.properties.items())
        joiner = "&" if "?" in self.url else "?"
        return self.url + joiner + "&".join(f"{k}={v}" for k, v in self.properties.items())


def to_jdbc(creds: DatabaseCredentials, *, flavor: str | None = None) -> JdbcTarget:
    """Render credentials as a JDBC target for the engine they name.

    ``flavor`` only matters for MariaDB: ``"mysql"`` (Glue's way: the MySQL URL and
    driver), ``"mariadb-as-mysql"`` (MariaDB Connector/J with a ``jdbc:mysql`` URL), or
    ``"mariadb-connector"`` (``jdbc:mariadb`` URL). Default:
    ``PIPELINE_SECRETS_MARIADB_JDBC_FLAVOR``, else ``"mysql"``.
    """
    creds.require("engine", "host")
    flavor = _settings.resolve("mariadb_jdbc_flavor", flavor, None, str) or "mysql"
    if flavor not in MARIADB_FLAVORS:
        raise ValueError(f"MariaDB JDBC flavor must be one of {', '.join(MARIADB_FLAVORS)}")
    info = engine_info(creds.engine or "")
    host, port = creds.host, creds.effective_port
    db = creds.effective_dbname
    props: dict[str, str] = {}
    ssl = creds.ssl_mode
    if info.family == "postgres":
        url = f"{info.jdbc_scheme}://{host}:{port}/{quote(db or '', safe='')}"
        driver = info.jdbc_driver
        if ssl:
            props["sslmode"] = ssl
            if info.name == "redshift":
                props["ssl"] = "false" if ssl == "disable" else "true"
    elif info.family == "mysql":
        driver = info.jdbc_driver
        scheme = "jdbc:mysql"
        query = ""
        if creds.engine == "mariadb" and flavor in {"mariadb-as-mysql", "mariadb-connector"}:
            driver = MARIADB_DRIVER
            if flavor == "mariadb-connector":
                scheme = "jdbc:mariadb"
            else:
                query = "?permitMysqlScheme"  # Connector/J 3.x reads it from the URL only
        url = f"{scheme}://{host}:{port}/{quote(db or '', safe='')}{query}"
        if ssl:
            if driver == MARIADB_DRIVER:
                props["sslMode"] = {
                    "disable": "disable",
                    "allow": "disable",
                    "prefer": "trust",
                    "require": "trust",
                    "verify-ca": "verify-ca",
                    "verify-full": "verify-full",
                }[ssl]
            else:
                props["sslMode"] = {
                    "disable": "DISABLED",
                    "allow": "PREFERRED",
                    "prefer": "PREFERRED",
                    "require": "REQUIRED",
                    "verify-ca": "VERIFY_CA",
                    "verify-full": "VERIFY_IDENTITY",
                }[ssl]
    elif info.family == "oracle":
        url = f"{info.jdbc_scheme}:@//{host}:{port}/{db or ''}"
        driver = info.jdbc_driver
        if ssl and ssl != "disable":
            url = (
                f"{info.jdbc_scheme}:@(DESCRIPTION=(ADDRESS=(PROTOCOL=TCPS)(HOST={host})"
                f"(PORT={port}))(CONNECT_DATA=(SERVICE_NAME={db or ''})))"
            )
    elif info.family == "sqlserver":
        url = f"{info.jdbc_scheme}://{host}:{port}"
        if db:
            url += f";databaseName={db}"
        driver = info.jdbc_driver
        if ssl:
            props["encrypt"] = "false" if ssl == "disable" else "true"
            props["trustServerCertificate"] = (
                "false" if ssl in {"verify-ca", "verify-full"} else "true"
            )
    else:  # pragma: no cover - every family is handled above
        raise ValueError(f"no JDBC rendering for engine {creds.engine!r}")
    return JdbcTarget(
        url=url,
        driver=driver,
        user=creds.username,
        password=creds.password,
        properties=MappingProxyType(props),
    )
