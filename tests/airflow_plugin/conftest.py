"""Fixtures for the Airflow backend tests: ours and the amazon provider's, side by side."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

pytest.importorskip("airflow")

from devstack.moto_server import MotoServer

AIRFLOW_MAJOR = int(__import__("airflow").__version__.split(".")[0])
CONN_FIELDS = ("conn_type", "host", "login", "password", "schema", "port")


def conn_fields(conn: Any) -> dict[str, Any] | None:
    """The comparable fields of a Connection (extra as a dict)."""
    if conn is None:
        return None
    fields = {name: getattr(conn, name) for name in CONN_FIELDS}
    fields["extra"] = conn.extra_dejson
    return fields


class CallCounter:
    """Counts Secrets Manager API calls made by one botocore client."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}

    def __call__(self, model: Any, **_: Any) -> None:
        self.calls[model.name] = self.calls.get(model.name, 0) + 1

    @property
    def total(self) -> int:
        return sum(self.calls.values())


@pytest.fixture
def official(moto: MotoServer) -> Callable[..., Any]:
    """Build the amazon provider's backend (its client counted by a botocore hook)."""
    module = pytest.importorskip("airflow.providers.amazon.aws.secrets.secrets_manager")

    def make(**kwargs: Any) -> Any:
        backend = module.SecretsManagerBackend(**kwargs)
        counter = CallCounter()
        backend.client.meta.events.register("before-call.secrets-manager.*", counter)
        backend.calls = counter
        return backend

    return make


@pytest.fixture
def ours(moto: MotoServer) -> Iterator[Callable[..., Any]]:
    from airflow_plugin.secrets_manager import SecretsManagerBackend

    made: list[Any] = []

    def make(**kwargs: Any) -> Any:
        backend = SecretsManagerBackend(**kwargs)
        made.append(backend)
        return backend

    yield make


def api_calls(backend: Any) -> int:
    """API calls a backend made (ours: its counters; the provider's: the hook)."""
    if hasattr(backend, "calls"):
        return int(backend.calls.total)
    return int(backend.stats()["api_calls_total"])


@pytest.fixture
def multi_team(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__CORE__MULTI_TEAM", "True")
