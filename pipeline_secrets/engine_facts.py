"""What we know about each database engine: names, ports, drivers, URL formats."""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class EngineInfo:
    name: str  # canonical engine name
    default_port: int
    default_dbname: str | None
    airflow_conn_type: str
    sqlalchemy_dialect: str  # dialect+driver used by default
    jdbc_scheme: str
    jdbc_driver: str
    family: str  # "postgres", "mysql", "oracle", "sqlserver"


_MYSQL = EngineInfo(
    "mysql",
    3306,
    None,
    "mysql",
    "mysql+pymysql",
    "jdbc:mysql",
    "com.mysql.cj.jdbc.Driver",
    "mysql",
)

ENGINES: dict[str, EngineInfo] = {
    "postgres": EngineInfo(
        "postgres",
        5432,
        "postgres",
        "postgres",
        "postgresql+psycopg2",
        "jdbc:postgresql",
        "org.postgresql.Driver",
        "postgres",
    ),
    "redshift": EngineInfo(
        "redshift",
        5439,
        "dev",
        "redshift",
        "redshift+redshift_connector",
        "jdbc:redshift",
        "com.amazon.redshift.jdbc42.Driver",
        "postgres",
    ),
    "mysql": _MYSQL,
    # Glue reaches MariaDB through the MySQL driver and URL; see jdbc.py for the
    # MariaDB Connector/J alternative.
    "mariadb": replace(_MYSQL, name="mariadb"),
    "oracle": EngineInfo(
        "oracle",
        1521,
        "ORCL",
        "oracle",
        "oracle+oracledb",
        "jdbc:oracle:thin",
        "oracle.jdbc.OracleDriver",
        "oracle",
    ),
    "sqlserver": EngineInfo(
        "sqlserver",
        1433,
        None,
        "mssql",
        "mssql+pymssql",
        "jdbc:sqlserver",
        "com.microsoft.sqlserver.jdbc.SQLServerDriver",
        "sqlserver",
    ),
}

# Spellings found in rotation secrets, Airflow conn_types and URL schemes.
_ALIASES: dict[str, str] = {
    "postgres": "postgres",
    "postgresql": "postgres",
    "aurora-postgresql": "postgres",
    "aurora_postgresql": "postgres",
    "psql": "postgres",
    "pg": "postgres",
    "redshift": "redshift",
    "redshift-serverless": "redshift",
    "mysql": "mysql",
    "aurora-mysql": "mysql",
    "aurora": "mysql",  # Aurora MySQL 1.x secrets say "aurora"
    "mariadb": "mariadb",
    "oracle": "oracle",
    "oracle-ee": "oracle",
    "oracle-se2": "oracle",
    "oracle-ee-cdb": "oracle",
    "oracle-se2-cdb": "oracle",
    "sqlserver": "sqlserver",
    "sqlserver-ee": "sqlserver",
    "sqlserver-se": "sqlserver",
    "sqlserver-ex": "sqlserver",
    "sqlserver-web": "sqlserver",
    "mssql": "sqlserver",
}


def canonical_engine(raw: str | None) -> str | None:
    """The canonical engine name for a spelling, or None if unknown.

    URL schemes with a driver part (``postgresql+psycopg2``) are accepted.
    """
    if raw is None:
        return None
    key = str(raw).strip().lower().split("+", 1)[0]
    return _ALIASES.get(key)


def engine_info(engine: str) -> EngineInfo:
    name = canonical_engine(engine)
    if name is None:
        raise KeyError(engine)
    return ENGINES[name]
