"""Which cache a hook reads through: our secrets backend's when Airflow has it configured
and the hook names no AWS connection of its own; else, from a ``pipeline_secrets_aws``
connection, the core's client settings (through ``pipeline_secrets.settings``'s one
mapping) and a shared cache per distinct setting (one cache, one reconnector per AWS
account/endpoint). The precedence is written once, in ``pipeline_secrets/settings.py``."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import Any

from pipeline_secrets import api
from pipeline_secrets import settings as core_settings
from pipeline_secrets.cache import CachePolicy, SecretCache
from pipeline_secrets.client import ClientSettings
from pipeline_secrets.reconnect import Reconnector, ReconnectPolicy
from pipeline_secrets.source import SecretsManagerSource

_lock = threading.Lock()
_caches: dict[str, SecretCache] = {}
_reconnectors: dict[tuple[int, float | None], Reconnector] = {}


def settings_from_connection(
    login: str | None, password: str | None, extra: Mapping[str, Any]
) -> ClientSettings | None:
    """Client settings from a connection's fields (through the core's one mapping,
    ``pipeline_secrets.settings.client_settings``); None when it sets nothing."""
    config = {k: v for k, v in extra.items() if k in core_settings.CLIENT_SETTING_KEYS}
    config = {k: v for k, v in config.items() if v not in (None, "")}
    if not config and not login and not password:
        return None
    return core_settings.client_settings(
        {**config, "aws_access_key_id": login, "aws_secret_access_key": password}
    )


def loaded_backends() -> list[Any]:
    """The secrets backends Airflow has configured in this process (loaded once by Airflow)."""
    try:
        from airflow.sdk.execution_time.supervisor import ensure_secrets_backend_loaded

        return list(ensure_secrets_backend_loaded())
    except ImportError:
        pass
    try:
        from airflow.configuration import ensure_secrets_loaded  # Airflow 2

        return list(ensure_secrets_loaded())
    except ImportError:
        return []


def default_cache() -> SecretCache:
    """What a hook without its own AWS connection reads through.

    Our secrets backend's cache (its AWS settings, TTLs and agent) when Airflow has it
    configured; the core front door then adopts it too, so glue_lib's helpers in the
    same task share it. Else the core default cache (``PIPELINE_SECRETS_*``, boto3).
    """
    from airflow_plugin.secrets_manager import SecretsManagerBackend

    for backend in loaded_backends():
        if isinstance(backend, SecretsManagerBackend):
            return api.adopt_default(backend.cache)
    return api.default_cache()


def shared_cache(settings: ClientSettings | None, ttl_seconds: float | None = None) -> SecretCache:
    """The default cache (see :func:`default_cache`) when the connection sets nothing,
    else one cache per distinct setting."""
    if settings is None and ttl_seconds is None:
        return default_cache()
    key = _settings_key(settings, ttl_seconds)
    with _lock:
        cache = _caches.get(key)
        if cache is None:
            cache = SecretCache(
                SecretsManagerSource(settings), policy=CachePolicy.create(ttl_seconds=ttl_seconds)
            )
            _caches[key] = cache
        return cache


def shared_reconnector(cache: SecretCache, budget_seconds: float | None = None) -> Reconnector:
    """One reconnector per cache (it remembers which stage worked mid-rotation)."""
    if cache is api.default_cache() and budget_seconds is None:
        return api.default_reconnector()
    key = (id(cache), budget_seconds)
    with _lock:
        reconnector = _reconnectors.get(key)
        if reconnector is None or reconnector.cache is not cache:
            policy = ReconnectPolicy(budget_seconds=budget_seconds) if budget_seconds else None
            reconnector = Reconnector(cache, policy)
            _reconnectors[key] = reconnector
        return reconnector


def _settings_key(settings: ClientSettings | None, ttl_seconds: float | None) -> str:
    # In memory only: keys are part of the identity of a client, never logged.
    fields = {} if settings is None else {k: repr(v) for k, v in vars(settings).items()}
    return json.dumps([fields, ttl_seconds], sort_keys=True, default=str)
