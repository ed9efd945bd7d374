from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from pipeline_secrets.rotation import PasswordOptions, rotate_secret
from pipeline_secrets.rotation.package import HANDLER, ZIP_NAME
from pipeline_secrets.tools.cli import main
from tests.rotation.conftest import secret_dict


@pytest.mark.postgres
def test_cli_rotate_stop_and_resume(
    moto: Any,
    sm: Any,
    db_secret: Any,
    stages: Any,
    can_login: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    name = db_secret("postgres")
    url = moto.endpoint_url
    assert main(["rotate", name, "--endpoint-url", url, "--stop-after", "setSecret"]) == 0
    out = capsys.readouterr().out
    token = stages(name)["AWSPENDING"]
    assert "stopped after setSecret" in out and token in out
    assert (
        main(["rotate", name, "--endpoint-url", url, "--token", token, "--password-length", "24"])
        == 0
    )
    assert f"version {token} is AWSCURRENT" in capsys.readouterr().out
    assert stages(name)["AWSCURRENT"] == token and can_login(name)
    # The options apply to new passwords only; the resumed one was made at createSecret.
    assert (
        main(
            [
                "rotate",
                name,
                "--endpoint-url",
                url,
                "--password-length",
                "24",
                "--exclude-punctuation",
            ]
        )
        == 0
    )
    password = secret_dict(sm, name)["password"]
    assert len(password) == 24 and password.isalnum()


def test_cli_rotate_error_exit_code(moto: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rotate", "no/such/secret", "--endpoint-url", moto.endpoint_url]) == 1
    err = capsys.readouterr().err
    assert "no/such/secret" in err and "ResourceNotFoundException" in err


@pytest.mark.postgres
def test_password_options_from_env_apply_locally(
    sm: Any, db_secret: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PASSWORD_LENGTH", "40")
    monkeypatch.setenv("EXCLUDE_CHARACTERS", "abcdefABCDEF0123")
    name = db_secret("postgres")
    rotate_secret(name, client=sm)
    password = secret_dict(sm, name)["password"]
    assert len(password) == 40 and not set(password) & set("abcdefABCDEF0123")
    rotate_secret(name, client=sm, password_options=PasswordOptions(length=16))
    assert len(secret_dict(sm, name)["password"]) == 16


@pytest.mark.slow
def test_build_lambda_zip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ca = tmp_path / "rds.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    assert main(["build-lambda", "--output", str(tmp_path / "out"), "--ca-bundle", str(ca)]) == 0
    assert HANDLER in capsys.readouterr().out
    path = tmp_path / "out" / ZIP_NAME
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        zf.extractall(tmp_path / "x")
    assert "pipeline_secrets/rotation/handler.py" in names
    assert not any(n.startswith("pipeline_secrets/tools/") for n in names)  # no tooling
    assert "pipeline_secrets/rotation/ca-bundle.pem" in names
    assert any(n.startswith("psycopg2/_psycopg") for n in names)
    assert "pymysql/__init__.py" in names
    assert not any(n.startswith(("boto3/", "botocore/")) for n in names)
    assert not any(n.endswith(".pyc") for n in names)
    # The unpacked zip imports its own drivers and resolves the handler name.
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import importlib, psycopg2, pymysql; "
        "m, f = sys.argv[2].rsplit('.', 1); h = getattr(importlib.import_module(m), f); "
        "from pipeline_secrets.rotation.tls import find_ca_bundle; "
        "assert psycopg2.__file__.startswith(sys.argv[1]), psycopg2.__file__; "
        "assert pymysql.__file__.startswith(sys.argv[1]); "
        "assert find_ca_bundle().startswith(sys.argv[1]); print(h.__name__)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "x"), HANDLER],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "lambda_handler"
    # Reproducible: a second build gives the same bytes.
    assert main(["build-lambda", "--output", str(tmp_path / "again"), "--ca-bundle", str(ca)]) == 0
    assert (tmp_path / "again" / ZIP_NAME).read_bytes() == path.read_bytes()


@pytest.mark.postgres
def test_cli_rotate_json_output(
    moto: Any, sm: Any, db_secret: Any, stages: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    name = db_secret("postgres")
    url = moto.endpoint_url
    assert main(["rotate", name, "--endpoint-url", url, "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == {
        "secret_id": name,
        "version_id": stages(name)["AWSCURRENT"],
        "steps": ["createSecret", "setSecret", "testSecret", "finishSecret"],
        "strategy": "single",
        "finished": True,
    }
    assert main(["rotate", "no/such", "--endpoint-url", url, "--format", "json"]) == 1
    error = json.loads(capsys.readouterr().out)
    assert error["secret_id"] == "no/such" and error["step"] == "start"
    assert "ResourceNotFoundException" in error["error"]


def test_cli_rotate_profile_role_and_help(
    moto: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    code = main(["rotate", "x", "--profile", "no-such-profile", "--format", "json"])
    assert code == 1
    captured = capsys.readouterr()
    assert "profile" in json.loads(captured.out)["error"]
    assert "Traceback" not in captured.err
    with pytest.raises(SystemExit):
        main(["rotate", "--help"])
    text = capsys.readouterr().out
    for flag in ("--profile", "--role-arn", "--format", "--password-length N"):
        assert flag in text
    assert "length of the new password" in text
