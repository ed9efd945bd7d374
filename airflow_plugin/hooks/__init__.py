"""Airflow hooks that read AWS Secrets Manager and survive password rotation.

Imported lazily so that ``import airflow_plugin.hooks`` does not pull in every provider.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "SecretsManagerHook": "airflow_plugin.hooks.secrets_manager",
    "PostgresSecretsHook": "airflow_plugin.hooks.postgres",
    "MySqlSecretsHook": "airflow_plugin.hooks.mysql",
    "RedshiftSecretsHook": "airflow_plugin.hooks.redshift",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(name)
    return getattr(importlib.import_module(module), name)
