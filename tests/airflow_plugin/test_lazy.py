"""The lazy exports of ``airflow_plugin.hooks`` and ``airflow_plugin.operators``."""

from __future__ import annotations

import subprocess
import sys

import pytest

import airflow_plugin.hooks
import airflow_plugin.operators


def test_importing_the_packages_imports_no_provider_or_hook_module() -> None:
    code = (
        "import sys, airflow_plugin.hooks, airflow_plugin.operators; "
        "bad = [m for m in sys.modules if m.startswith('airflow.providers') "
        "or m in ('airflow_plugin.hooks.postgres', 'airflow_plugin.operators.rotate')]; "
        "print(bad); sys.exit(bool(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_exports_resolve_to_their_classes() -> None:
    from airflow_plugin.hooks.postgres import PostgresSecretsHook
    from airflow_plugin.operators.rotate import RotateSecretOperator

    assert airflow_plugin.hooks.PostgresSecretsHook is PostgresSecretsHook
    assert airflow_plugin.operators.RotateSecretOperator is RotateSecretOperator
    assert "SecretsManagerHook" in airflow_plugin.hooks.__all__
    assert airflow_plugin.operators.__all__ == ["RotateSecretOperator", "SecretFreshnessSensor"]


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="NoSuchHook"):
        _ = airflow_plugin.hooks.NoSuchHook
