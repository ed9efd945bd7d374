"""Secrets on Spark executors: one cache and reconnector per executor process.

Code shipped to executors (partition writers and readers) carries only the secret id
and how to reach Secrets Manager, never credentials. Each Python worker process
builds its own cache on first use and keeps it for every later task it runs (Spark
reuses Python workers), so a stage of N tasks costs about one GetSecretValue per
worker, not N. The core cache is fork-safe: a forked worker builds its own client.
"""

from __future__ import annotations

import os
import pickle
import threading
from dataclasses import dataclass

from pipeline_secrets.cache import CachePolicy, SecretCache
from pipeline_secrets.client import ClientSettings
from pipeline_secrets.reconnect import Reconnector, ReconnectPolicy
from pipeline_secrets.source import SecretsManagerSource


@dataclass(frozen=True)
class SecretAccess:
    """How an executor reaches Secrets Manager and how hard it retries logins.

    Picklable; ``client_settings=None`` means boto3's own environment (the executor's
    IAM role on Glue and EMR). Explicit keys in ``client_settings`` would travel with
    the task: prefer roles.
    """

    client_settings: ClientSettings | None = None
    cache_policy: CachePolicy | None = None
    reconnect_policy: ReconnectPolicy | None = None


_lock = threading.Lock()
_reconnectors: dict[tuple[int, bytes], Reconnector] = {}


def executor_reconnector(access: SecretAccess | None = None) -> Reconnector:
    """The reconnector of this process for ``access`` (created on first use)."""
    access = access or SecretAccess()
    key = (os.getpid(), pickle.dumps(access))  # settings hold dicts: not hashable
    with _lock:
        found = _reconnectors.get(key)
        if found is None:
            cache = SecretCache(
                SecretsManagerSource(access.client_settings), policy=access.cache_policy
            )
            found = Reconnector(cache, access.reconnect_policy)
            # Drop entries inherited across fork(): each process builds its own.
            for stale in [k for k in _reconnectors if k[0] != key[0]]:
                del _reconnectors[stale]
            _reconnectors[key] = found
        return found


def reset_executor_state() -> None:
    """Forget every per-process reconnector (tests)."""
    with _lock:
        _reconnectors.clear()
