"""Database engines that can be rotated, by canonical engine name."""

from __future__ import annotations

from pipeline_secrets.rotation.engines.base import RotationEngine
from pipeline_secrets.rotation.engines.mysql import MariaDBEngine, MySQLEngine
from pipeline_secrets.rotation.engines.postgres import PostgresEngine
from pipeline_secrets.rotation.engines.redshift import RedshiftEngine

ENGINES: dict[str, RotationEngine] = {
    "postgres": PostgresEngine(),  # also aurora-postgresql
    "mysql": MySQLEngine(),  # also aurora-mysql, aurora
    "mariadb": MariaDBEngine(),
    "redshift": RedshiftEngine(),  # also redshift-serverless
}


def engine_for(name: str) -> RotationEngine:
    """The engine for a canonical engine name (see :func:`pipeline_secrets.engine_facts`)."""
    return ENGINES[name]


__all__ = ["ENGINES", "RotationEngine", "engine_for"]
