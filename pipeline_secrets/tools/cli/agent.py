"""``pipeline-secrets agent``: run the host-level caching agent (see pipeline_secrets.agent);
``pipeline-secrets agent status``: print a running agent's counters.

Serve GET /secretsmanager/get?secretId=... from an in-memory cache, on a Unix socket or
127.0.0.1, token required. The token comes from --token-file (created 0600 if missing),
or $PIPELINE_SECRETS_AGENT_TOKEN, or $AWS_TOKEN.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
from typing import Any

from pipeline_secrets.tools.cli import _tooling as tooling

log = logging.getLogger(__name__)

TOKEN_ENV_VARS = ("PIPELINE_SECRETS_AGENT_TOKEN", "AWS_TOKEN")
EXIT_ADDRESS_TAKEN = 1


COMMAND = "agent"
HELP = "run the local caching agent (Secrets Manager Agent protocol)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    actions = p.add_subparsers(dest="agent_action", metavar="ACTION")
    status = actions.add_parser("status", help="print a running agent's counters")
    status.add_argument("--address", help="http://127.0.0.1:2773 or unix:/path (default: 2773)")
    status.add_argument("--token-file", help="file holding the access token")
    status.add_argument("--raw", action="store_true", help="print the Prometheus text as is")
    status.set_defaults(handler=status_command)

    p.add_argument("--host", default="127.0.0.1", help="TCP address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=2773, help="TCP port (default 2773)")
    p.add_argument(
        "--allow-non-loopback",
        action="store_true",
        help="allow --host other than loopback (the token then crosses a network in plain "
        "HTTP; prefer --unix-socket on a shared volume)",
    )
    p.add_argument("--unix-socket", help="listen on this Unix socket instead of TCP")
    p.add_argument("--token-file", help="file holding the access token (created if missing)")
    tooling.add_repeatable(
        p,
        "--prefetch-prefix",
        "load every secret under this name prefix with BatchGetSecretValue in the "
        "background (refreshed before expiry); absent names there cost no call (repeatable)",
    )
    tooling.add_repeatable(
        p,
        "--allow-prefix",
        "serve only secret ids starting with this (repeatable; default: the "
        "--prefetch-prefix values); ARNs only if an allowed prefix is an ARN prefix",
    )
    p.add_argument(
        "--allow-any-secret",
        action="store_true",
        help="serve any secret the agent's role can read (no allow-list)",
    )
    p.add_argument(
        "--allow-pending",
        action="store_true",
        help="serve AWSPENDING (and other non-default stages) and explicit version ids",
    )
    p.add_argument("--ttl-seconds", type=float, help="cache TTL (default 300)")
    p.add_argument("--negative-ttl-seconds", type=float, help="not-found TTL (default 30)")
    p.add_argument("--max-stale-seconds", type=float, help="stale-if-error window (default 3600)")
    p.add_argument("--idle-exit-seconds", type=float, default=0.0, help="exit when idle (0: never)")
    p.add_argument(
        "--min-refresh-interval-seconds",
        type=float,
        default=1.0,
        help=(
            "refreshNow: forced reads of one secret start at least this many seconds apart; "
            "a request waits for its turn, so keep it under the clients' 2 s timeout "
            "(default 1)"
        ),
    )
    p.add_argument(
        "--idle-timeout-seconds",
        type=float,
        default=30.0,
        help="close a connection idle (or trickling a request) this long (default 30)",
    )
    p.add_argument(
        "--max-connections",
        type=int,
        default=800,
        help="connection cap, 429 beyond it (default 800, lowered to fit the fd limit)",
    )
    p.add_argument("--region", help="AWS region")
    p.add_argument("--endpoint-url", help="Secrets Manager endpoint URL")
    p.add_argument("--profile", help="AWS profile")
    tooling.add_repeatable(p, "--role-arn", "role to assume (repeatable)")
    tooling.add_repeatable(p, "--fallback-region", "replica region (repeatable)")
    p.add_argument(
        "--launch-config-from-env",
        action="store_true",
        help=argparse.SUPPRESS,  # the launcher: whole configuration in the environment
    )


def _token(args: argparse.Namespace) -> str | None:
    if args.token_file:
        from pipeline_secrets.agent.tokenfile import read_or_create_token_file

        return read_or_create_token_file(args.token_file)
    for name in TOKEN_ENV_VARS:
        if name in os.environ:
            return os.environ[name]
    return None


def _from_args(args: argparse.Namespace) -> Any:
    from pipeline_secrets.agent.launch_config import AgentLaunchConfig
    from pipeline_secrets.settings import client_settings

    return AgentLaunchConfig(
        client=client_settings(vars(args)),
        ttl_seconds=args.ttl_seconds,
        negative_ttl_seconds=args.negative_ttl_seconds,
        max_stale_seconds=args.max_stale_seconds,
        prefetch_prefixes=tuple(args.prefetch_prefix),
        allowed_prefixes=tuple(args.allow_prefix),
        allow_pending=args.allow_pending,
        idle_exit_seconds=args.idle_exit_seconds,
    )


def run(args: argparse.Namespace) -> int:
    from pipeline_secrets.agent.launch_config import ENV_VAR, AgentLaunchConfig
    from pipeline_secrets.agent.tokenfile import UnsafeTokenFileError, WeakTokenError
    from pipeline_secrets.cache import CachePolicy, SecretCache
    from pipeline_secrets.source import SecretsManagerSource
    from pipeline_secrets.tools.agent_server.server import (
        AddressInUseError,
        AddressServedError,
        Agent,
        AgentConfig,
    )

    fingerprint = ""
    if args.launch_config_from_env:
        launch = AgentLaunchConfig.from_json(os.environ.pop(ENV_VAR))
        fingerprint = launch.fingerprint()
    else:
        launch = _from_args(args)
    policy = CachePolicy.create(
        ttl_seconds=launch.ttl_seconds,
        negative_ttl_seconds=launch.negative_ttl_seconds,
        max_stale_seconds=launch.max_stale_seconds,
    )
    cache = SecretCache(SecretsManagerSource(launch.client), policy=policy)
    try:
        config = AgentConfig(
            host=args.host,
            port=args.port,
            unix_socket=args.unix_socket,
            token=_token(args),
            prefetch_prefixes=launch.prefetch_prefixes,
            allowed_prefixes=launch.allowed_prefixes,
            allow_any_secret=args.allow_any_secret or launch.allow_any_secret,
            allow_pending=launch.allow_pending,
            allow_non_loopback=args.allow_non_loopback,
            idle_exit_seconds=launch.idle_exit_seconds,
            idle_timeout_seconds=args.idle_timeout_seconds,
            min_refresh_interval_seconds=args.min_refresh_interval_seconds,
            max_connections=args.max_connections,
            config_fingerprint=fingerprint,
        )
        agent = Agent(cache, config)
        address = agent.bind()
    except AddressServedError as exc:
        log.info("%s (same token); nothing to do", exc.strerror)
        return 0
    except AddressInUseError as exc:
        log.error("%s", exc.strerror)
        return EXIT_ADDRESS_TAKEN
    except (WeakTokenError, UnsafeTokenFileError, PermissionError, ValueError) as exc:
        print(f"pipeline-secrets agent: {exc}", file=sys.stderr)
        return tooling.EXIT_USAGE

    def _stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    scope = "any secret" if agent.scope.allow_any else ", ".join(agent.scope.allowed_prefixes)
    log.info(
        "pipeline-secrets agent listening on %s (ttl %.0fs, serving %s, max %d connections)",
        address,
        policy.ttl_seconds,
        scope,
        agent.tracker.max_connections,
    )
    with contextlib.suppress(KeyboardInterrupt):
        agent.serve_forever()
    snapshot = cache.stats.snapshot()
    log.info("agent stopped; api calls %s", snapshot.get("api_calls"))
    return 0


def status_command(args: argparse.Namespace) -> int:
    """Print the agent's Prometheus counters as a short human-readable table."""
    from pipeline_secrets.agent import wire
    from pipeline_secrets.agent.client import AgentClient, AgentUnavailableError
    from pipeline_secrets.agent.tokenfile import read_token_file
    from pipeline_secrets.tools.agent_server.metrics import parse_prometheus

    address = args.address or f"http://127.0.0.1:{wire.DEFAULT_PORT}"
    token = read_token_file(args.token_file) if args.token_file else _env_token()
    try:
        status, body = AgentClient(address, token).request(wire.METRICS_PATH)
    except AgentUnavailableError as exc:
        print(f"pipeline-secrets agent status: {exc}", file=sys.stderr)
        return 3
    if status != 200:
        print(f"pipeline-secrets agent status: HTTP {status} from {address}", file=sys.stderr)
        return 3
    text = body.decode("utf-8", "replace")
    if args.raw:
        print(text, end="")
        return 0
    print(f"agent at {address}")
    for name, value in parse_prometheus(text).items():
        short = name.removeprefix("pipeline_secrets_agent_")
        print(f"  {short:<60} {value:>12g}")
    return 0


def _env_token() -> str | None:
    for name in TOKEN_ENV_VARS:
        if os.environ.get(name):
            return os.environ[name]
    return None
