"""One configuration (issue 14, item 8): with our secrets backend configured, hooks,
operators and the core front door read through the backend's AWS settings, cache and
agent, with no ``PIPELINE_SECRETS_*`` variable and no boto3 endpoint variable.

The hook runs in a fresh process configured the way a deployment is (``[secrets]``
through ``AIRFLOW__SECRETS__*``, as in airflow.cfg), against the SCRAM PostgreSQL.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]

_SCRIPT = """
import json
from airflow_plugin.hooks import aws_settings
from airflow_plugin.hooks.postgres import PostgresSecretsHook
from airflow_plugin.hooks.secrets_manager import SecretsManagerHook
from airflow_plugin.secrets_manager import SecretsManagerBackend
from pipeline_secrets import api

hook = PostgresSecretsHook(secret_id="app/only-backend")
user = hook.get_first("SELECT current_user")[0]
backend = next(b for b in aws_settings.loaded_backends() if isinstance(b, SecretsManagerBackend))
sm = SecretsManagerHook()
token = sm.get_secret("app/token")
own = SecretsManagerHook("aws_elsewhere")  # a hook's own connection still wins
print(json.dumps({
    "user": user,
    "token_len": len(token),
    "hook_uses_backend_cache": hook.credential_source().reconnector.cache is backend.cache,
    "sm_hook_uses_backend_cache": sm.cache is backend.cache,
    "front_door_uses_backend_cache": api.default_cache() is backend.cache,
    "own_conn_overrides": own.cache is not backend.cache,
    "own_conn_endpoint": own.cache.source.client().meta.endpoint_url,
    "backend_calls": backend.stats()["api_calls_total"],
}))
"""


def test_hooks_read_through_the_backend_configuration(
    moto: Any, put_secret: Any, pg_user: Any, secret_value: Any
) -> None:
    user = pg_user()
    put_secret("app/only-backend", user)
    put_secret("app/token", secret_value("token"))
    moto.reset_counts()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PIPELINE_SECRETS_", "AWS_ENDPOINT_URL", "AIRFLOW__", "AIRFLOW_CONN"))
    }
    kwargs = {
        "connections_prefix": "airflow/connections",
        "endpoint_url": moto.endpoint_url,
        "region_name": "us-east-1",
        "cache_ttl_seconds": 600,
    }
    env.update(
        {
            "AIRFLOW_HOME": tempfile.mkdtemp(prefix="airflow-home-"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__SECRETS__BACKEND": "airflow_plugin.secrets_manager.SecretsManagerBackend",
            "AIRFLOW__SECRETS__BACKEND_KWARGS": json.dumps(kwargs),
            "AIRFLOW__WORKERS__SECRETS_BACKEND": (
                "airflow_plugin.secrets_manager.SecretsManagerBackend"
            ),
            "AIRFLOW__WORKERS__SECRETS_BACKEND_KWARGS": json.dumps(kwargs),
            # Another AWS account for the hook that names its own connection.
            "AIRFLOW_CONN_AWS_ELSEWHERE": json.dumps(
                {
                    "conn_type": "pipeline_secrets_aws",
                    "extra": {"endpoint_url": "http://127.0.0.1:9", "region_name": "eu-west-1"},
                }
            ),
            "PYTHONPATH": str(ROOT),
        }
    )
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["user"] == user["username"]
    assert result["token_len"] > 0
    assert result["hook_uses_backend_cache"]
    assert result["sm_hook_uses_backend_cache"]
    assert result["front_door_uses_backend_cache"]
    assert result["own_conn_overrides"]
    assert result["own_conn_endpoint"] == "http://127.0.0.1:9"
    # Every call moto saw came through the backend's one cache: the two secrets, and
    # the two connection lookups (pipeline_secrets_aws_default, aws_elsewhere) that
    # Airflow asked the backend for (not found there).
    assert moto.calls["GetSecretValue"] == result["backend_calls"] == 4


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (  # backend kwargs (the amazon provider's names)
            {
                "region_name": "eu-west-1",
                "endpoint_url": "http://e",
                "role_arn": "arn:aws:iam::1:role/r",
                "config_kwargs": {"read_timeout": 3},
                "verify": False,
                "fallback_regions": ["eu-central-1"],
            },
            {
                "region_name": "eu-west-1",
                "endpoint_url": "http://e",
                "role_arns": ("arn:aws:iam::1:role/r",),
                "botocore_config": {"read_timeout": 3},
                "verify": False,
                "fallback_regions": ("eu-central-1",),
            },
        ),
        (  # an AWS connection's extras, as the UI stores them (strings)
            {
                "region_name": "eu-west-1",
                "config_kwargs": '{"read_timeout": 3}',
                "verify": "false",
                "fallback_regions": "eu-central-1,us-east-2",
                "aws_access_key_id": "AKIDEXAMPLE",
            },
            {
                "region_name": "eu-west-1",
                "botocore_config": {"read_timeout": 3},
                "verify": False,
                "fallback_regions": ("eu-central-1", "us-east-2"),
                "aws_access_key_id": "AKIDEXAMPLE",
            },
        ),
        (  # CLI flags (argparse dests)
            {
                "region": "eu-west-1",
                "profile": "ops",
                "role_arn": ["arn:a", "arn:b"],
                "fallback_region": ["us-east-2"],
                "port": 2773,
            },
            {
                "region_name": "eu-west-1",
                "profile_name": "ops",
                "role_arns": ("arn:a", "arn:b"),
                "fallback_regions": ("us-east-2",),
            },
        ),
    ],
)
def test_one_mapping_for_every_form_of_configuration(
    config: dict[str, Any], expected: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline_secrets.settings import client_settings

    for name in list(os.environ):
        if name.startswith("PIPELINE_SECRETS_"):
            monkeypatch.delenv(name)
    settings = client_settings(config)
    for field, value in expected.items():
        assert getattr(settings, field) == value, field
    # The environment fills what the configuration leaves unset, never more.
    monkeypatch.setenv("PIPELINE_SECRETS_ENDPOINT_URL", "http://from-env")
    assert client_settings({"region_name": "x"}).endpoint_url == "http://from-env"
    assert client_settings({"endpoint_url": "http://given"}).endpoint_url == "http://given"
