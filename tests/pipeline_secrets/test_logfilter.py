"""botocore at DEBUG logs response and request bodies: our filter keeps values out."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from pipeline_secrets import ClientSettings, SecretCache, SecretsManagerSource, logfilter


@pytest.fixture
def botocore_debug() -> Iterator[io.StringIO]:
    """botocore at DEBUG into a stream handler of our own (as boto3.set_stream_logger does)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    logger = logging.getLogger("botocore")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(old_level)


def test_wire_logs_without_filter_do_show_values(moto: Any, botocore_debug: io.StringIO) -> None:
    """Proof that the test can fail: without the filter the body is logged."""
    logfilter.uninstall()
    try:
        client = moto.client()
        client.create_secret(Name="plain", SecretString='{"password": "visible-in-wire-log"}')
        client.get_secret_value(SecretId="plain", VersionStage="AWSCURRENT")
    finally:
        logfilter.install()
    assert "visible-in-wire-log" in botocore_debug.getvalue()


def test_cache_installs_filter_and_bodies_are_redacted(
    moto: Any, put_secret: Any, secret_value: Any, botocore_debug: io.StringIO
) -> None:
    logfilter.uninstall()
    password = secret_value("wire")
    binary = secret_value("bin", special=False)
    cache = SecretCache(SecretsManagerSource(ClientSettings.create(endpoint_url=moto.endpoint_url)))
    put_secret("app/db", {"username": "u", "password": password})  # CreateSecret request
    put_secret("app/bin", binary.encode(), binary=True)
    assert cache.get("app/db").json()["password"] == password  # GetSecretValue response
    cache.invalidate()
    cache.prefetch(["app/db", "app/bin"])  # BatchGetSecretValue response
    moto.client().put_secret_value(SecretId="app/db", SecretString=password + "2")  # request
    log = botocore_debug.getvalue()
    assert "Response body" in log and "BatchGetSecretValue" in log
    assert '"SecretString": "***"' in log
    assert password not in log
    assert binary not in log
    import base64

    assert base64.b64encode(binary.encode()).decode() not in log


def test_filter_fallback_for_unparseable_text() -> None:
    record = logging.LogRecord(
        "botocore.parsers",
        logging.DEBUG,
        __file__,
        1,
        "Response body:\n%r",
        (b'{"SecretString": "abc-not-json-closed',),
        None,
    )
    assert logfilter.SecretValueFilter().filter(record)
    assert "abc-not-json" not in record.getMessage()
    assert "body not shown" in record.getMessage()
    line = logging.LogRecord(
        "botocore.hooks",
        logging.DEBUG,
        __file__,
        1,
        "params %s",
        ("SecretString=abc-text-x",),
        None,
    )
    assert logfilter.SecretValueFilter().filter(line)
    assert line.getMessage() == "params SecretString: ***"


def test_every_factory_client_installs_the_filter_and_random_passwords_are_redacted(
    moto: Any, botocore_debug: io.StringIO, leak_registry: Any
) -> None:
    """The rotation's GetRandomPassword responses, through any client of the factory
    (Secrets Manager or another service), with nothing else having installed it."""
    from pipeline_secrets.client import ClientFactory

    logfilter.uninstall()
    factory = ClientFactory(ClientSettings.create(endpoint_url=moto.endpoint_url))
    factory.client(service="rds")  # any service's client installs it
    assert all(
        logfilter._FILTER in logging.getLogger(name).filters for name in logfilter.WIRE_LOGGERS
    )
    password = factory.client().get_random_password(PasswordLength=40)["RandomPassword"]
    leak_registry.register(password)
    log = botocore_debug.getvalue()
    assert "RandomPassword" in log and '"RandomPassword": "***"' in log
    assert password not in log


def test_sts_credentials_are_redacted() -> None:
    record = logging.LogRecord(
        "botocore.parsers",
        logging.DEBUG,
        __file__,
        1,
        "Response body:\n%r",
        (b'{"Credentials": {"SecretAccessKey": "sak-123", "SessionToken": "tok-456"}}',),
        None,
    )
    assert logfilter.SecretValueFilter().filter(record)
    assert "sak-123" not in record.getMessage() and "tok-456" not in record.getMessage()
