"""The reconnect policy against real PostgreSQL (SCRAM) and a real moto server."""

from __future__ import annotations

import json
import threading
from typing import Any

import psycopg2
import pytest

from devstack.ports import free_port
from pipeline_secrets import (
    AuthenticationFailedError,
    CachePolicy,
    ClientSettings,
    Reconnector,
    ReconnectPolicy,
    SecretCache,
    SecretsManagerSource,
)
from pipeline_secrets.clock import ManualClock


def connect_pg(creds):  # type: ignore[no-untyped-def]
    return psycopg2.connect(**creds.dbapi_kwargs("psycopg2"), connect_timeout=3)


@pytest.fixture
def world(moto, pg_cluster, pg_user, put_secret, secret_value):  # type: ignore[no-untyped-def]
    """A secret for a fresh user, a long-TTL cache and a reconnector, all real."""
    user = pg_user()
    put_secret("db/app", user)
    settings = ClientSettings.create(endpoint_url=moto.endpoint_url, region_name="us-east-1")
    clock = ManualClock()
    cache = SecretCache(
        SecretsManagerSource(settings), policy=CachePolicy(ttl_seconds=3600), clock=clock
    )
    reconnector = Reconnector(cache, ReconnectPolicy(budget_seconds=30))

    class World:
        pass

    w: Any = World()
    w.user, w.cache, w.reconnector, w.clock, w.client = (
        user,
        cache,
        reconnector,
        clock,
        moto.client(),
    )

    def set_db_password(password: str) -> None:
        from psycopg2 import sql

        pg_cluster.admin_sql(
            sql.SQL("ALTER USER {} PASSWORD %s").format(sql.Identifier(user["username"])),
            (password,),
        )

    def new_password() -> str:
        return secret_value("rot")

    w.set_db_password, w.new_password = set_db_password, new_password
    return w


def query_one(conn) -> int:  # type: ignore[no-untyped-def]
    with conn.cursor() as cur:
        cur.execute("SELECT 1")
        value = cur.fetchone()[0]
    conn.close()
    return int(value)


def test_finished_rotation_is_followed(world) -> None:  # type: ignore[no-untyped-def]
    assert query_one(world.reconnector.connect("db/app", connect_pg)) == 1
    pw2 = world.new_password()
    world.set_db_password(pw2)
    world.client.put_secret_value(
        SecretId="db/app", SecretString=json.dumps({**world.user, "password": pw2})
    )
    calls = world.cache.stats.api_calls()
    assert query_one(world.reconnector.connect("db/app", connect_pg)) == 1
    # One refresh of AWSCURRENT found the new version; nothing else was needed.
    assert world.cache.stats.api_calls() - calls == 1


def test_rotation_window_uses_pending_then_remembers_it(world) -> None:  # type: ignore[no-untyped-def]
    world.reconnector.connect("db/app", connect_pg).close()
    pw2 = world.new_password()
    world.client.put_secret_value(
        SecretId="db/app",
        SecretString=json.dumps({**world.user, "password": pw2}),
        VersionStages=["AWSPENDING"],
    )
    world.set_db_password(pw2)  # setSecret done; AWSCURRENT still has the old password
    attempts: list[str] = []

    def counting(creds):  # type: ignore[no-untyped-def]
        attempts.append(creds.version_id)
        return connect_pg(creds)

    assert query_one(world.reconnector.connect("db/app", counting)) == 1
    assert len(attempts) == 2  # current refused, pending accepted
    attempts.clear()
    calls = world.cache.stats.api_calls()
    assert query_one(world.reconnector.connect("db/app", counting)) == 1
    assert len(attempts) == 1  # straight to the pending version that worked
    assert world.cache.stats.api_calls() == calls


def test_database_down_causes_no_secret_refresh(world) -> None:  # type: ignore[no-untyped-def]
    world.reconnector.connect("db/app", connect_pg).close()
    calls = world.cache.stats.api_calls()
    dead_port = free_port()

    def down(creds):  # type: ignore[no-untyped-def]
        return psycopg2.connect(
            host="127.0.0.1", port=dead_port, user="x", password="y", connect_timeout=2
        )

    with pytest.raises(psycopg2.OperationalError):
        world.reconnector.connect("db/app", down)
    assert world.cache.stats.api_calls() == calls


def test_budget_runs_out_with_a_clear_error(world) -> None:  # type: ignore[no-untyped-def]
    world.reconnector.connect("db/app", connect_pg).close()
    world.set_db_password(world.new_password())  # nobody tells Secrets Manager
    with pytest.raises(AuthenticationFailedError) as info:
        world.reconnector.connect("db/app", connect_pg)
    message = str(info.value)
    assert "db/app" in message and "AWSCURRENT" in message
    assert world.user["password"] not in message
    assert info.value.elapsed_seconds >= 30
    assert sum(world.clock.sleeps) <= 30.0 + 1e-6
    # Bounded API calls: backoff doubles up to 5s, so ~10 rounds of at most 2 calls.
    assert world.cache.stats.api_calls() < 30


def test_many_threads_failing_together_refresh_once(world) -> None:  # type: ignore[no-untyped-def]
    world.reconnector.connect("db/app", connect_pg).close()
    pw2 = world.new_password()
    world.set_db_password(pw2)
    world.client.put_secret_value(
        SecretId="db/app", SecretString=json.dumps({**world.user, "password": pw2})
    )
    calls = world.cache.stats.api_calls()
    barrier = threading.Barrier(6)
    results: list[Any] = []

    def work() -> None:
        barrier.wait()
        try:
            results.append(query_one(world.reconnector.connect("db/app", connect_pg)))
        except BaseException as exc:
            results.append(exc)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results == [1] * 6
    # Six refused logins, but the refreshes were shared: far fewer than six per stage.
    assert world.cache.stats.api_calls() - calls <= 4
