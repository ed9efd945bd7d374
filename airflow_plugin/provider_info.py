"""Airflow provider registration (filled in by the backend work)."""

from __future__ import annotations

from typing import Any


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "pipeline-secrets",
        "name": "Pipeline Secrets",
        "description": "AWS Secrets Manager secrets backend and rotation-aware hooks.",
    }
