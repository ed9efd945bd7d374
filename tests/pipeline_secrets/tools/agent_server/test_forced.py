"""The refreshNow gate (pure logic, injected clock): every answer was read after its
request arrived; forced reads of one key start at least the interval apart."""

from __future__ import annotations

import threading
import time

from pipeline_secrets.tools.agent_server.forced import ForcedRefreshGate


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_a_request_after_a_forced_read_reads_again_after_the_interval() -> None:
    clock = FakeClock()
    gate = ForcedRefreshGate(1.0, clock=clock, sleep=clock.sleep)
    reads: list[float] = []

    def fetch() -> str:
        reads.append(clock.now)
        return f"read at {clock.now}"

    assert gate.run("k", clock.now, fetch, lambda: "cached") == ("read at 100.0", True)
    clock.now += 0.25
    # Arrived after that read started: it must not be answered by it, it waits its turn.
    assert gate.run("k", clock.now, fetch, lambda: "cached") == ("read at 101.0", True)
    assert clock.slept == [0.75]
    clock.now += 5
    assert gate.run("k", clock.now, fetch, lambda: "cached")[1] is True
    assert clock.slept == [0.75]  # no wait once the interval has passed
    assert gate.run("other", clock.now, fetch, lambda: "cached")[1] is True  # per key
    assert len(reads) == 4


def test_a_request_that_arrived_before_a_read_started_shares_it() -> None:
    clock = FakeClock()
    gate = ForcedRefreshGate(1.0, clock=clock, sleep=clock.sleep)
    arrived = clock.now
    clock.now += 0.1
    assert gate.run("k", clock.now, lambda: "fresh", lambda: "cached") == ("fresh", True)
    assert gate.run("k", arrived, lambda: "again", lambda: "cached") == ("cached", False)


def test_concurrent_requests_share_one_read() -> None:
    gate = ForcedRefreshGate(30.0)
    calls = 0
    release = threading.Event()

    def fetch() -> str:
        nonlocal calls
        calls += 1
        release.wait(5)
        return "fresh"

    arrived = gate.now()
    results: list[tuple[str, bool]] = []
    threads = [
        threading.Thread(target=lambda: results.append(gate.run("k", arrived, fetch, lambda: "c")))
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    time.sleep(0.2)
    release.set()
    for t in threads:
        t.join(10)
    assert calls == 1
    assert sorted(results) == [("c", False)] * 7 + [("fresh", True)]
