"""Which agent the backend reads through, from its kwargs.

* ``agent_address`` (or ``PIPELINE_SECRETS_AGENT_ADDRESS``): ``unix:/path/agent.sock``
  (recommended: a socket in a private directory, e.g. on a volume shared with a
  sidecar) or ``http://127.0.0.1:2773`` (ours or AWS's Secrets Manager Agent).
* ``agent_autostart``: no address needed; an agent is started on demand on a Unix
  socket in the user's runtime directory, one per configuration: the socket and token
  are keyed by a fingerprint of the whole client configuration (endpoint, region,
  profile, role, credentials, cache policy, prefixes), and the agent must prove it holds
  that configuration's token before any lookup goes to it (see
  pipeline_secrets.agent.launcher). It is started again if it exited while idle.
  The autostarted agent serves only the backend's prefixes (connections, variables,
  config), AWSPENDING included (it runs as the same user with the same credentials).
* Token: ``agent_token``, else ``agent_token_file`` (ownership, mode and strength
  checked), else ``$PIPELINE_SECRETS_AGENT_TOKEN``, else ``$AWS_TOKEN`` (AWS's agent).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence

from airflow_plugin.backend_options import BackendOptions
from airflow_plugin.session import client_settings
from pipeline_secrets.agent.client import AgentClient, AgentSource
from pipeline_secrets.source import SecretsManagerSource

log = logging.getLogger(__name__)


def _token(options: BackendOptions) -> str | None:
    if options.agent_token:
        return options.agent_token
    if options.agent_token_file:
        from pipeline_secrets.agent.tokenfile import read_token_file

        try:
            return read_token_file(options.agent_token_file)
        except (OSError, ValueError) as exc:
            log.warning("cannot use agent_token_file: %s", exc)
            return None
    for name in ("PIPELINE_SECRETS_AGENT_TOKEN", "AWS_TOKEN"):
        if os.environ.get(name):
            return os.environ[name]
    return None


def agent_source(
    options: BackendOptions, direct: SecretsManagerSource, prefixes: Sequence[str]
) -> AgentSource | None:
    if not options.agent_address and not options.agent_autostart:
        return None
    start = _starter(options, prefixes) if options.agent_autostart else None
    if options.agent_address and not options.agent_autostart:
        client: AgentClient | None = AgentClient(
            options.agent_address, _token(options), timeout=options.agent_timeout_seconds
        )
    else:
        assert start is not None
        client = start()
    if client is None:
        # Could not start one now; the source goes direct and tries again later.
        client = AgentClient("unix:/nonexistent", None, timeout=options.agent_timeout_seconds)
    return AgentSource(
        client,
        direct,
        retry_after_seconds=options.agent_retry_after_seconds,
        on_unavailable=start,
    )


def served_prefixes(options: BackendOptions) -> tuple[str, ...]:
    """Every name prefix the backend reads (connections, variables, config, fallbacks);
    ``""`` when a kind has no prefix (then every name is served)."""
    out: list[str] = []
    for kind in ("connections", "variables", "config"):
        for prefix in options.prefixes(kind):
            if prefix is None:
                continue
            out.append(f"{prefix}{options.sep}" if prefix else "")
    return tuple(dict.fromkeys(out))


def _starter(options: BackendOptions, prefixes: Sequence[str]) -> Callable[[], AgentClient | None]:
    from pipeline_secrets.agent.launch_config import AgentLaunchConfig
    from pipeline_secrets.agent.launcher import LaunchSpec, ensure_agent

    allowed = served_prefixes(options)
    config = AgentLaunchConfig(
        client=client_settings(options.aws, options.fallback_regions, options.region_endpoint_urls),
        ttl_seconds=options.cache_ttl_seconds,
        negative_ttl_seconds=options.negative_ttl_seconds,
        max_stale_seconds=options.max_stale_seconds,
        prefetch_prefixes=tuple(prefixes) if options.agent_prefetch else (),
        allowed_prefixes=tuple(p for p in allowed if p),
        allow_any_secret="" in allowed,
        allow_pending=True,
        idle_exit_seconds=options.agent_idle_exit_seconds,
    )
    address = options.agent_address or ""
    spec = LaunchSpec(
        config=config, unix_socket=address[5:] if address.startswith("unix:") else None
    )

    def start() -> AgentClient | None:
        try:
            client = ensure_agent(spec)
        except (OSError, TimeoutError) as exc:
            log.warning("could not start the pipeline-secrets agent: %s", exc)
            return None
        client.timeout = options.agent_timeout_seconds
        return client

    return start
