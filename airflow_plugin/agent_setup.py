"""Which agent the backend reads through, from its kwargs.

* ``agent_address`` (or ``PIPELINE_SECRETS_AGENT_ADDRESS``): ``http://127.0.0.1:2773``
  (ours or AWS's Secrets Manager Agent) or ``unix:/path/agent.sock``.
* ``agent_autostart``: no address needed; an agent is started on demand on a Unix
  socket in the user's runtime directory (see pipeline_secrets.agent.launcher for the
  race handling), and started again if it exited while idle.
* Token: ``agent_token``, else ``agent_token_file``, else ``$PIPELINE_SECRETS_AGENT_TOKEN``,
  else ``$AWS_TOKEN`` (what AWS's agent uses).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence

from airflow_plugin.options import BackendOptions
from pipeline_secrets.agent.client import AgentClient, AgentSource
from pipeline_secrets.source import SecretsManagerSource

log = logging.getLogger(__name__)


def _token(options: BackendOptions) -> str | None:
    if options.agent_token:
        return options.agent_token
    if options.agent_token_file:
        try:
            with open(options.agent_token_file, encoding="utf-8") as handle:
                return handle.read().strip() or None
        except OSError as exc:
            log.warning("cannot read agent_token_file (%s)", type(exc).__name__)
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
    if options.agent_address:
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


def _starter(options: BackendOptions, prefixes: Sequence[str]) -> Callable[[], AgentClient | None]:
    from airflow_plugin.session import client_settings
    from pipeline_secrets.agent.launcher import LaunchSpec, ensure_agent

    aws = options.aws
    settings = client_settings(aws, options.fallback_regions, options.region_endpoint_urls)
    extra_env = {
        env: str(aws[key])
        for key, env in (
            ("aws_access_key_id", "AWS_ACCESS_KEY_ID"),
            ("aws_secret_access_key", "AWS_SECRET_ACCESS_KEY"),
            ("aws_session_token", "AWS_SESSION_TOKEN"),
        )
        if aws.get(key)
    }
    spec = LaunchSpec(
        unix_socket=options.agent_address[5:]
        if options.agent_address and options.agent_address.startswith("unix:")
        else None,
        prefetch_prefixes=tuple(prefixes) if options.agent_prefetch else (),
        idle_exit_seconds=options.agent_idle_exit_seconds,
        cache_ttl_seconds=options.cache_ttl_seconds,
        negative_ttl_seconds=options.negative_ttl_seconds,
        max_stale_seconds=options.max_stale_seconds,
        region_name=settings.region_name,
        endpoint_url=settings.endpoint_url,
        profile_name=settings.profile_name,
        role_arns=settings.role_arns,
        fallback_regions=settings.fallback_regions,
        extra_env=extra_env,
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
