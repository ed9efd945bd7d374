"""``SecretsManagerBackend``: a drop-in superset of the amazon provider's backend.

Switch by changing only the class path::

    [secrets]
    backend = airflow_plugin.secrets_manager.SecretsManagerBackend
    backend_kwargs = {"connections_prefix": "airflow/connections"}

Every kwarg of ``airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend``
keeps its meaning; see docs/airflow-backend.md for ours. Lookups go through the core
cache (TTL, negative cache, single-flight, stale-if-error), optionally through a
host-level caching agent shared by every Airflow process of the machine.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import threading
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any, TypeVar

from airflow_plugin import _airflow, connection_shapes, masking, teams
from airflow_plugin.backend_options import BackendOptions, parse_options, positional_kwargs
from airflow_plugin.metrics import bind_airflow_stats
from airflow_plugin.session import client_factory
from pipeline_secrets.cache import CachePolicy, SecretCache
from pipeline_secrets.client import ClientFactory
from pipeline_secrets.errors import SecretConfigurationError, SecretError, SecretNotFoundError
from pipeline_secrets.model import SecretValue, parse_json_object
from pipeline_secrets.source import SecretsManagerSource, SecretSource
from pipeline_secrets.stats import emit

log = logging.getLogger(__name__)
T = TypeVar("T")

# The backend kwargs that fix a SecretConfigurationError's setting.
_CREDENTIAL_KWARGS = ("profile_name", "role_arn", "aws_access_key_id", "aws_secret_access_key")
_SETTING_KWARGS = {"credentials": " / ".join(_CREDENTIAL_KWARGS)}
_KINDS = {"connections": "connection", "variables": "variable", "config": "configuration option"}


class SecretsManagerBackend(_airflow.BaseSecretsBackend):
    """Connections, Variables and config from AWS Secrets Manager, cached and masked."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        bind_airflow_stats()
        self.options: BackendOptions = parse_options(positional_kwargs(args, kwargs))
        o = self.options
        self._words = connection_shapes.word_lists(o.extra_conn_words)
        self._patterns = {
            kind: re.compile(pattern, re.IGNORECASE) if pattern else None
            for kind, pattern in (
                ("connections", o.connections_lookup_pattern),
                ("variables", o.variables_lookup_pattern),
                ("config", o.config_lookup_pattern),
            )
        }
        # The provider's public attributes, for code that inspects the backend.
        self.connections_prefix = o.connections_prefix
        self.variables_prefix = o.variables_prefix
        self.config_prefix = o.config_prefix
        self.connections_lookup_pattern = o.connections_lookup_pattern
        self.variables_lookup_pattern = o.variables_lookup_pattern
        self.config_lookup_pattern = o.config_lookup_pattern
        self.sep = o.sep
        self.extra_conn_words = dict(o.extra_conn_words or {})
        self.profile_name = o.aws.get("profile_name")
        self.api_version = o.aws.get("api_version")
        self.use_ssl = o.aws.get("use_ssl")
        self._cache: SecretCache | None = None
        self._clients: ClientFactory | None = None
        self._lock = threading.RLock()  # the cache is built under it, and builds the clients
        self._prefetch_lock = threading.Lock()
        self._masked: set[masking.MaskEntry] = set()
        self._masked_pid = os.getpid()
        self._multi_team_mode: bool | None = None

    # -- Airflow's interface --------------------------------------------------------------
    def get_conn_value(self, conn_id: str, team_name: str | None = None) -> str | None:
        """The connection as Airflow JSON or URI, or None (Airflow then tries the next backend)."""
        spec = self.options.connections.get(conn_id)
        defaults = {k: v for k, v in (spec or {}).items() if k != "secret_id"}

        def render(value: SecretValue, path: str) -> tuple[str, tuple[masking.MaskEntry, ...]]:
            return self._render_connection(value, path, defaults)

        parser_key = ("airflow-connection", conn_id, repr(sorted(defaults.items())))
        paths = self._connection_paths(conn_id, team_name)
        rendered = self._fetch("connections", conn_id, paths, render, parser_key)
        if rendered is None:
            return None
        text, mask_entries = rendered
        self._mask(mask_entries)
        return text

    def invalidate_connection(self, conn_id: str, team_name: str | None = None) -> None:
        """Forget the cached copy of ``conn_id`` so that the next lookup fetches it fresh
        (through an agent: with refreshNow, see ``SecretCache.invalidate``). Our hooks
        call this after a database refused the connection's password, then look the
        connection up again."""
        for path in self._connection_paths(conn_id, team_name) or ():
            self.cache.invalidate(path)

    def connection_rotation_pending(self, conn_id: str, team_name: str | None = None) -> bool:
        """Whether the secret behind ``conn_id`` has an AWSPENDING version (read fresh):
        a hook refused with an unchanged password keeps waiting only then."""
        for path in self._connection_paths(conn_id, team_name) or ():
            try:
                self.cache.get(path, version_stage="AWSPENDING", force_refresh=True)
            except SecretNotFoundError:
                continue
            except SecretError:
                return True  # cannot tell: be patient rather than fail a rotation
            return True
        return False

    def _connection_paths(self, conn_id: str, team_name: str | None) -> list[str] | None:
        spec = self.options.connections.get(conn_id)
        if spec is not None and spec.get("secret_id"):
            return [str(spec["secret_id"])]
        return self._paths("connections", conn_id, team_name)

    def get_connection(self, conn_id: str, team_name: str | None = None) -> Any:
        """Like Airflow's, without its per-call signature inspection (hot path of a hit)."""
        value = self.get_conn_value(conn_id, team_name=team_name)
        return self.deserialize_connection(conn_id=conn_id, value=value) if value else None

    def get_variable(self, key: str, team_name: str | None = None) -> str | None:
        text = self._fetch(
            "variables",
            key,
            self._paths("variables", key, team_name),
            lambda value, _path: self._render_variable(value),
            ("airflow-variable", self.options.variable_value_key),
        )
        if text is not None:
            self._mask(masking.variable_entries(key, text, self.options.mask_variables))
        return text

    def get_config(self, key: str) -> str | None:
        return self._fetch(
            "config",
            key,
            self._paths("config", key, None),
            lambda value, _path: value.text(),
            ("airflow-config",),
        )

    # -- the cache ------------------------------------------------------------------------
    @property
    def cache(self) -> SecretCache:
        if self._cache is None:
            with self._lock:
                if self._cache is None:
                    self._cache = self._build_cache()
        return self._cache

    @property
    def client(self) -> Any:
        """The boto3 Secrets Manager client of the primary region (the provider's public
        ``client``): same region, endpoint, credentials and role as our lookups use."""
        return self._client_factory().client()

    def _client_factory(self) -> ClientFactory:
        if self._clients is None:
            with self._lock:
                if self._clients is None:
                    o = self.options
                    self._clients = client_factory(
                        o.aws, o.fallback_regions, o.region_endpoint_urls
                    )
        return self._clients

    def _build_cache(self) -> SecretCache:
        from airflow_plugin.agent_setup import agent_source

        o = self.options
        direct = SecretsManagerSource(clients=self._client_factory())
        source: SecretSource = agent_source(o, direct, self._agent_prefixes()) or direct
        policy = CachePolicy.create(
            ttl_seconds=o.cache_ttl_seconds,
            negative_ttl_seconds=o.negative_ttl_seconds,
            max_stale_seconds=o.max_stale_seconds,
        )
        return SecretCache(source, policy=policy)

    def stats(self) -> dict[str, object]:
        """The cache's counters (hits, misses, API calls by operation, agent hits...)."""
        return self.cache.stats.snapshot()

    def _agent_prefixes(self) -> list[str]:
        o = self.options
        return [
            f"{p}{o.sep}" if p else ""
            for kind in ("connections", "variables")
            for p in o.prefixes(kind)
            if p
        ]

    def _multi_team(self) -> bool:
        if self._multi_team_mode is None:
            configured = self.options.multi_team
            self._multi_team_mode = (
                _airflow.multi_team_enabled() if configured is None else configured
            )
        return self._multi_team_mode

    # -- lookups --------------------------------------------------------------------------
    def _paths(self, kind: str, key: str, team_name: str | None) -> list[str] | None:
        """The secret names to try for ``key``, or None when it must not be looked up."""
        prefixes = self.options.prefixes(kind)
        if not prefixes:
            return None
        if teams.refuses(key, multi_team=self._multi_team()):
            log.warning(
                "%s id %r contains %r, which separates the team name from the secret id in a "
                "team scoped secret name. Such an id is ambiguous and is not looked up. "
                "Returning None.",
                _KINDS[kind].capitalize(),
                key,
                teams.TEAM_SEP,
            )
            return None
        pattern = self._patterns[kind]
        if pattern is not None and not pattern.match(key):
            log.debug("Skipping lookup of %r: does not match the %s lookup pattern.", key, kind)
            return None
        return teams.candidate_paths(prefixes, key, sep=self.options.sep, team_name=team_name)

    def _fetch(
        self,
        kind: str,
        key: str,
        paths: list[str] | None,
        render: Callable[[SecretValue, str], T],
        parser_key: Hashable,
    ) -> T | None:
        """The first path that exists, rendered (once per secret version); None otherwise."""
        for path in paths or ():
            self._maybe_prefetch(path)
            try:
                found = self.cache.get_parsed(
                    path,
                    functools.partial(_call_with_path, render, path),
                    parser_key=parser_key,
                    version_stage=self.options.version_stage,
                )
            except SecretNotFoundError:
                log.debug("%s %r: secret %r not found", _KINDS[kind], key, path)
                continue
            except SecretError as exc:
                emit("lookup", kind=kind, outcome="error")
                self._failed(kind, key, path, exc)
                return None
            emit("lookup", kind=kind, outcome="found")
            return found
        emit("lookup", kind=kind, outcome="not_found" if paths else "skipped")
        return None

    def _maybe_prefetch(self, path: str) -> None:
        """In-process prefetch (``prefetch=True``, no agent): one batch pass per prefix per TTL."""
        o = self.options
        if not o.prefetch or o.version_stage != "AWSCURRENT" or path.startswith("arn:"):
            return
        if o.agent_address or o.agent_autostart:
            return  # the agent prefetches for every process of the host
        cache = self.cache
        if cache.listing_covers(path):
            return
        for prefix in self._agent_prefixes():
            if not path.startswith(prefix):
                continue
            with self._prefetch_lock:
                if cache.listing_covers(path):
                    return
                try:
                    cache.prefetch(name_prefix=prefix)
                except SecretError as exc:
                    log.warning(
                        "prefetch of secrets under %r failed (%s); looking up one by one",
                        prefix,
                        type(exc).__name__,
                    )
            return

    def _failed(self, kind: str, key: str, path: str, exc: SecretError) -> None:
        message = f"SecretsManagerBackend: {_KINDS[kind]} {key!r} (secret {path!r}): {exc}"
        if isinstance(exc, SecretConfigurationError):
            message += f" [backend kwargs: {_SETTING_KWARGS.get(exc.setting, exc.setting)}]"
        if self.options.strict:
            raise _airflow.denied_error_class()(message) from exc
        if isinstance(exc, SecretConfigurationError):
            log.error("%s; returning None", message)  # no outage: nothing heals by itself
        else:
            log.warning("%s; returning None", message)

    # -- rendering (once per secret version) ----------------------------------------------
    def _render_connection(
        self, value: SecretValue, path: str, defaults: Mapping[str, Any]
    ) -> tuple[str, tuple[masking.MaskEntry, ...]]:
        text = value.text()
        secret = connection_shapes.parse_connection_secret(text, path)
        marked = self.options.mask_extra_fields
        if secret is None:
            if defaults:
                _raise_uri_defaults(path)
            return text, tuple(masking.uri_entries(text, marked))
        conn = connection_shapes.connection_dict(
            secret,
            secret_id=path,
            words=self._words,
            unknown_keys_to_extra=self.options.unknown_keys_to_extra,
            rds_metadata_to_extra=self.options.rds_metadata_to_extra,
            defaults=defaults,
        )
        entries = tuple(masking.connection_entries(conn, marked))
        return connection_shapes.connection_json(conn), entries

    def _render_variable(self, value: SecretValue) -> str:
        import json

        text = value.text()
        key = self.options.variable_value_key
        if key and text.lstrip().startswith("{"):
            try:
                parsed = parse_json_object(text, value.name)
            except SecretError:
                return text  # not JSON after all: a plain string that starts with "{"
            if set(parsed) == {key}:
                inner = parsed[key]
                return inner if isinstance(inner, str) else json.dumps(inner)
        return text

    def _mask(self, entries: Iterable[masking.MaskEntry]) -> None:
        """Register what is secret once per process (see airflow_plugin.masking)."""
        if self._masked_pid != os.getpid():
            self._masked = set()  # a new process: its masker needs them again
            self._masked_pid = os.getpid()
        new = [entry for entry in entries if entry not in self._masked]
        masking.register(new)
        self._masked.update(new)


def _call_with_path(render: Callable[[SecretValue, str], T], path: str, value: SecretValue) -> T:
    return render(value, path)


def _raise_uri_defaults(path: str) -> None:
    from pipeline_secrets.errors import SecretFormatError

    raise SecretFormatError(
        path, None, "base connection fields need a JSON secret, but this one holds a URI"
    )
