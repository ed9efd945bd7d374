"""Fixtures shared by the hook and operator tests (imported by their conftest files)."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from typing import Any

import pytest

# Airflow reads its home at import: keep it away from ~/airflow.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="airflow-home-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")


@pytest.fixture
def core(moto: Any) -> Any:
    """A fresh default core cache pointed at the moto server."""
    from pipeline_secrets import api

    return api.configure()


@pytest.fixture
def sm_client(moto: Any) -> Any:
    return moto.client()


@pytest.fixture
def pg_set_password(pg_cluster: Any) -> Callable[[str, str], None]:
    def set_password(user: str, password: str) -> None:
        pg_cluster.create_user(user, password)  # ALTER USER ... PASSWORD when it exists

    return set_password


@pytest.fixture
def maria_set_password(mariadb_server: Any) -> Callable[[str, str], None]:
    def set_password(user: str, password: str) -> None:
        mariadb_server.admin_sql("ALTER USER %s@'%%' IDENTIFIED BY %s", (user, password))

    return set_password


@pytest.fixture
def airflow_conn(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Define an Airflow connection through an ``AIRFLOW_CONN_*`` variable (JSON)."""

    def define(conn_id: str, **fields: Any) -> None:
        if isinstance(fields.get("extra"), dict):
            fields["extra"] = json.dumps(fields["extra"])
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(fields))

    return define
