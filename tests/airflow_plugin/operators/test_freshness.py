"""SecretFreshnessSensor against moto."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

from airflow_plugin.operators.freshness import SecretFreshnessSensor
from tests.airflow_plugin import rotation_sim


def _sensor(**kwargs: Any) -> SecretFreshnessSensor:
    return SecretFreshnessSensor(
        task_id="fresh", secret_id="app/fresh", aws_conn_id=None, mode="reschedule", **kwargs
    )


def test_waits_for_a_rotation_after_the_threshold(
    core: Any, put_secret: Any, sm_client: Any, secret_value: Any
) -> None:
    """moto's ListSecretVersionIds reports every version's CreatedDate as "now", so a
    threshold close to the present races the machine's load (it failed on the Airflow
    2.11 lane): thresholds here are far from the present instead."""
    put_secret("app/fresh", {"username": "u", "password": secret_value("f1")})
    assert _sensor(rotated_after=datetime.now(timezone.utc) + timedelta(hours=1)).poke({}) is False
    rotation_sim.rotate(sm_client, "app/fresh", secret_value("f2"), lambda u, p: None)
    assert _sensor(rotated_after=datetime.now(timezone.utc) - timedelta(hours=1)).poke({}) is True
    assert _sensor(rotated_after=timedelta(minutes=5)).poke({}) is True
    assert _sensor(rotated_after=datetime.now(timezone.utc) + timedelta(hours=1)).poke({}) is False


def test_default_threshold_is_the_dag_run_start(
    core: Any, put_secret: Any, secret_value: Any
) -> None:
    put_secret("app/fresh", {"username": "u", "password": secret_value("f1")})
    started_later = SimpleNamespace(start_date=datetime.now(timezone.utc) + timedelta(hours=1))
    started_before = SimpleNamespace(start_date=datetime.now(timezone.utc) - timedelta(hours=1))
    assert _sensor().poke({"dag_run": started_later}) is False
    assert _sensor().poke({"dag_run": started_before}) is True
