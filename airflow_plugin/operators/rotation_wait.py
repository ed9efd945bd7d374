"""Waiting for a rotation started with RotateSecret to finish, reading DescribeSecret."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from pipeline_secrets.clock import SYSTEM_CLOCK, Clock
from pipeline_secrets.errors import SecretError

log = logging.getLogger(__name__)


class RotationNotFinishedError(SecretError):
    """The new version did not become AWSCURRENT in time, or disappeared."""


def wait_for_rotation(
    describe: Callable[[], dict[str, Any]],
    secret_id: str,
    token: str,
    *,
    timeout_seconds: float,
    poll_interval_seconds: float,
    clock: Clock = SYSTEM_CLOCK,
) -> list[str]:
    """Poll until version ``token`` is AWSCURRENT; return its stages. Raise otherwise.

    The error says how far the rotation got, as far as the stages tell: a version still
    AWSPENDING means createSecret ran and a later step (setSecret, testSecret or
    finishSecret) failed or is still running; no version at all means createSecret did
    not store one. The rotation function's own log has the step's exception.
    """
    deadline = clock.monotonic() + timeout_seconds
    stages: list[str] = []
    while True:
        info = describe()
        stages = list(info.get("VersionIdsToStages", {}).get(token, []))
        if "AWSCURRENT" in stages:
            return stages
        now = clock.monotonic()
        if now >= deadline:
            break
        log.info("rotation of %r: version %s is %s; waiting", secret_id, token, stages or "absent")
        clock.sleep(min(poll_interval_seconds, deadline - now))
    if "AWSPENDING" in stages:
        where = (
            "createSecret stored the new version but setSecret, testSecret or finishSecret "
            "did not complete"
        )
    else:
        where = "createSecret did not store a new version"
    lambda_arn = info.get("RotationLambdaARN")
    hint = f"; see the log of {lambda_arn}" if lambda_arn else ""
    raise RotationNotFinishedError(
        f"rotation of secret {secret_id!r} (version {token}) did not finish within "
        f"{timeout_seconds:.0f}s: {where}{hint}",
        secret_id=secret_id,
    )
