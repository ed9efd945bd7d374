"""The functional front door: module-level functions over one shared default cache.

The default cache is created on first use from ``PIPELINE_SECRETS_*`` variables and
boto3's own environment (``PIPELINE_SECRETS_AGENT_ADDRESS`` reads through a host agent,
falling back to direct calls); :func:`configure` replaces it (tests, custom endpoints).
Inside Airflow with our secrets backend configured, the hooks hand the backend's cache
to :func:`adopt_default`, so this front door (and glue_lib) shares it unless
:func:`configure` chose otherwise. The precedence is in ``pipeline_secrets.settings``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pipeline_secrets import settings as _settings
from pipeline_secrets.cache import CachePolicy, SecretCache
from pipeline_secrets.client import ClientSettings
from pipeline_secrets.credentials import DatabaseCredentials
from pipeline_secrets.reconnect import Reconnector, ReconnectPolicy
from pipeline_secrets.source import SecretsManagerSource, SecretSource

T = TypeVar("T")
_lock = threading.Lock()
_cache: SecretCache | None = None
_reconnector: Reconnector | None = None
_configured = False  # configure() was called: adopt_default() leaves the cache alone
AGENT_TOKEN_VARIABLES = ("PIPELINE_SECRETS_AGENT_TOKEN", "AWS_TOKEN")


def configure(
    *,
    client_settings: ClientSettings | None = None,
    cache_policy: CachePolicy | None = None,
    reconnect_policy: ReconnectPolicy | None = None,
    cache: SecretCache | None = None,
    agent_address: str | None = None,
    agent_token: str | None = None,
) -> SecretCache:
    """Replace the shared default cache (and reconnector). Returns the new cache.

    ``agent_address`` (else ``PIPELINE_SECRETS_AGENT_ADDRESS``): read through a host
    agent (``http://127.0.0.1:2773`` or ``unix:/path``), direct calls when it is down;
    its token: ``agent_token``, else ``PIPELINE_SECRETS_AGENT_TOKEN``, else ``AWS_TOKEN``.
    """
    global _cache, _reconnector, _configured
    with _lock:
        _cache = cache or SecretCache(
            default_source(client_settings, agent_address, agent_token), policy=cache_policy
        )
        _reconnector = Reconnector(_cache, reconnect_policy)
        _configured = True
        return _cache


def default_source(
    client_settings: ClientSettings | None = None,
    agent_address: str | None = None,
    agent_token: str | None = None,
) -> SecretSource:
    """The direct source, wrapped by an agent source when an agent address is set."""
    direct = SecretsManagerSource(client_settings)
    address = _settings.resolve("agent_address", agent_address, None, str)
    if not address:
        return direct
    from pipeline_secrets.agent.client import AgentClient, AgentSource

    token = agent_token or next(
        (os.environ[name] for name in AGENT_TOKEN_VARIABLES if os.environ.get(name)), None
    )
    return AgentSource(AgentClient(address, token), direct)


def adopt_default(cache: SecretCache) -> SecretCache:
    """Make ``cache`` the default, unless :func:`configure` chose one. Returns the default.

    For integrations that own the process's configuration (our Airflow secrets backend):
    their settings are explicit arguments, so they win over the environment.
    """
    global _cache, _reconnector
    with _lock:
        if not _configured and _cache is not cache:
            _cache = cache
            _reconnector = None
        assert _cache is not None
        return _cache


def default_cache() -> SecretCache:
    global _cache
    with _lock:
        if _cache is None:
            _cache = SecretCache(default_source())
        return _cache


def default_reconnector() -> Reconnector:
    global _reconnector
    cache = default_cache()
    with _lock:
        if _reconnector is None or _reconnector.cache is not cache:
            _reconnector = Reconnector(cache)
        return _reconnector


def get_secret(
    secret_id: str,
    *,
    version_stage: str | None = None,
    version_id: str | None = None,
    force_refresh: bool = False,
) -> str | bytes:
    """The secret's value: a string, or bytes for a binary secret."""
    value = default_cache().get(
        secret_id, version_stage=version_stage, version_id=version_id, force_refresh=force_refresh
    )
    if value.secret_string is not None:
        return value.secret_string
    return value.secret_binary or b""


def get_secret_json(
    secret_id: str, *, version_stage: str | None = None, force_refresh: bool = False
) -> dict[str, Any]:
    """The secret parsed as a JSON object (parsed once per version)."""
    parsed = default_cache().get_parsed(
        secret_id,
        lambda v: v.json(),
        parser_key="json",
        version_stage=version_stage,
        force_refresh=force_refresh,
    )
    return dict(parsed)


def get_db_credentials(
    secret_id: str,
    *,
    version_stage: str | None = None,
    defaults: Mapping[str, Any] | None = None,
    force_refresh: bool = False,
) -> DatabaseCredentials:
    """Typed database credentials from any supported secret shape."""
    return default_reconnector().credentials(
        secret_id, version_stage=version_stage, defaults=defaults, force_refresh=force_refresh
    )


def connect_with_secret(
    secret_id: str,
    connect: Callable[[DatabaseCredentials], T],
    *,
    defaults: Mapping[str, Any] | None = None,
) -> T:
    """``connect(credentials)`` with the shared cache, surviving rotations."""
    return default_reconnector().connect(secret_id, connect, defaults=defaults)


def stats() -> dict[str, object]:
    """Counters of the shared cache: hits, misses, API calls by operation, ..."""
    return default_cache().stats.snapshot()
