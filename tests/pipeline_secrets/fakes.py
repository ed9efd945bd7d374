"""An in-process source for pure cache-logic tests (timing, single-flight, backoff)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from pipeline_secrets.errors import SecretError, SecretNotFoundError
from pipeline_secrets.model import SecretRef, SecretValue
from pipeline_secrets.stats import Stats


class FakeSource:
    def __init__(self) -> None:
        self.stats = Stats()
        self.values: dict[str, tuple[str, str]] = {}  # id -> (version, value)
        self.pending: dict[str, tuple[str, str]] = {}
        self.fail_with: SecretError | None = None
        self.calls = 0
        self.refreshes: list[bool] = []  # the refresh flag of every call, in order
        self.gate: threading.Event | None = None  # blocks fetches while set-able
        self.on_call: Callable[[], None] | None = None
        self._lock = threading.Lock()

    def put(self, secret_id: str, version: str, value: str) -> None:
        self.values[secret_id] = (version, value)

    def get_secret_value(self, ref: SecretRef | str, *, refresh: bool = False) -> SecretValue:
        ref = SecretRef.of(ref)
        secret_id, version_stage = ref.secret_id, ref.version_stage
        with self._lock:
            self.calls += 1
            self.refreshes.append(refresh)
        self.stats.api_call("GetSecretValue")
        if self.on_call:
            self.on_call()
        if self.gate is not None:
            self.gate.wait(10)
        if self.fail_with is not None:
            raise self.fail_with
        table = self.pending if version_stage == "AWSPENDING" else self.values
        if secret_id not in table:
            raise SecretNotFoundError(f"{secret_id} not found", secret_id=secret_id)
        version, value = table[secret_id]
        return SecretValue(
            secret_id=secret_id,
            name=secret_id,
            arn=f"arn:{secret_id}",
            version_id=version,
            version_stages=(version_stage or "AWSCURRENT",),
            secret_string=value,
        )
