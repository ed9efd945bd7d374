"""SecretsManagerSource against a real moto server."""

from __future__ import annotations

import pytest

from devstack.ports import free_port
from pipeline_secrets import ClientSettings, SecretNotFoundError, SecretsManagerSource
from pipeline_secrets.errors import SecretDeletedError, SecretServiceUnavailableError
from pipeline_secrets.model import SecretRef


def make_source(moto, **kwargs):  # type: ignore[no-untyped-def]
    return SecretsManagerSource(
        ClientSettings.create(endpoint_url=moto.endpoint_url, region_name="us-east-1", **kwargs)
    )


def test_get_by_name_arn_stage_and_version(moto, put_secret):  # type: ignore[no-untyped-def]
    first = put_secret("app/db", {"username": "a", "password": "first-password"})
    second = put_secret("app/db", {"username": "a", "password": "second-password"})
    source = make_source(moto)

    current = source.get_secret_value("app/db")
    assert current.version_id == second["VersionId"]
    assert "AWSCURRENT" in current.version_stages
    assert current.json()["password"] == "second-password"

    by_arn = source.get_secret_value(first["ARN"])
    assert by_arn.name == "app/db"
    assert by_arn.version_id == second["VersionId"]

    previous = source.get_secret_value(SecretRef("app/db", "AWSPREVIOUS"))
    assert previous.version_id == first["VersionId"]
    by_version = source.get_secret_value(SecretRef("app/db", version_id=first["VersionId"]))
    assert by_version.json()["password"] == "first-password"
    assert source.stats.api_calls("GetSecretValue") == 4


def test_binary_secret_and_repr_hides_value(moto, put_secret):  # type: ignore[no-untyped-def]
    put_secret("bin/one", b"\x00\x01binary-secret-bytes", binary=True)
    value = make_source(moto).get_secret_value("bin/one")
    assert value.is_binary
    assert value.secret_binary == b"\x00\x01binary-secret-bytes"
    assert "binary-secret" not in repr(value)
    assert "value=***" in str(value)


def test_not_found_and_deleted(moto, put_secret):  # type: ignore[no-untyped-def]
    source = make_source(moto)
    with pytest.raises(SecretNotFoundError) as info:
        source.get_secret_value("missing/one")
    assert "missing/one" in str(info.value)
    assert info.value.secret_id == "missing/one"

    put_secret("to/delete", "x-value-123")
    moto.client().delete_secret(SecretId="to/delete", RecoveryWindowInDays=7)
    with pytest.raises(SecretDeletedError):
        source.get_secret_value("to/delete")


def test_batch_get_paginates_and_reports_errors(moto, put_secret):  # type: ignore[no-untyped-def]
    names = [f"batch/s{i:02d}" for i in range(45)]
    for name in names:
        put_secret(name, f"value-of-{name}")
    source = make_source(moto)
    result = source.batch_get([*names, "batch/absent"])
    assert set(result.values) == set(names)
    assert result.values["batch/s07"].secret_string == "value-of-batch/s07"
    assert set(result.errors) == {"batch/absent"}
    assert isinstance(result.errors["batch/absent"], SecretNotFoundError)
    # 46 ids in chunks of 20: three calls.
    assert source.stats.api_calls("BatchGetSecretValue") == 3


def test_batch_get_by_prefix(moto, put_secret):  # type: ignore[no-untyped-def]
    for i in range(25):
        put_secret(f"airflow/connections/c{i}", f"postgres://u:p{i}-abcdef@h/db")
    put_secret("other/x", "not-included-value")
    result = make_source(moto).batch_get(name_prefix="airflow/connections/")
    assert len(result.values) == 25
    assert all(k.startswith("airflow/connections/") for k in result.values)


def test_fallback_region_on_outage(moto, put_secret):  # type: ignore[no-untyped-def]
    moto.client("us-west-2").create_secret(Name="replicated", SecretString="replica-value-1")
    dead = f"http://127.0.0.1:{free_port()}"
    settings = ClientSettings.create(
        region_name="us-east-1",
        fallback_regions=["us-west-2"],
        endpoint_urls_by_region={"us-east-1": dead, "us-west-2": moto.endpoint_url},
        botocore_config={"retries": {"max_attempts": 1}, "connect_timeout": 1},
    )
    value = SecretsManagerSource(settings).get_secret_value("replicated")
    assert value.secret_string == "replica-value-1"

    lone = ClientSettings.create(
        region_name="us-east-1",
        endpoint_url=dead,
        botocore_config={"retries": {"max_attempts": 1}, "connect_timeout": 1},
    )
    with pytest.raises(SecretServiceUnavailableError):
        SecretsManagerSource(lone).get_secret_value("replicated")


