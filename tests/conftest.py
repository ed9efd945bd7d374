"""Shared fixtures: a real moto server, a password-checking PostgreSQL cluster, MariaDB
users, and the leak guard that fails any test whose output shows a seeded secret."""

from __future__ import annotations

import json
import logging
import os
import secrets as pysecrets
from collections.abc import Iterator
from typing import Any

import pytest

from devstack.moto_server import MotoServer, start_moto
from tests.leakguard import GUARD, LeakGuard, exception_text

os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    server = start_moto()
    yield server
    server.stop()


@pytest.fixture
def moto(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> MotoServer:
    """The moto server, emptied, with boto3 pointed at it through the environment."""
    moto_server.reset()
    for key, value in moto_server.env().items():
        monkeypatch.setenv(key, value)
    return moto_server


@pytest.fixture(scope="session")
def leak_registry() -> LeakGuard:
    return GUARD


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Fail (and withhold the traceback of) a test whose exception shows a seeded value."""
    report = yield
    if item.get_closest_marker("allow_secret_output"):
        return report
    # Captured output is printed with the report of a failing (or -rA) test: drop
    # sections that show a value (the autouse fixture fails the test for them).
    report.sections = [s for s in report.sections if not GUARD.find(s[1])]
    if call.excinfo is None:
        return report
    text = exception_text(call.excinfo.value) + "\n" + report.longreprtext
    found = GUARD.find(text)
    if found:
        report.outcome = "failed"
        report.longrepr = (
            f"{item.nodeid}: a seeded secret value appeared in the "
            f"{type(call.excinfo.value).__name__} raised during {call.when} "
            f"({len(found)} value(s)); its traceback is withheld so the value is not "
            "printed. Re-run with the allow_secret_output marker locally to see it."
        )
    return report


def _spy_on_pytest_raises(monkeypatch: pytest.MonkeyPatch) -> list[BaseException]:
    """Collect every exception a test catches with ``pytest.raises``."""
    import _pytest.raises as raises_module

    caught: list[BaseException] = []
    for cls_name in ("RaisesExc", "RaisesGroup"):
        cls = getattr(raises_module, cls_name, None)
        if cls is None:
            continue
        original = cls.__exit__

        def spy(self: Any, exc_type: Any, exc_val: Any, exc_tb: Any, _orig: Any = original) -> Any:
            __tracebackhide__ = True
            if exc_val is not None:
                caught.append(exc_val)
            return _orig(self, exc_type, exc_val, exc_tb)

        monkeypatch.setattr(cls, "__exit__", spy)
    return caught


_LOG_FORMAT = logging.Formatter("%(levelname)s %(name)s %(message)s")


def _format(record: logging.LogRecord) -> str:
    try:
        return _LOG_FORMAT.format(record)
    except Exception:
        return f"{record.msg} {record.args}"


@pytest.fixture(autouse=True)
def _no_secret_leaks(
    request: pytest.FixtureRequest,
    leak_registry: LeakGuard,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[None]:
    """Fail the test if any seeded secret value shows up in its logs, output, or the
    message/repr/cause chain of an exception it caught with ``pytest.raises``."""
    caught = _spy_on_pytest_raises(monkeypatch)
    caplog.set_level("INFO")
    for ours in ("pipeline_secrets", "airflow_plugin", "glue_lib"):
        caplog.set_level("DEBUG", logger=ours)
    yield
    if request.node.get_closest_marker("allow_secret_output"):
        return
    out, err = capsys.readouterr()
    # caplog.text is only the current (teardown) phase: read every phase's records.
    texts = {"stdout": out, "stderr": err, "log (teardown)": caplog.text}
    for when in ("setup", "call"):
        texts[f"log ({when})"] = "\n".join(_format(r) for r in caplog.get_records(when))
    for index, exc in enumerate(caught, 1):
        texts[f"exception #{index} caught by pytest.raises ({type(exc).__name__})"] = (
            exception_text(exc)
        )
    leak_registry.assert_clean(texts)
    # Let pytest still show the output of a failing test.
    print(out, end="")


@pytest.fixture
def secret_value(leak_registry: LeakGuard):  # type: ignore[no-untyped-def]
    """Make a random password-like value and register it with the leak guard."""

    def make(prefix: str = "pw", special: bool = True) -> str:
        tail = "-:/@?#%&+=' \"\\" if special else ""
        value = f"{prefix}{pysecrets.token_urlsafe(12)}{tail}"
        leak_registry.register(value)
        return value

    return make


@pytest.fixture
def put_secret(moto: MotoServer, leak_registry: LeakGuard):  # type: ignore[no-untyped-def]
    """Create (or update) a secret on the moto server; returns its ARN and version."""
    client = moto.client()

    def put(name: str, value: Any, *, binary: bool = False) -> dict[str, Any]:
        text = value if isinstance(value, str | bytes) else json.dumps(value)
        leak_registry.register_secret_document(value)
        kwargs: dict[str, Any] = {"SecretBinary": text} if binary else {"SecretString": text}
        try:
            return dict(client.create_secret(Name=name, **kwargs))
        except client.exceptions.ResourceExistsException:
            return dict(client.put_secret_value(SecretId=name, **kwargs))

    return put


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Any]:
    """A PostgreSQL cluster that really checks passwords (SCRAM)."""
    from devstack.postgres import start_cluster

    cluster = start_cluster()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def mariadb_server() -> Any:
    from devstack.mariadb import ensure_running

    return ensure_running()


@pytest.fixture
def pg_user(pg_cluster: Any, secret_value: Any):  # type: ignore[no-untyped-def]
    """Create a fresh login role and database on the cluster; returns its settings."""

    def make(name: str | None = None) -> dict[str, Any]:
        user = name or f"u_{pysecrets.token_hex(4)}"
        password = secret_value("pg")
        pg_cluster.create_user(user, password)
        db = f"db_{pysecrets.token_hex(4)}"
        pg_cluster.create_database(db, owner=user)
        return {
            "engine": "postgres",
            "host": pg_cluster.host,
            "port": pg_cluster.port,
            "username": user,
            "password": password,
            "dbname": db,
        }

    return make


@pytest.fixture
def maria_user(mariadb_server: Any, secret_value: Any):  # type: ignore[no-untyped-def]
    created: list[tuple[str, str]] = []

    def make(name: str | None = None) -> dict[str, Any]:
        user = name or f"u_{pysecrets.token_hex(4)}"
        password = secret_value("my")
        db = f"db_{pysecrets.token_hex(4)}"
        mariadb_server.create_database(db)
        mariadb_server.create_user(user, password, db)
        created.append((user, db))
        return {
            "engine": "mariadb",
            "host": mariadb_server.host,
            "port": mariadb_server.port,
            "username": user,
            "password": password,
            "dbname": db,
        }

    yield make
    for user, db in created:
        mariadb_server.drop_user(user)
        mariadb_server.drop_database(db)
