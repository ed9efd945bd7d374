"""RotateSecretOperator: RotateSecret + polling (moto), and local rotation (real steps)."""

from __future__ import annotations

import importlib.util
import json
import uuid
from typing import Any

import pytest

from airflow_plugin.operators.rotate import RotateSecretOperator
from airflow_plugin.operators.rotation_wait import RotationNotFinishedError, wait_for_rotation
from pipeline_secrets.clock import Clock

HAS_ROTATION = importlib.util.find_spec("pipeline_secrets.rotation") is not None


class FakeClock(Clock):
    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_aws_mode_waits_until_the_new_version_is_current(
    core: Any, put_secret: Any, sm_client: Any
) -> None:
    put_secret("app/rotated", {"username": "u", "password": "before-rotation"})
    op = RotateSecretOperator(
        task_id="rotate",
        secret_id="app/rotated",
        aws_conn_id=None,
        rotation_rules={"AutomaticallyAfterDays": 30},
        poll_interval=0.1,
        timeout=10,
    )
    result = op.execute({})
    stages = sm_client.describe_secret(SecretId="app/rotated")["VersionIdsToStages"]
    assert "AWSCURRENT" in stages[result["version_id"]]
    assert result["finished"] is True and result["strategy"] == "aws"


def test_a_rotation_stuck_after_create_secret_fails_naming_the_steps(
    core: Any, put_secret: Any, sm_client: Any
) -> None:
    put_secret("app/stuck", {"username": "u", "password": "p-stuck-0001"})
    token = str(uuid.uuid4())
    sm_client.put_secret_value(
        SecretId="app/stuck",
        ClientRequestToken=token,
        SecretString=json.dumps({"username": "u", "password": "p-stuck-0002"}),
        VersionStages=["AWSPENDING"],
    )
    clock = FakeClock()
    with pytest.raises(RotationNotFinishedError) as info:
        wait_for_rotation(
            lambda: sm_client.describe_secret(SecretId="app/stuck"),
            "app/stuck",
            token,
            timeout_seconds=30,
            poll_interval_seconds=5,
            clock=clock,
        )
    message = str(info.value)
    assert "setSecret, testSecret or finishSecret" in message and "app/stuck" in message
    assert "p-stuck" not in message
    assert clock.now == 30


def test_aws_mode_surfaces_rotate_secret_errors(core: Any) -> None:
    op = RotateSecretOperator(task_id="rotate", secret_id="does/not/exist", aws_conn_id=None)
    with pytest.raises(Exception, match="ResourceNotFound"):
        op.execute({})


def test_invalid_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="mode"):
        RotateSecretOperator(task_id="rotate", secret_id="x", mode="lambda")


@pytest.mark.skipif(not HAS_ROTATION, reason="pipeline_secrets.rotation not on this branch yet")
def test_local_mode_rotates_postgres_and_hooks_keep_working(
    core: Any, put_secret: Any, pg_user: Any, leak_registry: Any, sm_client: Any
) -> None:
    from airflow_plugin.hooks.postgres import PostgresSecretsHook

    user = pg_user()
    put_secret("app/local", user)
    hook = PostgresSecretsHook(secret_id="app/local")
    hook.run("CREATE TABLE t (x int)")
    result = RotateSecretOperator(
        task_id="rotate", secret_id="app/local", mode="local", aws_conn_id=None
    ).execute({})
    assert result["finished"] is True
    assert result["steps"] == ["createSecret", "setSecret", "testSecret", "finishSecret"]
    new = json.loads(
        sm_client.get_secret_value(SecretId="app/local", VersionStage="AWSCURRENT")["SecretString"]
    )
    leak_registry.register(new["password"])
    assert new["password"] != user["password"]
    hook.insert_rows("t", [(1,)])
    assert hook.get_records("SELECT x FROM t") == [(1,)]


@pytest.mark.skipif(not HAS_ROTATION, reason="pipeline_secrets.rotation not on this branch yet")
def test_local_mode_fails_with_the_step_error(core: Any, put_secret: Any, pg_user: Any) -> None:
    from devstack.ports import free_port

    user = pg_user()
    put_secret("app/unreachable", {**user, "port": free_port()})
    op = RotateSecretOperator(
        task_id="rotate", secret_id="app/unreachable", mode="local", aws_conn_id=None
    )
    with pytest.raises(Exception, match=r"(?i)setSecret|createSecret|testSecret"):
        op.execute({})


@pytest.mark.skipif(not HAS_ROTATION, reason="pipeline_secrets.rotation not on this branch yet")
def test_local_mode_masks_every_rotation_password_and_logs_none_at_debug(
    core: Any,
    put_secret: Any,
    pg_user: Any,
    leak_registry: Any,
    sm_client: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import logging

    from airflow_plugin import _airflow
    from pipeline_secrets import logfilter

    masked: list[str] = []
    monkeypatch.setattr(_airflow, "mask_secret", lambda value, name=None: masked.append(value))
    logfilter.uninstall()  # a fresh worker process: nothing installed the filter yet
    user = pg_user()
    put_secret("app/masked", user)
    caplog.set_level(logging.DEBUG)  # botocore's wire logs included
    for noisy in ("botocore", "urllib3"):  # whatever an earlier test or Airflow set
        caplog.set_level(logging.DEBUG, logger=noisy)
        monkeypatch.setattr(logging.getLogger(noisy), "propagate", True)
    monkeypatch.setattr(logging.root.manager, "disable", logging.NOTSET)
    result = RotateSecretOperator(
        task_id="rotate", secret_id="app/masked", mode="local", aws_conn_id=None
    ).execute({})
    assert result["finished"] is True
    new = json.loads(
        sm_client.get_secret_value(SecretId="app/masked", VersionStage="AWSCURRENT")["SecretString"]
    )["password"]
    leak_registry.register(new)
    assert user["password"] in masked and new in masked
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert any(r.name.startswith("botocore") for r in caplog.records)
    assert user["password"] not in text and new not in text
