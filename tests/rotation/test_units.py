"""Pure logic: password options, TLS policy, grant rewriting, user names, no drivers."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from pipeline_secrets.rotation.engines import ENGINES
from pipeline_secrets.rotation.engines.mysql import _needs_password_function, clone_grant
from pipeline_secrets.rotation.passwords import PasswordOptions
from pipeline_secrets.rotation.strategies import clone_name_problem, other_username
from pipeline_secrets.rotation.tls import tls_policy


def test_password_options_from_env() -> None:
    env = {
        "PASSWORD_LENGTH": "40",
        "EXCLUDE_CHARACTERS": ":;",
        "EXCLUDE_PUNCTUATION": "true",
        "REQUIRE_EACH_INCLUDED_TYPE": "false",
    }
    opts = PasswordOptions.from_env(env)
    assert opts == PasswordOptions(
        length=40,
        exclude_characters=":;",
        exclude_punctuation=True,
        require_each_included_type=False,
    )
    request = opts.request("postgres")
    assert request["PasswordLength"] == 40 and request["ExcludeCharacters"] == ":;"
    assert opts.request("redshift")["RequireEachIncludedType"] is True
    with pytest.raises(ValueError, match="PASSWORD_LENGTH"):
        PasswordOptions.from_env({"PASSWORD_LENGTH": "long"})
    with pytest.raises(ValueError, match="EXCLUDE_NUMBERS"):
        PasswordOptions.from_env({"EXCLUDE_NUMBERS": "perhaps"})


def test_engine_default_exclusions_and_limits() -> None:
    for engine in ENGINES:
        assert set("/@\"'\\") <= set(PasswordOptions().request(engine)["ExcludeCharacters"])
    assert PasswordOptions(length=65).problems("redshift")
    assert not PasswordOptions(length=64).problems("redshift")
    assert PasswordOptions(length=6).problems("postgres")


@pytest.mark.parametrize(
    ("raw", "mode"),
    [
        (None, "auto"),
        (True, "verify-full"),
        ("true", "verify-full"),
        (False, "disable"),
        ("FALSE", "disable"),
        ("require", "require"),
        ("verify_ca", "verify-ca"),
        ("allow", "prefer"),
        ("maybe", "auto"),
        (3, "auto"),
    ],
)
def test_tls_policy(raw: object, mode: str) -> None:
    secret = {} if raw is None else {"ssl": raw}
    assert tls_policy(secret).mode == mode


def test_tls_ca_from_secret_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    assert tls_policy({"ssl": True, "sslrootcert": "/x/rds.pem"}).ca_file == "/x/rds.pem"
    monkeypatch.setenv("PIPELINE_SECRETS_ROTATION_CA_BUNDLE", "/y/ca.pem")
    assert tls_policy({}).ca_file == "/y/ca.pem"
    assert tls_policy({"ssl": False}).ca_file is None


def test_clone_grant_rewrites_show_grants_lines() -> None:
    user = "Qu\"o'te"
    lines = [
        (
            "GRANT USAGE ON *.* TO `Qu\"o'te`@`%` IDENTIFIED BY PASSWORD '*8B57E7F28DA63'",
            "GRANT USAGE ON *.* TO %s@%s",
        ),
        (
            "GRANT ALL PRIVILEGES ON `d%b`.* TO `Qu\"o'te`@`%` WITH GRANT OPTION",
            "GRANT ALL PRIVILEGES ON `d%%b`.* TO %s@%s WITH GRANT OPTION",
        ),
        ("GRANT SELECT ON `x`.`t` TO 'Qu\"o\\'te'@'%'", "GRANT SELECT ON `x`.`t` TO %s@%s"),
        ("GRANT `reader`@`%` TO `Qu\"o'te`@`%`", "GRANT `reader`@`%%` TO %s@%s"),
    ]
    for line, expected in lines:
        assert clone_grant(line, user) == expected
    assert clone_grant("GRANT USAGE ON *.* TO `other`@`%`", user) is None


def test_mysql_password_statement_choice() -> None:
    assert _needs_password_function("10.11.19-MariaDB-0+deb12u1")
    assert _needs_password_function("5.6.51-log")
    assert not _needs_password_function("5.7.44")
    assert not _needs_password_function("8.0.39")


def test_usernames_alternate_and_fit() -> None:
    assert other_username("app") == "app_clone"
    assert other_username("app_clone") == "app"
    assert clone_name_problem("x" * 26, ENGINES["mysql"]) is None
    assert clone_name_problem("x" * 27, ENGINES["mysql"])
    assert clone_name_problem("x" * 27, ENGINES["mariadb"]) is None


def test_importing_rotation_imports_no_driver_or_framework() -> None:
    code = (
        "import sys, pipeline_secrets.rotation, pipeline_secrets.tools.cli.rotate, "
        "pipeline_secrets.tools.cli.lambda_zip; "
        "bad = [m for m in ('psycopg2', 'psycopg', 'pymysql', 'airflow', 'pyspark', "
        "'redshift_connector') if m in sys.modules]; print(bad); sys.exit(bool(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_bad_password_env_is_a_config_error_naming_the_step(
    moto: object, put_secret: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline_secrets.rotation import RotationConfigError, rotate_secret

    put_secret("e1", {"engine": "postgres", "host": "h", "username": "u", "password": "Pw-12345"})
    monkeypatch.setenv("PASSWORD_LENGTH", "twelve")
    with pytest.raises(RotationConfigError, match=r"createSecret of secret 'e1'.*PASSWORD_LENGTH"):
        rotate_secret("e1")
