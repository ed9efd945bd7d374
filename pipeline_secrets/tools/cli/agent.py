"""``pipeline-secrets agent``: run the host-level caching agent (see pipeline_secrets.agent)."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
from typing import Any

log = logging.getLogger(__name__)

TOKEN_ENV_VARS = ("PIPELINE_SECRETS_AGENT_TOKEN", "AWS_TOKEN")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "agent",
        help="run the local caching agent (Secrets Manager Agent protocol)",
        description=(
            "Serve GET /secretsmanager/get?secretId=... from an in-memory cache, on "
            "127.0.0.1 (token required) or a Unix socket. The token comes from "
            "--token-file, or $PIPELINE_SECRETS_AGENT_TOKEN, or $AWS_TOKEN."
        ),
    )
    p.add_argument("--host", default="127.0.0.1", help="TCP address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=2773, help="TCP port (default 2773)")
    p.add_argument("--unix-socket", help="listen on this Unix socket instead of TCP")
    p.add_argument("--token-file", help="file holding the access token")
    p.add_argument(
        "--prefetch-prefix",
        action="append",
        default=[],
        help="load every secret under this name prefix with BatchGetSecretValue "
        "(once per TTL); absent names there are answered without a call (repeatable)",
    )
    p.add_argument("--ttl-seconds", type=float, help="cache TTL (default 300)")
    p.add_argument("--negative-ttl-seconds", type=float, help="not-found TTL (default 30)")
    p.add_argument("--max-stale-seconds", type=float, help="stale-if-error window (default 3600)")
    p.add_argument("--idle-exit-seconds", type=float, default=0.0, help="exit when idle (0: never)")
    p.add_argument("--region", help="AWS region")
    p.add_argument("--endpoint-url", help="Secrets Manager endpoint URL")
    p.add_argument("--profile", help="AWS profile")
    p.add_argument("--role-arn", action="append", default=[], help="role to assume (repeatable)")
    p.add_argument("--fallback-region", action="append", default=[], help="replica region")
    p.set_defaults(handler=run)


def _token(args: argparse.Namespace) -> str | None:
    if args.token_file:
        from pipeline_secrets.agent.launcher import read_or_create_token

        return read_or_create_token(args.token_file)
    for name in TOKEN_ENV_VARS:
        if os.environ.get(name):
            return os.environ[name]
    return None


def run(args: argparse.Namespace) -> int:
    from pipeline_secrets.cache import CachePolicy, SecretCache
    from pipeline_secrets.settings import client_settings
    from pipeline_secrets.source import SecretsManagerSource
    from pipeline_secrets.tools.agent_server.server import AddressInUseError, Agent, AgentConfig

    settings = client_settings(vars(args))
    policy = CachePolicy.create(
        ttl_seconds=args.ttl_seconds,
        negative_ttl_seconds=args.negative_ttl_seconds,
        max_stale_seconds=args.max_stale_seconds,
    )
    cache = SecretCache(SecretsManagerSource(settings), policy=policy)
    config = AgentConfig(
        host=args.host,
        port=args.port,
        unix_socket=args.unix_socket,
        token=_token(args),
        prefetch_prefixes=tuple(args.prefetch_prefix),
        idle_exit_seconds=args.idle_exit_seconds,
    )
    agent = Agent(cache, config)
    try:
        address = agent.bind()
    except AddressInUseError as exc:
        log.info("another agent already serves this address (%s); exiting", exc.strerror)
        return 0
    except ValueError as exc:
        print(f"pipeline-secrets agent: {exc}", file=sys.stderr)
        return 2

    def _stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    log.info("pipeline-secrets agent listening on %s (ttl %.0fs)", address, policy.ttl_seconds)
    with contextlib.suppress(KeyboardInterrupt):
        agent.serve_forever()
    snapshot = cache.stats.snapshot()
    log.info("agent stopped; api calls %s", snapshot.get("api_calls"))
    return 0
