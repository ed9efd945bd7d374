"""Configuration mistakes are reported as such, naming the setting, not as outages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pipeline_secrets.client import ClientFactory, ClientSettings
from pipeline_secrets.errors import SecretConfigurationError
from pipeline_secrets.misconfiguration import endpoint_url_problem
from pipeline_secrets.source import SecretsManagerSource


@pytest.fixture
def bare_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No AWS settings at all: no region, no keys, no config files, no instance role."""
    for name in (
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "PIPELINE_SECRETS_REGION",
        "PIPELINE_SECRETS_ENDPOINT_URL",
        "PIPELINE_SECRETS_PROFILE",
        "PIPELINE_SECRETS_ROLE_ARN",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def _fetch(**settings: Any) -> SecretConfigurationError:
    source = SecretsManagerSource(clients=ClientFactory(ClientSettings.create(**settings)))
    with pytest.raises(SecretConfigurationError) as raised:
        source.get_secret_value("app/db")
    assert "could not reach" not in str(raised.value)
    assert "app/db" not in str(raised.value) or raised.value.secret_id == "app/db"
    return raised.value


def test_no_region(bare_env: None, moto: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)  # the moto fixture sets them
    error = _fetch(aws_access_key_id="k", aws_secret_access_key="s", endpoint_url=moto.endpoint_url)
    assert error.setting == "region_name" and "region_name" in str(error)


def test_no_credentials(bare_env: None, moto: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    error = _fetch(region_name="us-east-1", endpoint_url=moto.endpoint_url)
    assert error.setting == "credentials" and "profile_name" in str(error)


def test_unknown_profile(bare_env: None) -> None:
    error = _fetch(region_name="us-east-1", profile_name="nope")
    assert error.setting == "profile_name" and "'nope'" in str(error)


@pytest.mark.parametrize(
    "url", ["localhost:4566", "ftp://x", "http://127.0.0.1:notaport", "http://", "http://[::1"]
)
def test_malformed_endpoint_url(url: str, moto: Any) -> None:
    assert endpoint_url_problem(url) is not None
    error = _fetch(region_name="us-east-1", endpoint_url=url)
    assert error.setting == "endpoint_url" and "endpoint_url" in str(error)


def test_good_endpoint_urls_pass() -> None:
    for url in ("http://127.0.0.1:4566", "https://secretsmanager.eu-west-1.amazonaws.com"):
        assert endpoint_url_problem(url) is None


def test_malformed_endpoint_from_botos_environment(
    moto: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", "localhost:4566")
    error = _fetch(region_name="us-east-1")
    assert error.setting == "endpoint_url" and "AWS_ENDPOINT_URL" in str(error)
    assert "'app/db'" in str(error)
