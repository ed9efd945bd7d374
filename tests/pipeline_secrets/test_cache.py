"""SecretCache: pure timing logic with a manual clock, and behaviour against moto."""

from __future__ import annotations

import itertools
import os
import random
import threading

import pytest

from pipeline_secrets import (
    CachePolicy,
    ClientSettings,
    SecretCache,
    SecretNotFoundError,
    SecretsManagerSource,
)
from pipeline_secrets.clock import ManualClock
from pipeline_secrets.errors import (
    SecretAccessDeniedError,
    SecretServiceUnavailableError,
    SecretThrottledError,
)
from tests.pipeline_secrets.fakes import FakeSource

POLICY = CachePolicy(
    ttl_seconds=60,
    negative_ttl_seconds=10,
    max_stale_seconds=300,
    backoff_initial_seconds=2,
    backoff_max_seconds=16,
    jitter_ratio=0.0,
)


def make(policy: CachePolicy = POLICY) -> tuple[SecretCache, FakeSource, ManualClock]:
    source = FakeSource()
    clock = ManualClock()
    cache = SecretCache(source, policy=policy, clock=clock, rng=random.Random(1))  # type: ignore[arg-type]
    return cache, source, clock


def test_ttl_hit_then_refresh() -> None:
    cache, source, clock = make()
    source.put("s", "v1", "one")
    assert cache.get("s").secret_string == "one"
    source.put("s", "v2", "two")
    clock.advance(59)
    assert cache.get("s").secret_string == "one"
    assert source.calls == 1
    clock.advance(2)
    assert cache.get("s").secret_string == "two"
    assert source.calls == 2
    snap = cache.stats.snapshot()
    assert (snap["hits"], snap["misses"], snap["refreshes"]) == (1, 1, 1)


def test_negative_cache_has_its_own_ttl() -> None:
    cache, source, clock = make()
    for _ in range(3):
        with pytest.raises(SecretNotFoundError):
            cache.get("absent")
    assert source.calls == 1
    assert cache.stats.snapshot()["negative_hits"] == 2
    clock.advance(11)
    source.put("absent", "v1", "now-here")
    assert cache.get("absent").secret_string == "now-here"
    assert source.calls == 2


def test_stages_are_cached_separately() -> None:
    cache, source, _ = make()
    source.put("s", "v1", "current")
    source.pending["s"] = ("v2", "pending")
    assert cache.get("s").secret_string == "current"
    assert cache.get("s", version_stage="AWSPENDING").secret_string == "pending"
    assert cache.get("s").secret_string == "current"
    assert source.calls == 2


def test_stale_if_error_with_capped_backoff() -> None:
    cache, source, clock = make()
    source.put("s", "v1", "good")
    cache.get("s")
    clock.advance(61)
    source.fail_with = SecretThrottledError("throttled", secret_id="s")
    calls_before = source.calls
    assert cache.get("s").secret_string == "good"  # refresh fails: stale served
    assert source.calls == calls_before + 1
    # Within the backoff (2s) no call is made.
    clock.advance(1)
    assert cache.get("s").secret_string == "good"
    assert source.calls == calls_before + 1
    # After it, one call per backoff period; the backoff doubles: 2, 4, 8, 16, 16 (capped).
    call_times = [clock.monotonic() - 1]
    source.on_call = lambda: call_times.append(clock.monotonic())
    while len(call_times) < 6:
        clock.advance(0.5)
        assert cache.get("s").secret_string == "good"
    gaps = [b - a for a, b in itertools.pairwise(call_times)]
    assert [round(g) for g in gaps] == [2, 4, 8, 16, 16]
    assert cache.stats.snapshot()["stale_serves"] > 5
    # Recovery: the next allowed call succeeds and the value is fresh again.
    source.fail_with = None
    source.put("s", "v2", "new")
    clock.advance(17)
    assert cache.get("s").secret_string == "new"


def test_stale_window_ends_with_a_clear_error() -> None:
    cache, source, clock = make()
    source.put("s", "v1", "good")
    cache.get("s")
    source.fail_with = SecretServiceUnavailableError("down", secret_id="s")
    clock.advance(60 + 300 + 1)  # past TTL + max stale
    with pytest.raises(SecretServiceUnavailableError):
        cache.get("s")


