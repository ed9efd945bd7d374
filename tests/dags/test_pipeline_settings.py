"""dags/pipeline_settings.py: defaults are the local stack's names; precedence is
params > Variable > environment > defaults. (Imported without Airflow.)"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from devstack import stack

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def ps() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "pipeline_settings", ROOT / "dags" / "pipeline_settings.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert "airflow" not in vars(module)  # Airflow is imported only by settings()
    return module


def test_defaults_are_the_local_stack_names(ps: ModuleType) -> None:
    d = ps.DEFAULTS
    assert d["source_conn_id"] == stack.SOURCE_CONN_ID
    assert d["target_conn_id"] == stack.TARGET_CONN_ID
    assert d["source_secret_id"] == stack.SOURCE_SECRET_ID
    assert d["target_secret_id"] == stack.TARGET_SECRET_ID
    assert d["orders_table"] == stack.ORDERS_TABLE and d["daily_table"] == stack.DAILY_TABLE
    assert ps.VARIABLE == stack.SETTINGS_VARIABLE
    assert set(stack.LOCAL_SETTINGS) <= set(d)
    assert any(stack.SOURCE_SECRET_ID.startswith(p) for p in d["audit_prefixes"])
    assert any(stack.MASTER_SECRET_ID.startswith(p) for p in d["audit_prefixes"])


def test_precedence(ps: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PIPELINE_SECRETS_ROTATION_MODE", raising=False)
    monkeypatch.delenv("PIPELINE_SECRETS_GLUE_LOCAL", raising=False)
    assert ps.resolve(None, None)["rotation_mode"] == "aws"
    assert ps.resolve(None, None)["glue_local"] is False
    monkeypatch.setenv("PIPELINE_SECRETS_GLUE_LOCAL", "1")
    monkeypatch.setenv("PIPELINE_SECRETS_ROTATION_MODE", "local")
    assert ps.resolve(None, None)["glue_local"] is True
    assert ps.resolve(None, {"rotation_mode": "aws"})["rotation_mode"] == "aws"
    assert (
        ps.resolve({"rotation_mode": "aws"}, {"rotation_mode": "local"})["rotation_mode"] == "aws"
    )
    assert ps.resolve({"source_conn_id": None}, {"source_conn_id": "x"})["source_conn_id"] == "x"
    assert ps.resolve(None, {"glue_local": "false"})["glue_local"] is False


def test_bad_settings_are_refused(ps: ModuleType) -> None:
    with pytest.raises(ValueError, match="unknown keys: colour"):
        ps.resolve(None, {"colour": "blue"})
    with pytest.raises(ValueError, match="rotation_mode"):
        ps.resolve({"rotation_mode": "lambda"}, None)
