"""Airflow operators and sensors for Secrets Manager rotation (imported lazily)."""

from __future__ import annotations

from typing import Any

from airflow_plugin import _lazy

_EXPORTS = {
    "RotateSecretOperator": "airflow_plugin.operators.rotate",
    "SecretFreshnessSensor": "airflow_plugin.operators.freshness",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    return _lazy.load(_EXPORTS, name)
