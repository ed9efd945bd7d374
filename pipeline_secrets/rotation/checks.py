"""The rotation protocol: step names, and the checks every step makes first.

Checks, in order: the step name is one of the four; rotation is enabled (Lambda only:
a local run rotates secrets that have no rotation configured); the token is a version
of the secret (a local ``createSecret`` may name a token that does not exist yet: there
is no service to create the empty pending version for it); a token already AWSCURRENT
means there is nothing to do; otherwise the token must carry AWSPENDING.
"""

from __future__ import annotations

import enum
import logging
from typing import Any

from pipeline_secrets.model import AWSCURRENT, AWSPENDING
from pipeline_secrets.rotation.errors import RotationProtocolError
from pipeline_secrets.rotation.store import SecretStore

log = logging.getLogger(__name__)

CREATE, SET, TEST, FINISH = "createSecret", "setSecret", "testSecret", "finishSecret"
STEPS: tuple[str, ...] = (CREATE, SET, TEST, FINISH)


class Decision(enum.Enum):
    RUN = "run"
    ALREADY_CURRENT = "already-current"


def check_step_name(step: Any, secret_id: str) -> str:
    if step not in STEPS:
        shown = repr(step)[:40]
        raise RotationProtocolError(
            shown, secret_id, f"unknown step (expected one of {', '.join(STEPS)})"
        )
    return str(step)


def check_request(
    store: SecretStore,
    step: str,
    token: str,
    *,
    require_rotation_enabled: bool,
    allow_new_token: bool = False,
) -> Decision:
    """Apply the protocol checks; raise :class:`RotationProtocolError` when one fails."""
    secret_id = store.secret_id
    check_step_name(step, secret_id)
    if not token:
        raise RotationProtocolError(step, secret_id, "no ClientRequestToken given")
    metadata = store.describe()
    if require_rotation_enabled and not metadata.get("RotationEnabled", False):
        raise RotationProtocolError(step, secret_id, "rotation is not enabled for this secret")
    versions: dict[str, list[str]] = metadata.get("VersionIdsToStages", {})
    if token not in versions:
        if allow_new_token and step == CREATE:
            return Decision.RUN
        raise RotationProtocolError(
            step, secret_id, f"version {token} is not a version of the secret"
        )
    stages = versions[token]
    if AWSCURRENT in stages:
        log.info(
            "%s: version %s of secret %r is already AWSCURRENT; nothing to do",
            step,
            token,
            secret_id,
        )
        return Decision.ALREADY_CURRENT
    if AWSPENDING not in stages:
        raise RotationProtocolError(
            step, secret_id, f"version {token} is not AWSPENDING (stages: {sorted(stages)})"
        )
    return Decision.RUN
