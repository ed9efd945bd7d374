"""Fault injection against a real moto server and real databases.

Faults come from ``devstack.faults``: a dedicated moto server that is stopped and
restarted on the same port, and a proxy in front of moto that injects throttling,
5xx, AccessDenied and DecryptionFailure answers and counts requests.
The cache clock is a ManualClock so TTLs and stale windows are exact; botocore's own
retries run in real time.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg2
import pymysql
import pytest

from devstack.faults import (
    ACCESS_DENIED,
    DECRYPTION_FAILURE,
    DROP,
    SERVER_ERROR,
    THROTTLING,
    Fault,
    FaultProxy,
    RestartableMoto,
)
from devstack.ports import free_port
from pipeline_secrets import (
    AuthenticationFailedError,
    CachePolicy,
    ClientSettings,
    SecretCache,
    SecretsManagerSource,
)
from pipeline_secrets.clock import ManualClock
from pipeline_secrets.errors import (
    SecretAccessDeniedError,
    SecretDecryptionError,
    SecretServiceUnavailableError,
)
from pipeline_secrets.reconnect import Reconnector, ReconnectPolicy

POLICY = CachePolicy(
    ttl_seconds=10,
    negative_ttl_seconds=5,
    max_stale_seconds=60,
    backoff_initial_seconds=2,
    backoff_max_seconds=30,
    jitter_ratio=0,
)


def make_cache(
    endpoint: str, clock: ManualClock, max_attempts: int = 4, **settings: Any
) -> SecretCache:
    client = ClientSettings.create(
        endpoint_url=endpoint,
        region_name="us-east-1",
        botocore_config={
            "retries": {"mode": "standard", "max_attempts": max_attempts},
            "connect_timeout": 1,
            "read_timeout": 5,
        },
        **settings,
    )
    return SecretCache(SecretsManagerSource(client), policy=POLICY, clock=clock)


@pytest.fixture
def proxy(moto: Any) -> Iterator[FaultProxy]:
    p = FaultProxy(moto.endpoint_url).start()
    yield p
    p.stop()


# -- endpoint unreachable ------------------------------------------------------------
def test_endpoint_down_stale_then_clear_error_then_recovery(
    secret_value: Any, leak_registry: Any, caplog: pytest.LogCaptureFixture
) -> None:
    server = RestartableMoto().start()
    try:
        admin = server_client(server.endpoint_url)
        first, second = secret_value("v1"), secret_value("v2")
        admin.create_secret(Name="svc/api", SecretString=first)
        clock = ManualClock()
        cache = make_cache(server.endpoint_url, clock, max_attempts=2)
        assert cache.get("svc/api").secret_string == first

        server.stop()  # mid-run: connections are refused from now on
        clock.advance(11)  # past the TTL
        started = time.monotonic()
        assert cache.get("svc/api").secret_string == first  # stale, within the window
        calls_while_down = cache.stats.api_calls()
        for _ in range(50):  # within the backoff: served without calling
            assert cache.get("svc/api").secret_string == first
        assert cache.stats.api_calls() == calls_while_down
        assert "serving the cached version" in caplog.text

        clock.advance(61)  # past TTL + max_stale
        with pytest.raises(SecretServiceUnavailableError, match=r"svc/api.*could not reach"):
            cache.get("svc/api")
        after_error = cache.stats.api_calls()
        for _ in range(20):  # still backing off: the same error, no call storm
            with pytest.raises(SecretServiceUnavailableError):
                cache.get("svc/api")
        assert cache.stats.api_calls() == after_error
        down_seconds = time.monotonic() - started

        server.start()  # same port, nothing else restarted
        admin.put_secret_value(SecretId="svc/api", SecretString=second)
        clock.advance(31)  # past the backoff
        assert cache.get("svc/api").secret_string == second
        snap = cache.stats.snapshot()
        assert snap["stale_serves"] >= 51
        print(
            f"FIGURES endpoint-down: {down_seconds:.2f}s real time while down, "
            f"{after_error} API calls in total before recovery, snapshot={snap}"
        )
    finally:
        server.stop()


def server_client(endpoint: str) -> Any:
    import boto3

    return boto3.client("secretsmanager", endpoint_url=endpoint, region_name="us-east-1")


# -- throttling and 5xx ----------------------------------------------------------------
def test_throttling_and_5xx_are_retried_with_bounded_calls(
    proxy: FaultProxy, put_secret: Any, secret_value: Any
) -> None:
    value = secret_value("thr")
    put_secret("svc/throttled", value)
    proxy.add(Fault(THROTTLING, operation="GetSecretValue", times=2))
    proxy.add(Fault(SERVER_ERROR, operation="GetSecretValue", times=1))
    proxy.add(Fault(DROP, operation="GetSecretValue", times=1))
    clock = ManualClock()
    cache = make_cache(proxy.endpoint_url, clock, max_attempts=5)
    started = time.monotonic()
    assert cache.get("svc/throttled").secret_string == value  # no failure surfaces
    elapsed = time.monotonic() - started
    # 4 faults + 1 success; botocore allows 1 + max_attempts(5 retries) = 6 requests.
    assert proxy.total("GetSecretValue") == 5
    assert cache.stats.api_calls("GetSecretValue") == 1  # one logical call
    times = [t for t, op in proxy.request_times if op == "GetSecretValue"]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    print(
        f"FIGURES throttle+5xx+drop: 5 requests, {elapsed:.2f}s, gaps={[round(g, 3) for g in gaps]}"
    )


def test_sustained_throttling_many_threads_stays_bounded(
    proxy: FaultProxy, put_secret: Any, secret_value: Any
) -> None:
    """32 threads hammer an expired entry while every call is throttled: the stale
    value keeps serving and the request count is bounded by single-flight + backoff."""
    value = secret_value("sus")
    put_secret("svc/busy", value)
    clock = ManualClock()
    cache = make_cache(proxy.endpoint_url, clock, max_attempts=3)
    assert cache.get("svc/busy").secret_string == value
    proxy.add(Fault(THROTTLING))  # from now on, every request
    clock.advance(11)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(200):
                assert cache.get("svc/busy").secret_string == value
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    # The first fetch, then one refresh round: botocore's max_attempts counts
    # retries, so 1 + 3 requests. 6,400 lookups, no more.
    assert proxy.total("GetSecretValue") == 1 + (1 + 3)
    assert cache.stats.api_calls("GetSecretValue") == 2
    print(f"FIGURES sustained throttling: 6400 lookups, {proxy.total()} requests to the endpoint")


# -- access denied / decryption failure -------------------------------------------------
@pytest.mark.parametrize(
    ("fault", "error"),
    [(ACCESS_DENIED, SecretAccessDeniedError), (DECRYPTION_FAILURE, SecretDecryptionError)],
)
def test_denied_or_undecryptable_is_logged_and_never_falls_back(
    proxy: FaultProxy,
    put_secret: Any,
    secret_value: Any,
    pg_user: Any,
    caplog: pytest.LogCaptureFixture,
    fault: tuple[str, int, str],
    error: type[Exception],
) -> None:
    denied, other = pg_user(), pg_user()
    put_secret("db/denied", denied)
    put_secret("db/other", other)
    clock = ManualClock()
    cache = make_cache(proxy.endpoint_url, clock, fallback_regions=["us-west-2"])
    assert cache.get("db/denied").json()["username"] == denied["username"]
    cache.get("db/other")
    proxy.add(Fault(fault, secret_id="db/denied"))
    clock.advance(11)
    before = proxy.total()
    with pytest.raises(error, match="db/denied") as info:
        cache.get("db/denied")  # the cached (expired) value is not served
    assert proxy.total() - before == 1  # no retries, no fallback region
    assert any(r.levelno == logging.ERROR and "db/denied" in r.getMessage() for r in caplog.records)
    assert cache.cached_value("db/denied") is None or info.value is not None
    assert cache.get("db/other").json()["username"] == other["username"]  # others fine

    seen: list[str] = []

    def connect(creds: Any) -> Any:
        seen.append(creds.username)
        return psycopg2.connect(**creds.dbapi_kwargs("psycopg2"))

    reconnector = Reconnector(cache, ReconnectPolicy(budget_seconds=1))
    with pytest.raises(error):
        reconnector.connect("db/denied", connect)
    assert seen == []  # never tried another secret's (or a stale) credentials
    clock.advance(60)
    with pytest.raises(error):
        cache.get("db/denied")  # still denied after the backoff: still an error


# -- database down vs wrong password ---------------------------------------------------
@pytest.mark.parametrize("engine", ["postgres", "mariadb"])
def test_database_down_never_refreshes_but_wrong_password_does(
    moto: Any, put_secret: Any, pg_user: Any, maria_user: Any, engine: str
) -> None:
    user = pg_user() if engine == "postgres" else maria_user()
    driver = "psycopg2" if engine == "postgres" else "pymysql"
    module: Any = psycopg2 if engine == "postgres" else pymysql
    down = {**user, "port": free_port()}  # nothing listens there
    wrong = {**user, "password": user["password"] + "-wrong"}
    put_secret("db/down", down)
    put_secret("db/wrong", wrong)
    clock = ManualClock()
    cache = make_cache(moto.endpoint_url, clock)
    reconnector = Reconnector(cache, ReconnectPolicy(budget_seconds=3))

    def connect(creds: Any) -> Any:
        kwargs = creds.dbapi_kwargs(driver)
        kwargs["connect_timeout"] = 2
        return module.connect(**kwargs)

    for _ in range(10):
        with pytest.raises(module.OperationalError):
            reconnector.connect("db/down", connect)
    down_calls = cache.stats.api_calls()
    assert down_calls == 1  # the first fetch only; no refresh, no AWSPENDING

    with pytest.raises(AuthenticationFailedError, match="db/wrong"):
        reconnector.connect("db/wrong", connect)
    wrong_calls = cache.stats.api_calls() - down_calls
    assert wrong_calls >= 2  # a refused login does refresh
    assert wrong_calls <= 1 + 2 * 8  # bounded by the budget's rounds (AWSCURRENT + AWSPENDING)
    print(
        f"FIGURES {engine}: db down x10 -> {down_calls} API call; wrong password -> "
        f"{wrong_calls} API calls within a 3s budget"
    )


# -- a rotation that failed half-way -----------------------------------------------------
def test_half_way_rotation_keeps_clients_on_awscurrent(
    moto: Any, put_secret: Any, pg_user: Any, secret_value: Any
) -> None:
    user = pg_user()
    put_secret("db/rotating", user)
    pending_password = secret_value("pending")
    moto.client().put_secret_value(
        SecretId="db/rotating",
        SecretString=__import__("json").dumps({**user, "password": pending_password}),
        VersionStages=["AWSPENDING"],
    )  # createSecret ran, setSecret never did: the database still has the old password
    clock = ManualClock()
    cache = make_cache(moto.endpoint_url, clock)
    reconnector = Reconnector(cache, ReconnectPolicy(budget_seconds=3))
    used: list[str | None] = []

    def connect(creds: Any) -> Any:
        used.append(creds.version_id)
        return psycopg2.connect(**creds.dbapi_kwargs("psycopg2"), connect_timeout=2)

    for _ in range(5):
        reconnector.connect("db/rotating", connect).close()
        clock.advance(11)  # each round refreshes AWSCURRENT
    current = moto.client().get_secret_value(SecretId="db/rotating", VersionStage="AWSCURRENT")
    assert set(used) == {current["VersionId"]}
    assert cache.stats.api_calls() == 5  # AWSCURRENT refreshes only; AWSPENDING never read
