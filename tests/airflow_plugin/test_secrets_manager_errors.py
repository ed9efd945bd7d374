"""The backend reports configuration mistakes as such, naming the backend kwarg."""

from __future__ import annotations

import logging
from typing import Any

import pytest


def test_backend_names_the_kwarg(
    moto: Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_plugin.secrets_manager import SecretsManagerBackend

    monkeypatch.delenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", raising=False)
    backend = SecretsManagerBackend(endpoint_url="localhost:4566")
    assert backend.get_conn_value("db") is None
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("endpoint_url" in m and "could not reach" not in m for m in errors)
    with pytest.raises(PermissionError, match="endpoint_url"):
        SecretsManagerBackend(endpoint_url="localhost:4566", strict=True).get_conn_value("db")
