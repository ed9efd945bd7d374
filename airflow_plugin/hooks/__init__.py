"""Airflow hooks that read AWS Secrets Manager and survive password rotation.

Imported lazily so that ``import airflow_plugin.hooks`` does not pull in every provider.
"""

from __future__ import annotations

from typing import Any

from airflow_plugin import _lazy

_EXPORTS = {
    "SecretsManagerHook": "airflow_plugin.hooks.secrets_manager",
    "PostgresSecretsHook": "airflow_plugin.hooks.postgres",
    "MySqlSecretsHook": "airflow_plugin.hooks.mysql",
    "RedshiftSecretsHook": "airflow_plugin.hooks.redshift",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    return _lazy.load(_EXPORTS, name)
