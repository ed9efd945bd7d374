"""Airflow provider registration (entry point ``apache_airflow_provider``)."""

from __future__ import annotations

from typing import Any

try:
    from importlib.metadata import PackageNotFoundError, version

    try:
        _VERSION = version("pipeline-secrets")
    except PackageNotFoundError:
        _VERSION = "0.1.0"
except ImportError:  # pragma: no cover
    _VERSION = "0.1.0"


def get_provider_info() -> dict[str, Any]:
    """What ``airflow providers ...`` lists: the backend, the hooks' connection types,
    hooks, operators and sensors (the hook entries live in ``hooks.provider_entries``)."""
    from airflow_plugin.hooks.provider_entries import HOOK_PROVIDER_INFO

    return {
        **HOOK_PROVIDER_INFO,
        "package-name": "pipeline-secrets",
        "name": "Pipeline Secrets",
        "description": (
            "AWS Secrets Manager for data pipelines: a caching, masking drop-in "
            "replacement of the amazon provider's secrets backend, with a host-level "
            "caching agent."
        ),
        "versions": [_VERSION],
        "state": "ready",
        "secrets-backends": ["airflow_plugin.secrets_manager.SecretsManagerBackend"],
    }
