"""Everything an agent is started with, as one object that crosses the process boundary.

The launcher serializes it (JSON, in the child's environment: it can hold keys, so never
on the command line) and the agent rebuilds exactly the same :class:`ClientSettings` and
cache policy. Its :meth:`fingerprint` keys the autostarted agent's socket and token, so
two configurations on one host (another endpoint, region, profile, role, account or
credentials) never read through each other's agent.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pipeline_secrets.client import ClientSettings

ENV_VAR = "PIPELINE_SECRETS_AGENT_LAUNCH_CONFIG"

# Process environment that changes which AWS identity or endpoint boto3 uses.
_IDENTITY_ENV_PREFIXES = ("AWS_",)


def settings_to_dict(settings: ClientSettings) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(settings):
        value = getattr(settings, f.name)
        if isinstance(value, tuple):
            value = list(value)
        elif isinstance(value, Mapping):
            value = dict(value)
        out[f.name] = value
    return out


def settings_from_dict(data: Mapping[str, Any]) -> ClientSettings:
    defaults = ClientSettings()
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(ClientSettings):
        if f.name not in data:
            continue
        value = data[f.name]
        if isinstance(getattr(defaults, f.name), tuple) and value is not None:
            value = tuple(value)
        kwargs[f.name] = value
    return ClientSettings(**kwargs)


@dataclass(frozen=True)
class AgentLaunchConfig:
    """The client settings, cache policy, prefetch and scope of one agent."""

    client: ClientSettings = field(default_factory=ClientSettings.create, repr=False)
    ttl_seconds: float | None = None
    negative_ttl_seconds: float | None = None
    max_stale_seconds: float | None = None
    prefetch_prefixes: tuple[str, ...] = ()
    allowed_prefixes: tuple[str, ...] = ()
    allow_any_secret: bool = False
    allow_pending: bool = False
    idle_exit_seconds: float = 900.0

    def to_json(self) -> str:
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["client"] = settings_to_dict(self.client)
        for key in ("prefetch_prefixes", "allowed_prefixes"):
            data[key] = list(data[key])
        return json.dumps(data, sort_keys=True, default=str)

    @classmethod
    def from_json(cls, text: str) -> AgentLaunchConfig:
        data = json.loads(text)
        data["client"] = settings_from_dict(data.get("client") or {})
        for key in ("prefetch_prefixes", "allowed_prefixes"):
            data[key] = tuple(data.get(key) or ())
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def fingerprint(self, environ: Mapping[str, str] | None = None) -> str:
        """SHA-256 over the whole configuration and the AWS identity environment (keys
        included, hashed: the fingerprint names files but reveals nothing)."""
        env = os.environ if environ is None else environ
        identity_env = {
            k: v for k, v in sorted(env.items()) if k.startswith(_IDENTITY_ENV_PREFIXES)
        }
        blob = json.dumps(
            {"config": json.loads(self.to_json()), "env": identity_env}, sort_keys=True
        )
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()