def test_not_found_does_not_fail_over(moto):  # type: ignore[no-untyped-def]
    settings = ClientSettings.create(
        region_name="us-east-1", endpoint_url=moto.endpoint_url, fallback_regions="us-west-2"
    )
    source = SecretsManagerSource(settings)
    with pytest.raises(SecretNotFoundError):
        source.get_secret_value("nowhere")
    assert source.stats.api_calls() == 1


def test_an_invalid_request_is_a_request_error_not_an_outage(moto):  # type: ignore[no-untyped-def]
    """botocore refuses the request before sending it (an empty id): a mistake of the
    caller, so no failover, no stale serving, no "could not reach Secrets Manager"."""
    from pipeline_secrets.errors import SecretRequestError

    settings = ClientSettings.create(
        region_name="us-east-1", endpoint_url=moto.endpoint_url, fallback_regions="us-west-2"
    )
    source = SecretsManagerSource(settings)
    with pytest.raises(SecretRequestError) as info:
        source.get_secret_value("")
    assert not isinstance(info.value, SecretServiceUnavailableError)
    assert "could not reach" not in str(info.value)
    assert "invalid request" in str(info.value)
    assert moto.calls["GetSecretValue"] == 0


# -- the SecretSource protocol: the direct source and the agent source -----------------------
TOKEN = "source-test-token-" + "Vq3Lm8Zr5Tn2Kx7W"


