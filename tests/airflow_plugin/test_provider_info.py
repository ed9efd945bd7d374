"""Provider registration: entry point, provider info, and what Airflow's CLI shows."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from airflow_plugin.provider_info import get_provider_info


def test_provider_info() -> None:
    info = get_provider_info()
    assert info["package-name"] == "pipeline-secrets"
    assert info["secrets-backends"] == ["airflow_plugin.secrets_manager.SecretsManagerBackend"]
    assert info["name"] and info["description"] and info["versions"]
    conn_types = {c["connection-type"] for c in info["connection-types"]}
    assert {
        "pipeline_secrets_postgres",
        "pipeline_secrets_mysql",
        "pipeline_secrets_aws",
        "pipeline_secrets_redshift",
    } <= conn_types
    assert "airflow_plugin.hooks.postgres.PostgresSecretsHook" in info["hook-class-names"]


def test_entry_point_is_registered() -> None:
    (ep,) = [
        e
        for e in entry_points(group="apache_airflow_provider")
        if e.value.startswith("airflow_plugin.")
    ]
    assert ep.value == "airflow_plugin.provider_info:get_provider_info"


@pytest.mark.slow
def test_airflow_providers_commands_show_it(tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")},
        "AIRFLOW_HOME": str(tmp_path),
        "PYTHONPATH": os.getcwd(),
    }
    airflow = str(Path(sys.executable).with_name("airflow"))
    listed = subprocess.run(
        [airflow, "providers", "list"], env=env, capture_output=True, text=True, timeout=180
    )
    assert "pipeline-secrets" in listed.stdout
    backends = subprocess.run(
        [airflow, "providers", "secrets"], env=env, capture_output=True, text=True, timeout=180
    )
    assert "airflow_plugin.secrets_manager.SecretsManagerBackend" in backends.stdout
