"""Tooling tests parse Airflow URIs with the stdlib parser in-process: importing Airflow
reconfigures logging for the whole test session. Airflow's own parser is exercised in
child processes (tests/airflow_plugin/test_connection_import.py, test_migrate.py)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _stdlib_connection_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIPELINE_SECRETS_CONNECTION_PARSER", "stdlib")