def test_access_denied_is_never_served_stale() -> None:
    cache, source, clock = make()
    source.put("s", "v1", "good")
    cache.get("s")
    clock.advance(61)
    source.fail_with = SecretAccessDeniedError("denied", secret_id="s")
    with pytest.raises(SecretAccessDeniedError):
        cache.get("s")
    # Remembered during backoff: no call storm, still no stale value.
    calls = source.calls
    with pytest.raises(SecretAccessDeniedError):
        cache.get("s")
    assert source.calls == calls


def test_single_flight_on_miss() -> None:
    cache, source, _ = make()
    source.put("s", "v1", "value")
    source.gate = threading.Event()
    results: list[str] = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.get("s").secret_string or ""))
        for _ in range(16)
    ]
    for t in threads:
        t.start()
    # Let every thread reach the flight, then release the single fetch.
    while len(cache._flights) == 0:
        pass
    source.gate.set()
    for t in threads:
        t.join(10)
    assert results == ["value"] * 16
    assert source.calls == 1


def test_single_flight_on_forced_refresh_and_fetched_after() -> None:
    cache, source, _clock = make()
    source.put("s", "v1", "old")
    cache.get("s")
    failed_at = cache.mark()
    source.put("s", "v2", "new")
    # Many callers that saw "old" fail ask for a value fetched after that moment.
    for _ in range(10):
        assert cache.get("s", fetched_after=failed_at).secret_string == "new"
    assert source.calls == 2


def test_same_version_refresh_costs_no_parse() -> None:
    cache, source, clock = make()
    source.put("s", "v1", '{"a": 1}')
    parses = []

    def parse(value):  # type: ignore[no-untyped-def]
        parses.append(value.version_id)
        return value.json()

    for _ in range(3):
        assert cache.get_parsed("s", parse) == {"a": 1}
        clock.advance(61)
    assert source.calls == 3
    assert parses == ["v1"]
    source.put("s", "v2", '{"a": 2}')
    clock.advance(61)
    assert cache.get_parsed("s", parse) == {"a": 2}
    assert parses == ["v1", "v2"]


def test_policy_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIPELINE_SECRETS_CACHE_TTL_SECONDS", "42")
    policy = CachePolicy.create(negative_ttl_seconds=3)
    assert policy.ttl_seconds == 42
    assert policy.negative_ttl_seconds == 3
    assert CachePolicy.create(ttl_seconds=7).ttl_seconds == 7  # argument wins
    monkeypatch.setenv("PIPELINE_SECRETS_CACHE_TTL_SECONDS", "soon")
    with pytest.raises(ValueError, match="PIPELINE_SECRETS_CACHE_TTL_SECONDS"):
        CachePolicy.create()


# -- against the real moto server -------------------------------------------------------
def moto_cache(moto, **policy):  # type: ignore[no-untyped-def]
    settings = ClientSettings.create(endpoint_url=moto.endpoint_url, region_name="us-east-1")
    return SecretCache(SecretsManagerSource(settings), policy=CachePolicy(**policy))


def test_prefetch_by_prefix_answers_misses_without_calls(moto, put_secret):  # type: ignore[no-untyped-def]
    for i in range(30):
        put_secret(f"airflow/variables/v{i}", f"value-number-{i}")
    cache = moto_cache(moto)
    cache.prefetch(name_prefix="airflow/variables/")
    assert cache.stats.api_calls("BatchGetSecretValue") == 2
    assert cache.get("airflow/variables/v17").secret_string == "value-number-17"
    with pytest.raises(SecretNotFoundError):
        cache.get("airflow/variables/absent")
    assert cache.stats.api_calls("GetSecretValue") == 0