@pytest.fixture
def agent_process(moto):  # type: ignore[no-untyped-def]
    """A real agent (``pipeline-secrets agent``) in its own process, reading from moto."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from pipeline_secrets.agent.client import AgentClient

    port = free_port()
    env = {**os.environ, **moto.env(), "PIPELINE_SECRETS_AGENT_TOKEN": TOKEN}
    # Every refresh below must reach moto: lift the agent's refreshNow rate limit
    # (tests/pipeline_secrets/agent/test_attacks.py checks the limit itself).
    cmd = [
        *(sys.executable, "-m", "pipeline_secrets.tools", "agent", "--port", str(port)),
        *("--allow-prefix", "db/", "--min-refresh-interval-seconds", "0"),
    ]
    process = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    address = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not AgentClient(address, TOKEN).ping():
        assert time.monotonic() < deadline, "the agent did not start"
        if process.poll() is not None:
            pytest.fail(f"the agent exited: {process.stderr.read().decode()[-500:]}")  # type: ignore[union-attr]
        time.sleep(0.1)
    yield address
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=10)


def test_both_sources_implement_the_protocol(moto) -> None:  # type: ignore[no-untyped-def]
    from pipeline_secrets.agent.client import AgentClient, AgentSource
    from pipeline_secrets.source import SecretSource

    direct = make_source(moto)
    agent = AgentSource(AgentClient("unix:/nonexistent"), direct)
    assert isinstance(direct, SecretSource) and isinstance(agent, SecretSource)
    assert not isinstance(agent, SecretsManagerSource)  # it wraps one, it is not one
    assert agent.client() is direct.client()  # writes go to the wrapped source's client


def test_forced_refresh_through_an_agent_sends_refresh_now(  # type: ignore[no-untyped-def]
    moto, put_secret, agent_process
) -> None:
    """Every fetch the cache is forced to make (force_refresh, a reconnect's
    fetched_after, the first lookup after invalidate) reaches Secrets Manager through
    the agent: the agent was told refreshNow=true instead of serving its cached copy."""
    from pipeline_secrets.agent.client import AgentClient, AgentSource
    from pipeline_secrets.cache import CachePolicy, SecretCache

    put_secret("db/through-agent", "value-1")
    source = AgentSource(AgentClient(agent_process, TOKEN), make_source(moto))
    cache = SecretCache(source, policy=CachePolicy(ttl_seconds=3600))
    assert cache.get("db/through-agent").text() == "value-1"
    moto.reset_counts()
    for round_number in range(2, 10):  # 8 forced refreshes, each after a new version
        put_secret("db/through-agent", f"value-{round_number}")
        if round_number % 3 == 0:
            value = cache.get("db/through-agent", fetched_after=cache.mark())
        elif round_number % 3 == 1:
            cache.invalidate("db/through-agent")
            value = cache.get("db/through-agent")
        else:
            value = cache.get("db/through-agent", force_refresh=True)
        assert value.text() == f"value-{round_number}"
    # Each of the 8 reached moto through the agent (its own cache would have answered
    # without a call had refreshNow been false); nothing went around the agent.
    assert moto.calls["GetSecretValue"] == 8
    stats = cache.stats.snapshot()
    assert stats.get("agent_hits") == 9 and not stats.get("agent_unavailable")
    # An ordinary lookup within the TTL costs nothing anywhere.
    assert cache.get("db/through-agent").text() == "value-9"
    assert moto.calls["GetSecretValue"] == 8


# -- botocore without BatchGetSecretValue (AWS Glue 4.0 bundles botocore 1.27.59) --------
def old_botocore_source(moto):  # type: ignore[no-untyped-def]
    from tests.pipeline_secrets.old_botocore import OldBotocoreFactory

    settings = ClientSettings.create(endpoint_url=moto.endpoint_url, region_name="us-east-1")
    return SecretsManagerSource(clients=OldBotocoreFactory(settings))


@pytest.fixture
def batch_fallback_log(monkeypatch, caplog):  # type: ignore[no-untyped-def]
    """The one-time line about the missing BatchGetSecretValue, as if first in the process."""
    from pipeline_secrets import source as source_module

    monkeypatch.setattr(source_module, "_batch_fallback_logged", False, raising=False)

    def lines() -> list[str]:
        return [
            r.getMessage()
            for r in caplog.records
            if r.name == "pipeline_secrets.source" and "BatchGetSecretValue" in r.getMessage()
        ]

    return lines


def test_batch_get_without_batch_api_gets_one_by_one(  # type: ignore[no-untyped-def]
    moto, put_secret, batch_fallback_log
) -> None:
    names = [f"old/s{i:02d}" for i in range(23)]  # more than one batch's worth
    for name in names:
        put_secret(name, f"value-of-{name}")
    source = old_botocore_source(moto)
    result = source.batch_get([*names, "old/absent", names[0]])
    assert set(result.values) == set(names)
    assert result.values["old/s07"].secret_string == "value-of-old/s07"
    assert set(result.errors) == {"old/absent"}
    assert isinstance(result.errors["old/absent"], SecretNotFoundError)
    assert source.stats.api_calls("GetSecretValue") == 24  # duplicates asked once
    assert source.stats.api_calls("BatchGetSecretValue") == 0
    assert moto.calls["GetSecretValue"] == 24 and "BatchGetSecretValue" not in moto.calls

    by_prefix = source.batch_get(name_prefix="old/")
    assert set(by_prefix.values) == set(names) and not by_prefix.errors
    assert source.stats.api_calls("ListSecrets") == 1
    # One line for the process, naming what is missing and what happens instead.
    old_botocore_source(moto).batch_get(["old/s01"])
    [line] = batch_fallback_log()
    assert "botocore" in line and "one GetSecretValue per secret" in line


def test_batch_fallback_raises_what_the_batch_call_would_raise(  # type: ignore[no-untyped-def]
    moto, put_secret, batch_fallback_log
) -> None:
    """Throttling is an error of the call, not of one secret: raised, as BatchGetSecretValue's
    own throttling is; access denied to one secret is that secret's error."""
    from pipeline_secrets.errors import SecretAccessDeniedError, SecretThrottledError

    put_secret("old/a", "value-a-123456")
    put_secret("old/b", "value-b-123456")
    source = old_botocore_source(moto)
    denied = {"__type": "AccessDeniedException", "message": "not allowed"}
    moto.set_fault(lambda op: (400, denied) if op == "GetSecretValue" else None)
    result = source.batch_get(["old/a", "old/b"])
    assert not result.values
    assert all(isinstance(e, SecretAccessDeniedError) for e in result.errors.values())
    throttled = {"__type": "ThrottlingException", "message": "slow down"}
    moto.set_fault(lambda op: (400, throttled) if op == "GetSecretValue" else None)
    with pytest.raises(SecretThrottledError):
        make_source_fast_fail(moto).batch_get(["old/a"])


def make_source_fast_fail(moto):  # type: ignore[no-untyped-def]
    from tests.pipeline_secrets.old_botocore import OldBotocoreFactory

    settings = ClientSettings.create(
        endpoint_url=moto.endpoint_url,
        region_name="us-east-1",
        botocore_config={"retries": {"mode": "standard", "max_attempts": 1}},
    )
    return SecretsManagerSource(clients=OldBotocoreFactory(settings))


def test_list_secrets_on_botocore_without_include_planned_deletion(  # type: ignore[no-untyped-def]
    moto, put_secret
) -> None:
    """botocore 1.27.59's ListSecrets has no IncludePlannedDeletion: leaving it out is
    the same request (planned deletions are excluded by default)."""
    put_secret("old/kept", "value-kept-1234")
    put_secret("old/going", "value-going-1234")
    moto.client().delete_secret(SecretId="old/going", RecoveryWindowInDays=7)
    for source in (make_source(moto), old_botocore_source(moto)):
        assert [e["Name"] for e in source.list_secrets("old/")] == ["old/kept"]
