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
    # AWSPENDING (gone), then AWSCURRENT (the new version): read in that order so a
    # rotation finishing between the two reads is never taken for a wrong password.
    assert world.cache.stats.api_calls() - calls == 2


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


def test_wrong_password_fails_at_once_with_the_database_reason(world) -> None:  # type: ignore[no-untyped-def]
    world.reconnector.connect("db/app", connect_pg).close()
    world.set_db_password(world.new_password())  # nobody tells Secrets Manager
    logins: list[str] = []

    def counting(creds):  # type: ignore[no-untyped-def]
        logins.append(creds.version_id)
        return connect_pg(creds)

    calls = world.cache.stats.api_calls()
    with pytest.raises(AuthenticationFailedError) as info:
        world.reconnector.connect("db/app", counting)
    message = str(info.value)
    first_line = message.splitlines()[0]
    assert "password authentication failed" in first_line  # the database's own reason
    assert world.user["username"] in first_line
    assert "db/app" in message and "AWSCURRENT" in message
    assert world.user["password"] not in message
    assert len(logins) == 1  # the version did not change: no second login with it
    assert world.clock.sleeps == []  # no waiting: no AWSPENDING, nothing to wait for
    assert world.cache.stats.api_calls() - calls == 2  # AWSPENDING (none), AWSCURRENT


def test_stuck_rotation_window_waits_out_the_budget_warning_each_round(world, caplog) -> None:  # type: ignore[no-untyped-def]
    world.reconnector.connect("db/app", connect_pg).close()
    world.client.put_secret_value(  # a rotation whose pending password is not the database's
        SecretId="db/app",
        SecretString=json.dumps({**world.user, "password": world.new_password()}),
        VersionStages=["AWSPENDING"],
    )
    world.set_db_password(world.new_password())
    with pytest.raises(AuthenticationFailedError) as info:
        world.reconnector.connect("db/app", connect_pg)
    assert "password authentication failed" in str(info.value).splitlines()[0]
    assert info.value.elapsed_seconds >= 30
    assert sum(world.clock.sleeps) <= 30.0 + 1e-6
    warnings = [
        r
        for r in caplog.records
        if r.name == "pipeline_secrets.reconnect" and r.levelname == "WARNING"
    ]
    assert len(warnings) == len(world.clock.sleeps) >= 5  # one per round of waiting
    assert "rotation in progress" in warnings[0].getMessage()
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
    # Six refused logins, one read of each stage between them: the refresh mark is
    # taken before each login, so a thread refused while another refreshes shares it.
    assert world.cache.stats.api_calls() - calls <= 2


def test_threads_refused_in_waves_share_one_refresh(world, moto) -> None:  # type: ignore[no-untyped-def]
    """Inside a rotation window a refresh costs 2 reads (AWSPENDING, AWSCURRENT), also
    when a second thread is refused while the first one's refresh is running: its mark
    was taken before its login, so it shares that refresh instead of reading again."""
    world.reconnector.connect("db/app", connect_pg).close()
    pw2 = world.new_password()
    world.client.put_secret_value(
        SecretId="db/app",
        SecretString=json.dumps({**world.user, "password": pw2}),
        VersionStages=["AWSPENDING"],
    )
    world.set_db_password(pw2)  # setSecret done; AWSCURRENT still has the old password
    one_refused, two_started, release = threading.Event(), threading.Event(), threading.Event()
    names: dict[int, str] = {}

    def login(creds):  # type: ignore[no-untyped-def]
        me = names[threading.get_ident()]
        if me == "two":
            two_started.set()  # its mark is taken: before thread one's refresh starts
        try:
            return connect_pg(creds)
        except psycopg2.OperationalError:
            if me == "one" and not one_refused.is_set():
                one_refused.set()
                two_started.wait(10)
            elif me == "two":
                release.set()  # refused while thread one's refresh is still running
            raise

    held = {"n": 0}

    def hold_first_refresh(**_: Any) -> None:
        held["n"] += 1
        if held["n"] == 1:
            release.wait(10)

    world.cache.source.clients.client().meta.events.register(
        "before-call.secrets-manager.GetSecretValue", hold_first_refresh
    )
    moto.reset_counts()
    results: dict[str, Any] = {}

    def work(me: str) -> None:
        names[threading.get_ident()] = me
        try:
            results[me] = query_one(world.reconnector.connect("db/app", login))
        except BaseException as exc:
            results[me] = exc

    one = threading.Thread(target=work, args=("one",))
    one.start()
    assert one_refused.wait(10)
    two = threading.Thread(target=work, args=("two",))
    two.start()
    one.join(30)
    two.join(30)
    assert results == {"one": 1, "two": 1}
    assert moto.calls["GetSecretValue"] == 2