def test_threads_share_one_call_per_secret(moto, put_secret):  # type: ignore[no-untyped-def]
    for i in range(5):
        put_secret(f"mt/s{i}", f"value-mt-{i}")
    cache = moto_cache(moto)
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            barrier.wait()
            for _ in range(200):
                for i in range(5):
                    assert cache.get(f"mt/s{i}").secret_string == f"value-mt-{i}"
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert cache.stats.api_calls("GetSecretValue") == 5


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_fork_child_builds_its_own_client(moto, put_secret):  # type: ignore[no-untyped-def]
    put_secret("fork/s", "value-before-fork")
    cache = moto_cache(moto, ttl_seconds=0.0)
    assert cache.get("fork/s").secret_string == "value-before-fork"
    parent_client = cache.source.clients.client(None)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read)
        ok = b"0"
        try:
            child_client = cache.source.clients.client(None)
            value = cache.get("fork/s", force_refresh=True).secret_string
            ok = (
                b"1"
                if (child_client is not parent_client and value == "value-before-fork")
                else b"2"
            )
        finally:
            os.write(write, ok)
            os._exit(0)
    os.close(write)
    answer = os.read(read, 1)
    os.waitpid(pid, 0)
    assert answer == b"1"


def test_only_forced_fetches_ask_the_source_to_refresh() -> None:
    """TTL expiry may be answered by an agent's cache; a forced fetch may not."""
    cache, source, clock = make()
    source.put("s", "v1", "one")
    cache.get("s")  # miss
    clock.advance(61)
    cache.get("s")  # TTL expired: an ordinary refetch
    cache.get("s", force_refresh=True)
    mark = cache.mark()
    cache.get("s", fetched_after=mark)  # a reconnect: newer than what was refused
    cache.invalidate("s")
    cache.get("s")  # the first lookup after invalidate (the backend after a refused login)
    cache.get("s")  # then a plain hit again
    assert source.refreshes == [False, False, True, True, True]
    assert source.calls == 5


def test_a_not_found_from_an_older_fetch_does_not_satisfy_a_later_mark() -> None:
    """A "not found" is stamped with its own fetch, not with the counter at its end."""
    cache, source, _clock = make()
    gate = threading.Event()
    source.gate = gate
    started = threading.Event()
    source.on_call = started.set
    errors: list[BaseException] = []

    def slow_miss() -> None:
        try:
            cache.get("p", version_stage="AWSPENDING")
        except SecretNotFoundError as exc:
            errors.append(exc)

    worker = threading.Thread(target=slow_miss)
    worker.start()
    assert started.wait(5)
    mark = cache.mark()  # a caller refused after that fetch started
    source.put("other", "v1", "x")
    source.gate = None
    cache.get("other")  # another fetch moves the counter on meanwhile
    gate.set()
    worker.join(5)
    assert errors
    source.pending["p"] = ("v9", "pending-value")
    value = cache.get("p", version_stage="AWSPENDING", fetched_after=mark)
    assert value.version_id == "v9"


def test_prefetch_on_botocore_without_batch_api(moto, put_secret, monkeypatch):  # type: ignore[no-untyped-def]
    """AWS Glue 4.0's botocore (1.27.59) has no BatchGetSecretValue: prefetch still fills
    the cache and the listing (ListSecrets + one GetSecretValue each), no AttributeError."""
    from pipeline_secrets import source as source_module
    from tests.pipeline_secrets.old_botocore import OldBotocoreFactory

    monkeypatch.setattr(source_module, "_batch_fallback_logged", False, raising=False)
    for i in range(5):
        put_secret(f"glue4/vars/v{i}", f"value-number-{i}")
    settings = ClientSettings.create(endpoint_url=moto.endpoint_url, region_name="us-east-1")
    cache = SecretCache(SecretsManagerSource(clients=OldBotocoreFactory(settings)))
    moto.reset_counts()
    cache.prefetch(name_prefix="glue4/vars/")
    cache.prefetch(["glue4/vars/v1", "glue4/absent"])
    assert moto.calls == {"ListSecrets": 1, "GetSecretValue": 7}
    assert cache.get("glue4/vars/v3").secret_string == "value-number-3"
    with pytest.raises(SecretNotFoundError):
        cache.get("glue4/vars/absent")  # answered by the listing
    with pytest.raises(SecretNotFoundError):
        cache.get("glue4/absent")  # answered by the negative entry
    assert moto.calls == {"ListSecrets": 1, "GetSecretValue": 7}  # no call for any of them
