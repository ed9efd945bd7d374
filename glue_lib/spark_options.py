"""Spark JDBC options and Glue ``connection_options`` from a secret.

Everything here is plain data: no Spark, no Glue, no driver is imported. The returned
mappings hold the password, so they are :class:`SecretOptions` whose repr masks it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pipeline_secrets.credentials import DatabaseCredentials
from pipeline_secrets.engine_facts import engine_info
from pipeline_secrets.jdbc import to_jdbc
from pipeline_secrets.reconnect import Reconnector

# Spark's own names for the options we accept as keyword arguments (snake_case -> Spark).
_SPARK_NAMES = {
    "partition_column": "partitionColumn",
    "lower_bound": "lowerBound",
    "upper_bound": "upperBound",
    "num_partitions": "numPartitions",
    "fetchsize": "fetchsize",
    "fetch_size": "fetchsize",
    "batchsize": "batchsize",
    "batch_size": "batchsize",
    "session_init_statement": "sessionInitStatement",
    "query_timeout": "queryTimeout",
    "isolation_level": "isolationLevel",
    "truncate": "truncate",
    "create_table_options": "createTableOptions",
    "create_table_column_types": "createTableColumnTypes",
    "custom_schema": "customSchema",
    "push_down_predicate": "pushDownPredicate",
    "push_down_aggregate": "pushDownAggregate",
    "push_down_limit": "pushDownLimit",
    "prepare_query": "prepareQuery",
}
_MASKED_KEYS = frozenset({"password"})

# Glue's connection types (create_dynamic_frame.from_options(connection_type=...)).
GLUE_CONNECTION_TYPES = {
    "postgres": "postgresql",
    "redshift": "redshift",
    "mysql": "mysql",
    "mariadb": "mysql",  # Glue reaches MariaDB through its bundled MySQL driver
    "oracle": "oracle",
    "sqlserver": "sqlserver",
}


class SecretOptions(dict[str, str]):
    """A plain ``dict`` of options whose repr and str hide the password."""

    def __repr__(self) -> str:
        shown = {k: ("***" if k.lower() in _MASKED_KEYS else v) for k, v in self.items()}
        return f"SecretOptions({shown!r})"

    __str__ = __repr__


@dataclass(frozen=True)
class GlueConnection:
    """Arguments for ``glueContext.create_dynamic_frame.from_options`` and
    ``write_dynamic_frame.from_options``: ``connection_type`` and ``connection_options``."""

    connection_type: str
    connection_options: SecretOptions = field(repr=False)

    def __repr__(self) -> str:
        return (
            f"GlueConnection(connection_type={self.connection_type!r}, "
            f"connection_options={self.connection_options!r})"
        )

    def as_kwargs(self) -> dict[str, Any]:
        return {
            "connection_type": self.connection_type,
            "connection_options": self.connection_options,
        }


def _credentials(
    given: DatabaseCredentials | None,
    secret_id: str | None,
    reconnector: Reconnector | None,
    defaults: Mapping[str, Any] | None,
) -> DatabaseCredentials:
    """``given``, or the secret's credentials from the shared cache (or ``reconnector``'s)."""
    if given is not None:
        return given
    if reconnector is None:
        from pipeline_secrets.api import default_reconnector

        reconnector = default_reconnector()
    return reconnector.credentials(_need_id(secret_id), defaults=defaults)


def jdbc_options(
    secret_id: str | None = None,
    *,
    table: str | None = None,
    query: str | None = None,
    credentials: DatabaseCredentials | None = None,
    flavor: str | None = None,
    defaults: Mapping[str, Any] | None = None,
    reconnector: Reconnector | None = None,
    **spark_options: Any,
) -> SecretOptions:
    """Options for ``spark.read.format("jdbc").options(**opts)`` / ``df.write``.

    Give exactly one of ``table`` (``dbtable``) and ``query`` (reads only). Keyword
    options may use Spark's names (``partitionColumn``, ``fetchsize``...) or snake
    case (``partition_column``, ``num_partitions``, ``session_init_statement``...);
    values are turned into strings the way Spark wants them. SSL settings of the
    secret come through as driver properties (``sslmode``, ``sslMode``, ``encrypt``).

    ``flavor`` selects the MariaDB rendering (:func:`pipeline_secrets.jdbc.to_jdbc` owns
    it and its default, ``PIPELINE_SECRETS_MARIADB_JDBC_FLAVOR``, else Glue's way: the
    MySQL driver). With MariaDB Connector/J on the class path use ``"mariadb-as-mysql"``:
    the ``jdbc:mysql:`` URL keeps Spark's MySQL dialect.
    """
    if table is not None and query is not None:
        raise ValueError("give either table= or query=, not both")
    creds = _credentials(credentials, secret_id, reconnector, defaults)
    target = to_jdbc(creds, flavor=flavor)
    opts = SecretOptions()
    opts["url"] = target.url
    opts["driver"] = target.driver
    for key, value in target.properties.items():
        opts[key] = value
    opts["user"] = target.user
    opts["password"] = target.password
    if table is not None:
        opts["dbtable"] = table
    if query is not None:
        opts["query"] = query
    for key, value in spark_options.items():
        if value is None:
            continue
        name = _SPARK_NAMES.get(key, key)
        if name in {"user", "password", "url"}:
            raise ValueError(f"{name!r} comes from the secret; do not pass it")
        opts[name] = _spark_value(value)
    partition_keys = {"partitionColumn", "lowerBound", "upperBound"}
    given = partition_keys & opts.keys()
    if given and given != partition_keys:
        raise ValueError("partitionColumn, lowerBound and upperBound go together")
    if given and "numPartitions" not in opts:
        raise ValueError("partitionColumn needs numPartitions")
    return opts


def glue_connection_options(
    secret_id: str | None = None,
    *,
    table: str | None = None,
    query: str | None = None,
    credentials: DatabaseCredentials | None = None,
    defaults: Mapping[str, Any] | None = None,
    reconnector: Reconnector | None = None,
    redshift_tmp_dir: str | None = None,
    aws_iam_role: str | None = None,
    **glue_options: Any,
) -> GlueConnection:
    """``connection_type`` and ``connection_options`` for Glue's ``from_options``.

    JDBC engines get ``url``, ``user``, ``password``, ``dbtable`` (or ``sampleQuery``
    for a query) and the driver's SSL properties; MariaDB goes through Glue's MySQL
    driver. Redshift also takes ``redshiftTmpDir`` (required by Glue for Redshift) and
    ``aws_iam_role``; its query option is ``query``. Extra keyword options
    (``hashfield``, ``hashpartitions``, ``bulkSize``, ``customJdbcDriverS3Path``...)
    are passed through as strings.
    """
    if table is not None and query is not None:
        raise ValueError("give either table= or query=, not both")
    creds = _credentials(credentials, secret_id, reconnector, defaults)
    creds.require("engine")
    engine = engine_info(creds.engine or "").name
    # Glue reaches MariaDB through its bundled MySQL driver, whatever the environment
    # says for Spark; it passes no separate driver properties: they ride in the URL.
    target = to_jdbc(creds, flavor="mysql")
    opts = SecretOptions()
    opts["url"] = target.url_with_properties()
    opts["user"] = target.user
    opts["password"] = target.password
    if table is not None:
        opts["dbtable"] = table
    if engine == "redshift":
        if query is not None:
            opts["query"] = query
        if redshift_tmp_dir is None:
            raise ValueError("Redshift through Glue needs redshift_tmp_dir (an S3 path)")
        opts["redshiftTmpDir"] = redshift_tmp_dir
        if aws_iam_role is not None:
            opts["aws_iam_role"] = aws_iam_role
    else:
        if redshift_tmp_dir is not None or aws_iam_role is not None:
            raise ValueError("redshift_tmp_dir and aws_iam_role are for Redshift only")
        if query is not None:
            opts["sampleQuery"] = query
    for key, value in glue_options.items():
        if value is None:
            continue
        if key in {"user", "password", "url"}:
            raise ValueError(f"{key!r} comes from the secret; do not pass it")
        opts[key] = _spark_value(value)
    return GlueConnection(GLUE_CONNECTION_TYPES[engine], opts)


def _need_id(secret_id: str | None) -> str:
    if not secret_id:
        raise ValueError("give a secret_id (or credentials=)")
    return secret_id


def _spark_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
