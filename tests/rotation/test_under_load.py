"""Rotation under load: 4 threads connect-query-disconnect in a loop while 20
single-user rotations run, each holding the rotation window (setSecret done,
finishSecret not yet) open until every thread has completed a query attempt that it
started inside the window (an event-driven window, not a fixed sleep: on a loaded
machine a fixed window could close before any thread tried, and the test would prove
nothing).

Through the core Reconnector: zero failed queries. With a client that re-fetches
AWSCURRENT once and gives up: failures in the window, which shows the test can fail.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from pipeline_secrets.cache import CachePolicy, SecretCache
from pipeline_secrets.classify import is_authentication_failure
from pipeline_secrets.credentials import DatabaseCredentials, parse_db_credentials
from pipeline_secrets.reconnect import Reconnector, ReconnectPolicy
from pipeline_secrets.rotation import rotate_secret

THREADS = 4
ROTATIONS = 20
SAFETY_TIMEOUT_SECONDS = 60.0  # only a hung worker ever reaches it


class Window:
    """Which threads finished an attempt they started while the window was open."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.generation = 0  # odd: open
        self.finished_inside: set[int] = set()
        self.started_threads: set[int] = set()

    def attempt_started(self) -> int:
        with self.cond:
            return self.generation

    def attempt_finished(self, generation: int) -> None:
        with self.cond:
            self.started_threads.add(threading.get_ident())
            if generation == self.generation and generation % 2 == 1:
                self.finished_inside.add(threading.get_ident())
            self.cond.notify_all()

    def wait_all_threads_ran(self) -> None:
        with self.cond:
            assert self.cond.wait_for(
                lambda: len(self.started_threads) >= THREADS, SAFETY_TIMEOUT_SECONDS
            ), "the worker threads never ran"

    def hold_open(self) -> None:
        """Open the window and keep it open until every thread finished an attempt
        started inside it; then close it."""
        with self.cond:
            self.generation += 1
            self.finished_inside.clear()
            ok = self.cond.wait_for(
                lambda: len(self.finished_inside) >= THREADS, SAFETY_TIMEOUT_SECONDS
            )
            self.generation += 1
        assert ok, "the workers never completed an attempt inside the rotation window"


def _query(creds: DatabaseCredentials) -> None:
    import psycopg2

    conn = psycopg2.connect(**creds.dbapi_kwargs("psycopg2"), connect_timeout=5)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
            assert cur.fetchone() == (1,)
    finally:
        conn.close()


REFUSED: list[int] = []  # logins the database refused inside Reconnector.connect


def _reconnector_client(cache: SecretCache, name: str) -> Callable[[], None]:
    policy = ReconnectPolicy(
        budget_seconds=15.0, initial_backoff_seconds=0.02, max_backoff_seconds=0.2
    )
    reconnector = Reconnector(cache, policy)

    def counted(creds: DatabaseCredentials) -> None:
        try:
            _query(creds)
        except Exception as exc:
            if is_authentication_failure(exc):
                REFUSED.append(1)
            raise

    def run() -> None:
        reconnector.connect(name, counted)

    return run


def _naive_client(cache: SecretCache, name: str) -> Callable[[], None]:
    """Refreshes AWSCURRENT once on an authentication failure, then gives up."""

    def run() -> None:
        creds = parse_db_credentials(cache.get(name), secret_id=name)
        try:
            _query(creds)
        except Exception as exc:
            if not is_authentication_failure(exc):
                raise
            _query(parse_db_credentials(cache.get(name, force_refresh=True), secret_id=name))

    return run


def _run_load(
    sm: Any, name: str, make_client: Callable[[SecretCache, str], Callable[[], None]]
) -> tuple[int, int, list[str]]:
    cache = SecretCache(policy=CachePolicy(ttl_seconds=300.0, negative_ttl_seconds=1.0))
    client = make_client(cache, name)
    stop = threading.Event()
    lock = threading.Lock()
    counts = {"ok": 0, "failed": 0}
    kinds: list[str] = []
    window = Window()

    def worker() -> None:
        while not stop.is_set():
            generation = window.attempt_started()
            try:
                client()
            except Exception as exc:
                with lock:
                    counts["failed"] += 1
                    kinds.append(type(exc).__name__)
            else:
                with lock:
                    counts["ok"] += 1
            window.attempt_finished(generation)

    def hold_window(step: str) -> None:
        if step == "setSecret":
            window.hold_open()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(THREADS)]
    for t in threads:
        t.start()
    try:
        window.wait_all_threads_ran()
        for _ in range(ROTATIONS):
            assert rotate_secret(name, client=sm, on_step=hold_window).finished
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
    assert not any(t.is_alive() for t in threads)
    return counts["ok"], counts["failed"], kinds


@pytest.mark.postgres
@pytest.mark.slow
def test_reconnector_survives_20_rotations(sm: Any, db_secret: Any, stages: Any) -> None:
    name = db_secret("postgres")
    REFUSED.clear()
    started = time.monotonic()
    ok, failed, kinds = _run_load(sm, name, _reconnector_client)
    elapsed = time.monotonic() - started
    print(
        f"reconnector: {ok} queries ok, {failed} failed in {elapsed:.1f}s; "
        f"{len(REFUSED)} refused logins retried"
    )
    assert failed == 0, kinds[:5]
    assert REFUSED, "no login was refused: the rotation window was never hit"
    assert ok > ROTATIONS * THREADS
    assert len(sm.list_secret_version_ids(SecretId=name)["Versions"]) >= ROTATIONS


@pytest.mark.postgres
@pytest.mark.slow
def test_a_client_that_refetches_current_once_fails_in_the_window(sm: Any, db_secret: Any) -> None:
    name = db_secret("postgres")
    ok, failed, kinds = _run_load(sm, name, _naive_client)
    print(f"naive client: {ok} queries ok, {failed} failed")
    assert failed > 0
    assert ok > 0
    assert set(kinds) == {"OperationalError"}  # psycopg2: password authentication failed
