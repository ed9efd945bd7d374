"""Protocol checks, for run_step (local) and the Lambda handler."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from pipeline_secrets.rotation import (
    RotationProtocolError,
    lambda_handler,
    rotate_secret,
    run_step,
)
from pipeline_secrets.rotation.handler import reset_client
from tests.rotation.conftest import secret_dict

STEPS = ["createSecret", "setSecret", "testSecret", "finishSecret"]


@pytest.fixture(autouse=True)
def _fresh_lambda_client(moto: Any) -> Iterator[None]:
    reset_client()  # the handler caches its client; the moto env changes per test
    yield
    reset_client()


def enable_rotation(sm: Any, name: str) -> None:
    """moto: RotationEnabled without a Lambda. (It copies AWSCURRENT into a new version.)"""
    sm.rotate_secret(
        SecretId=name, RotationRules={"AutomaticallyAfterDays": 30}, RotateImmediately=False
    )
    assert sm.describe_secret(SecretId=name)["RotationEnabled"] is True


def event(name: str, token: str, step: str) -> dict[str, str]:
    return {"SecretId": name, "ClientRequestToken": token, "Step": step}


def test_unknown_step_is_rejected_before_any_call(sm: Any) -> None:
    with pytest.raises(
        RotationProtocolError, match=r"step 'rotateSecret' of secret 's1'.*unknown step"
    ) as info:
        run_step("rotateSecret", "s1", "tok", client=object())  # no client call possible
    assert info.value.step == "'rotateSecret'"
    with pytest.raises(RotationProtocolError, match="unknown step"):
        lambda_handler(event("s1", "tok", "deleteSecret"), None)
    with pytest.raises(RotationProtocolError, match="unknown step"):
        rotate_secret("s1", client=object(), stop_after="finish")


def test_token_not_a_version(sm: Any, put_secret: Any) -> None:
    put_secret("p1", {"engine": "postgres", "host": "h", "username": "u", "password": "Pw-xyz1"})
    for step in STEPS[1:]:
        with pytest.raises(RotationProtocolError, match=rf"{step} of secret 'p1'.*not a version"):
            run_step(step, "p1", str(uuid.uuid4()), client=sm)
    enable_rotation(sm, "p1")
    # The Lambda never invents versions: Secrets Manager creates the pending one first.
    with pytest.raises(RotationProtocolError, match="not a version"):
        lambda_handler(event("p1", str(uuid.uuid4()), "createSecret"), None)


@pytest.mark.postgres
def test_token_not_pending_and_already_current(sm: Any, db_secret: Any, stages: Any) -> None:
    name = db_secret("postgres")
    first = rotate_secret(name, client=sm)
    second = rotate_secret(name, client=sm)
    previous = stages(name)["AWSPREVIOUS"]
    assert previous == first.token
    for step in STEPS[1:]:
        with pytest.raises(RotationProtocolError, match="is not AWSPENDING"):
            run_step(step, name, previous, client=sm)
    before = sm.describe_secret(SecretId=name)["VersionIdsToStages"]
    for step in STEPS:  # the current token: every step is a no-op
        run_step(step, name, second.token, client=sm)
    assert sm.describe_secret(SecretId=name)["VersionIdsToStages"] == before
    again = rotate_secret(name, client=sm, token=second.token)
    assert again.finished and again.token == second.token
    assert sm.describe_secret(SecretId=name)["VersionIdsToStages"] == before


@pytest.mark.postgres
def test_lambda_requires_rotation_enabled(sm: Any, db_secret: Any, stages: Any) -> None:
    name = db_secret("postgres")
    token = str(uuid.uuid4())
    run_step("createSecret", name, token, client=sm)  # local: no RotationEnabled needed
    for step in STEPS:
        with pytest.raises(RotationProtocolError, match="rotation is not enabled"):
            lambda_handler(event(name, token, step), None)
    assert stages(name)["AWSPENDING"] == token


@pytest.mark.postgres
@pytest.mark.mariadb
@pytest.mark.parametrize("engine", ["aurora-postgresql", "mariadb"])
def test_lambda_runs_a_whole_rotation(
    engine: str, sm: Any, db_secret: Any, stages: Any, can_login: Any
) -> None:
    name = db_secret(engine, alternating=engine == "mariadb")
    enable_rotation(sm, name)
    old = stages(name)["AWSCURRENT"]
    token = str(uuid.uuid4())
    # Stand in for the service's empty AWSPENDING version: createSecret run locally once;
    # the Lambda's createSecret then finds it and reuses it.
    run_step("createSecret", name, token, client=sm)
    pending = secret_dict(sm, name, "AWSPENDING")
    for step in STEPS:
        lambda_handler(event(name, token, step), None)
    assert stages(name) == {"AWSCURRENT": token, "AWSPREVIOUS": old}
    assert secret_dict(sm, name)["password"] == pending["password"]
    assert can_login(name)
    for step in STEPS:  # Secrets Manager retries a step: still a no-op
        lambda_handler(event(name, token, step), None)
    assert stages(name) == {"AWSCURRENT": token, "AWSPREVIOUS": old}


@pytest.mark.postgres
def test_finish_cleans_a_pending_label_left_on_current(
    sm: Any, db_secret: Any, stages: Any
) -> None:
    """A crash between moving AWSCURRENT and removing AWSPENDING."""
    name = db_secret("postgres")
    result = rotate_secret(name, client=sm, stop_after="testSecret")
    old = stages(name)["AWSCURRENT"]
    sm.update_secret_version_stage(
        SecretId=name,
        VersionStage="AWSCURRENT",
        MoveToVersionId=result.token,
        RemoveFromVersionId=old,
    )
    assert "AWSPENDING" in sm.describe_secret(SecretId=name)["VersionIdsToStages"][result.token]
    run_step("finishSecret", name, result.token, client=sm)
    assert stages(name) == {"AWSCURRENT": result.token, "AWSPREVIOUS": old}
    rotate_secret(name, client=sm)  # and the next rotation is not blocked
