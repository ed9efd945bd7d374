"""The page's two actions, each recorded in Airflow's audit log (the ``log`` table,
Browse > Audit Log) and in the api-server's log. Neither returns a value.

* refresh now: drop the backend's cached copy and fetch the secret again (through the
  agent with ``refreshNow`` when the backend reads through one, so every process that
  shares the agent sees the new version); returns the version id.
* rotate now: Secrets Manager's RotateSecret (RotateImmediately), only for a secret with
  rotation configured (its rotation Lambda does the work). The api-server never runs
  rotation steps against a database itself.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from pipeline_secrets.errors import SecretError
from pipeline_secrets.model import AWSCURRENT
from pipeline_secrets.stats import emit

log = logging.getLogger(__name__)


class RotationNotConfiguredError(Exception):
    """The secret has no rotation Lambda: RotateSecret would have nothing to run."""


def refresh_now(backend: Any, name: str) -> dict[str, Any]:
    """Fetch ``name`` again into the backend's cache; ``{"secret", "version_id", "via_agent"}``."""
    from pipeline_secrets.agent.client import AgentSource

    cache = backend.cache
    # A forced fetch reaches an agent as refreshNow=true (the cache passes refresh=True).
    stage = backend.options.version_stage or AWSCURRENT
    value = cache.get(name, version_stage=stage, force_refresh=True)
    return {
        "secret": name,
        "version_id": value.version_id,
        "via_agent": isinstance(cache.source, AgentSource),
    }


def rotate_now(backend: Any, name: str) -> dict[str, Any]:
    """Start the secret's configured rotation; ``{"secret", "version_id"}``."""
    source = backend.cache.source
    described = source.describe_secret(name)
    if not described.get("RotationEnabled") or not described.get("RotationLambdaARN"):
        raise RotationNotConfiguredError(
            f"secret {name!r} has no rotation Lambda configured; rotate it with "
            "RotateSecretOperator(mode='local') or `pipeline-secrets rotate`"
        )

    def call(client: Any) -> dict[str, Any]:
        return dict(client.rotate_secret(SecretId=name, RotateImmediately=True))

    started = source.call("RotateSecret", name, call)
    backend.cache.invalidate(name)
    return {"secret": name, "version_id": started.get("VersionId")}


def record(action: str, name: str, user: str, outcome: str, detail: str = "") -> None:
    """One audit-log row (event ``pipeline_secrets.<action>``) and one log line."""
    emit("ui_action", action=action, outcome=outcome)
    log.info(
        "Secrets page: user %r: %s of secret %r: %s%s",
        user,
        action,
        name,
        outcome,
        f" ({detail})" if detail else "",
    )
    try:
        from airflow.models.log import Log
        from airflow.utils.session import create_session

        extra = json.dumps({"secret": name, "outcome": outcome, "detail": detail})
        with create_session() as session:
            session.add(Log(event=f"pipeline_secrets.{action}", owner=user, extra=extra))
    except Exception as exc:  # the action happened; a failed audit row is logged loudly
        log.error("could not write the audit log row for %s of %r: %s", action, name, exc)


def describe(exc: SecretError) -> str:
    """The error's class and message (ours name the secret and field, never a value)."""
    return f"{type(exc).__name__}: {exc}"
