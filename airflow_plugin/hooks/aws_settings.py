"""From a ``pipeline_secrets_aws`` Airflow connection to the core's client settings and a
shared cache per distinct setting (one cache, one reconnector per AWS account/endpoint)."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import Any

from pipeline_secrets import api
from pipeline_secrets.cache import CachePolicy, SecretCache
from pipeline_secrets.client import ClientSettings
from pipeline_secrets.reconnect import Reconnector, ReconnectPolicy
from pipeline_secrets.source import SecretsManagerSource

# Connection extras read by ``settings_from_connection`` (also the form fields).
SETTING_EXTRAS = (
    "region_name",
    "endpoint_url",
    "profile_name",
    "role_arn",
    "aws_session_token",
    "fallback_regions",
    "verify",
    "config_kwargs",
)

_lock = threading.Lock()
_caches: dict[str, SecretCache] = {}
_reconnectors: dict[tuple[int, float | None], Reconnector] = {}


def settings_from_connection(
    login: str | None, password: str | None, extra: Mapping[str, Any]
) -> ClientSettings | None:
    """Client settings from a connection's fields; None when it sets nothing (defaults)."""
    given = {k: extra[k] for k in SETTING_EXTRAS if extra.get(k) not in (None, "")}
    if not given and not login and not password:
        return None
    config = given.get("config_kwargs")
    if isinstance(config, str):
        config = json.loads(config)
    verify = given.get("verify")
    if isinstance(verify, str) and verify.lower() in {"true", "false"}:
        verify = verify.lower() == "true"
    return ClientSettings.create(
        region_name=given.get("region_name"),
        endpoint_url=given.get("endpoint_url"),
        profile_name=given.get("profile_name"),
        aws_access_key_id=login or None,
        aws_secret_access_key=password or None,
        aws_session_token=given.get("aws_session_token"),
        role_arn=given.get("role_arn"),
        fallback_regions=given.get("fallback_regions"),
        verify=verify,
        botocore_config=config,
    )


def shared_cache(settings: ClientSettings | None, ttl_seconds: float | None = None) -> SecretCache:
    """The core default cache for default settings, else one cache per distinct setting."""
    if settings is None and ttl_seconds is None:
        return api.default_cache()
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
