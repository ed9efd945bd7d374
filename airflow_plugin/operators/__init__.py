"""Airflow operators and sensors for Secrets Manager rotation (imported lazily)."""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "RotateSecretOperator": "airflow_plugin.operators.rotate",
    "SecretFreshnessSensor": "airflow_plugin.operators.freshness",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(name)
    return getattr(importlib.import_module(module), name)
