"""rotate_database_credentials with ``airflow dags test``: both secrets get a new
AWSCURRENT version (rotated by RotateSecretOperator in local mode, as the seeded
settings Variable says), the new passwords log in and the old ones are refused."""

from __future__ import annotations

import json
from typing import Any

import psycopg2
import pytest

from devstack import stack
from devstack.airflow_env import AirflowHome
from tests.dags.conftest import dags_test, tail
from tests.dags.stack_helpers import ExampleStack

pytestmark = [pytest.mark.slow, pytest.mark.airflow, pytest.mark.postgres]
SECRETS = (stack.SOURCE_SECRET_ID, stack.TARGET_SECRET_ID)


def _current(client: Any, secret_id: str) -> tuple[str, dict[str, Any]]:
    value = client.get_secret_value(SecretId=secret_id, VersionStage="AWSCURRENT")
    return value["VersionId"], json.loads(value["SecretString"])


def _logs_in(creds: dict[str, Any]) -> bool:
    try:
        psycopg2.connect(
            host=creds["host"],
            port=creds["port"],
            user=creds["username"],
            password=creds["password"],
            dbname=creds["dbname"],
            connect_timeout=5,
        ).close()
    except psycopg2.OperationalError as exc:
        assert "password authentication failed" in str(exc)
        return False
    return True


def test_rotates_both_secrets_and_the_new_credentials_work(
    airflow_home: AirflowHome, dag_stack: ExampleStack
) -> None:
    client = dag_stack.client()
    before = {s: _current(client, s) for s in SECRETS}

    state, proc = dags_test(airflow_home, "rotate_database_credentials", "2026-11-10")
    dag_stack.register_secrets()
    assert state == "success", tail(proc)
    assert "verify_new_credentials" in proc.stdout

    for secret_id in SECRETS:
        old_version, old = before[secret_id]
        version, new = _current(client, secret_id)
        assert version != old_version
        assert new["password"] != old["password"]
        assert new["username"] == old["username"]
        stages = client.describe_secret(SecretId=secret_id)["VersionIdsToStages"]
        assert stages[old_version] == ["AWSPREVIOUS"]
        assert not any("AWSPENDING" in s for s in stages.values())
        assert _logs_in(new)
        assert not _logs_in(old)
