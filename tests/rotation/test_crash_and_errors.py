"""Crashes after each step, then a re-run; failed steps; errors without values."""

from __future__ import annotations

import traceback
from typing import Any

import pytest

from pipeline_secrets.rotation import (
    PasswordOptions,
    RotationConfigError,
    RotationError,
    rotate_secret,
)
from pipeline_secrets.rotation.engines import ENGINES
from tests.rotation.conftest import all_passwords, secret_dict

STEPS = ["createSecret", "setSecret", "testSecret", "finishSecret"]


class Crash(Exception):
    pass


def crash_after(step_name: str) -> Any:
    def hook(step: str) -> None:
        if step == step_name:
            raise Crash(step)

    return hook


@pytest.mark.slow  # several full rotations
@pytest.mark.postgres
@pytest.mark.mariadb
@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize(
    ("engine", "alternating"), [("postgres", False), ("mariadb", True), ("redshift", True)]
)
def test_crash_after_each_step_then_rerun_completes(
    step: str,
    engine: str,
    alternating: bool,
    sm: Any,
    db_secret: Any,
    stages: Any,
    can_login: Any,
) -> None:
    name = db_secret(engine, alternating=alternating)
    old = stages(name)["AWSCURRENT"]
    with pytest.raises(Crash):
        rotate_secret(name, client=sm, on_step=crash_after(step))
    crashed = stages(name)
    if step != "finishSecret":
        assert crashed["AWSCURRENT"] == old and "AWSPENDING" in crashed
        token = crashed["AWSPENDING"]
        result = rotate_secret(name, client=sm)  # resumes the interrupted rotation
        assert result.token == token
    else:
        token = crashed["AWSCURRENT"]
        result = rotate_secret(name, client=sm, token=token)  # a retried finish: no-op
    assert result.finished
    assert stages(name) == {"AWSCURRENT": token, "AWSPREVIOUS": old}
    assert can_login(name)


@pytest.mark.postgres
def test_interrupted_single_user_window_then_resume(
    sm: Any, db_secret: Any, stages: Any, can_login: Any
) -> None:
    name = db_secret("postgres")
    result = rotate_secret(name, client=sm, stop_after="setSecret")
    assert result.steps == ["createSecret", "setSecret"] and not result.finished
    assert can_login(name, "AWSPENDING") and not can_login(name, "AWSCURRENT")
    done = rotate_secret(name, client=sm, token=result.token)
    assert done.finished and can_login(name)


@pytest.mark.postgres
def test_failed_step_leaves_current_working_and_names_step(
    sm: Any, db_secret: Any, stages: Any, can_login: Any, put_secret: Any
) -> None:
    name = db_secret("postgres", alternating=True)
    value = secret_dict(sm, name)
    # Point the user's secret at a master whose password the database refuses.
    bad_master = put_secret(
        "master/bad",
        {**value, "username": "postgres", "password": "Wrong-master-pw-123", "masterarn": None},
    )
    sm.put_secret_value(
        SecretId=name,
        SecretString=__import__("json").dumps({**value, "masterarn": bad_master["ARN"]}),
    )
    before = stages(name)["AWSCURRENT"]
    with pytest.raises(RotationError) as info:
        rotate_secret(name, client=sm)
    err = info.value
    assert err.step == "setSecret" and err.secret_id == name
    assert "setSecret" in str(err) and name in str(err) and "master" in str(err)
    assert stages(name)["AWSCURRENT"] == before
    assert can_login(name)
    text = "".join(traceback.format_exception(err))
    for password in [*all_passwords(sm, name), "Wrong-master-pw-123"]:
        assert password not in text


@pytest.mark.postgres
def test_driver_error_text_is_redacted(
    sm: Any, db_secret: Any, monkeypatch: pytest.MonkeyPatch, stages: Any, can_login: Any
) -> None:
    real = ENGINES["postgres"]

    class Leaky:
        name = "postgres"
        max_username_length = 63

        def connect(self, target: Any, **kw: Any) -> Any:
            return real.connect(target, **kw)

        def set_own_password(self, conn: Any, username: str, password: str) -> None:
            raise RuntimeError(f"syntax error near '{password}'")

    monkeypatch.setitem(ENGINES, "postgres", Leaky())
    name = db_secret("postgres")
    with pytest.raises(RotationError, match="setSecret") as info:
        rotate_secret(name, client=sm)
    text = "".join(traceback.format_exception(info.value))
    assert "syntax error near '***'" in text
    for password in all_passwords(sm, name):
        assert password not in text
    assert can_login(name)


@pytest.mark.postgres
def test_required_tls_against_a_plain_server_fails_clearly(
    sm: Any, db_secret: Any, stages: Any, can_login: Any
) -> None:
    name = db_secret("postgres", extra={"ssl": True})
    with pytest.raises(RotationError, match=r"setSecret of secret .*could not connect") as info:
        rotate_secret(name, client=sm)
    assert "SSL" in str(info.value.__cause__)
    assert stages(name)["AWSCURRENT"] != stages(name)["AWSPENDING"]
    plain = db_secret("postgres", extra={"ssl": "false"})
    assert rotate_secret(plain, client=sm).finished and can_login(plain)


@pytest.mark.mariadb
def test_required_tls_mysql(sm: Any, db_secret: Any) -> None:
    name = db_secret("mariadb", extra={"ssl": "verify-full"})
    with pytest.raises(RotationError, match="could not connect"):
        rotate_secret(name, client=sm)


def test_unsupported_engine_and_bad_options(sm: Any, put_secret: Any) -> None:
    put_secret("o1", {"engine": "oracle", "host": "h", "username": "u", "password": "Pw-abcdef1"})
    with pytest.raises(RotationConfigError, match=r"createSecret of secret 'o1'.*'engine'"):
        rotate_secret("o1", client=sm)
    put_secret("r1", {"engine": "redshift", "host": "h", "username": "u", "password": "Pw-abcdef1"})
    with pytest.raises(RotationConfigError, match="upper case, lower case and digits"):
        rotate_secret("r1", client=sm, password_options=PasswordOptions(exclude_numbers=True))
    put_secret(
        "m1",
        {
            "engine": "mysql",
            "host": "h",
            "username": "x" * 30,
            "password": "Pw-abcdef1",
            "masterarn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:m",
        },
    )
    with pytest.raises(RotationConfigError, match="longer than 32 bytes"):
        rotate_secret("m1", client=sm)
    put_secret("n1", {"engine": "postgres", "username": "u", "password": "Pw-abcdef1"})
    with pytest.raises(RotationConfigError, match="'host'"):
        rotate_secret("n1", client=sm)
