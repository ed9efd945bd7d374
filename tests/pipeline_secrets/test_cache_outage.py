"""Past the stale window, an endpoint that is down is not called on every lookup
(deterministic, with the injected clock). Found by the fault-injection tests."""

from __future__ import annotations

import pytest

from pipeline_secrets import CachePolicy, SecretCache
from pipeline_secrets.clock import ManualClock
from pipeline_secrets.errors import SecretServiceUnavailableError
from tests.pipeline_secrets.fakes import FakeSource


def test_past_stale_window_errors_repeat_during_backoff_then_recover() -> None:
    clock = ManualClock()
    source = FakeSource()
    policy = CachePolicy(
        ttl_seconds=10,
        max_stale_seconds=20,
        backoff_initial_seconds=4,
        backoff_max_seconds=4,
        jitter_ratio=0,
    )
    cache = SecretCache(source, policy=policy, clock=clock)  # type: ignore[arg-type]
    source.put("s", "v1", "good")
    cache.get("s")
    source.fail_with = SecretServiceUnavailableError("down", secret_id="s")
    clock.advance(31)  # past TTL + max stale
    with pytest.raises(SecretServiceUnavailableError):
        cache.get("s")
    calls = source.calls
    for _ in range(100):
        with pytest.raises(SecretServiceUnavailableError):
            cache.get("s")
    assert source.calls == calls  # no call storm during the backoff
    clock.advance(5)  # backoff over: one new try
    with pytest.raises(SecretServiceUnavailableError):
        cache.get("s")
    assert source.calls == calls + 1
    source.fail_with = None
    source.put("s", "v2", "fresh")
    clock.advance(5)
    assert cache.get("s").secret_string == "fresh"
