from __future__ import annotations

from typing import Any

import pytest

from pipeline_secrets.rotation import rotate_secret
from tests.rotation.conftest import secret_dict

ENGINES = ["postgres", "aurora-postgresql", "redshift", "mysql", "aurora-mysql", "mariadb"]


@pytest.mark.postgres
@pytest.mark.mariadb
@pytest.mark.parametrize("engine", ENGINES)
def test_single_user_rotation_per_engine(
    engine: str, sm: Any, db_secret: Any, stages: Any, can_login: Any
) -> None:
    name = db_secret(engine)
    before = stages(name)
    old = secret_dict(sm, name)

    result = rotate_secret(name, client=sm)

    assert result.finished and result.strategy == "single"
    assert result.steps == ["createSecret", "setSecret", "testSecret", "finishSecret"]
    after = stages(name)
    assert after["AWSCURRENT"] == result.token
    assert after["AWSPREVIOUS"] == before["AWSCURRENT"]
    assert "AWSPENDING" not in after
    new = secret_dict(sm, name)
    assert new["username"] == old["username"] and new["password"] != old["password"]
    assert {k: v for k, v in new.items() if k != "password"} == {
        k: v for k, v in old.items() if k != "password"
    }
    assert can_login(name, "AWSCURRENT")
    assert not can_login(name, "AWSPREVIOUS")


@pytest.mark.postgres
@pytest.mark.mariadb
@pytest.mark.parametrize(
    ("engine", "username"),
    [
        ("postgres", "Mixed\"Case'User"),
        ("redshift", 'Upper Space"q'),
        ("mariadb", "Rot\"Q'uote"),
        ("mysql", "UPPER`tick"),
    ],
)
def test_usernames_needing_quotes(
    engine: str, username: str, sm: Any, db_secret: Any, can_login: Any, stages: Any
) -> None:
    name = db_secret(engine, username)
    rotate_secret(name, client=sm)
    assert secret_dict(sm, name)["username"] == username
    assert can_login(name) and not can_login(name, "AWSPREVIOUS")


@pytest.mark.slow  # several full rotations
@pytest.mark.postgres
@pytest.mark.mariadb
@pytest.mark.parametrize("engine", ["postgres", "mariadb"])
def test_five_rotations_in_a_row(
    engine: str, sm: Any, db_secret: Any, stages: Any, can_login: Any
) -> None:
    name = db_secret(engine)
    tokens = []
    for _ in range(5):
        previous = stages(name)["AWSCURRENT"]
        result = rotate_secret(name, client=sm)
        tokens.append(result.token)
        now = stages(name)
        assert now["AWSCURRENT"] == result.token and now["AWSPREVIOUS"] == previous
        assert "AWSPENDING" not in now
        assert can_login(name)
    assert len(set(tokens)) == 5
    passwords = {secret_dict(sm, name, "AWSCURRENT")["password"]}
    assert len(passwords) == 1
