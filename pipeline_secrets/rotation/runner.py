"""Running steps: one (:func:`run_step`, what the Lambda does) or a whole rotation
(:func:`rotate_secret`, the local runner used by the CLI, the demo and the tests).

The local runner works against AWS or any endpoint (a moto server). Secrets Manager's
RotateSecret needs a Lambda, so the runner plays the service's part: it picks the
token (a new uuid4, the one given, or the token of an interrupted rotation, which it
resumes), then runs the four steps in-process. ``createSecret`` creates the pending
version itself (with AWS, the service creates it, empty, before calling the Lambda).
A local run does not require RotationEnabled on the secret; the Lambda handler does.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from pipeline_secrets.errors import SecretFormatError
from pipeline_secrets.model import AWSCURRENT, AWSPENDING
from pipeline_secrets.rotation.checks import (
    FINISH,
    STEPS,
    Decision,
    check_request,
    check_step_name,
)
from pipeline_secrets.rotation.errors import AwsSetupError, RotationConfigError, RotationError
from pipeline_secrets.rotation.passwords import PasswordOptions
from pipeline_secrets.rotation.steps import STEP_FUNCTIONS, StepContext, StepOptions
from pipeline_secrets.rotation.store import (
    SecretStore,
    aws_setup_problem,
    default_client,
    error_code,
)
from pipeline_secrets.rotation.strategies import strategy_of
from pipeline_secrets.stats import rotation_step_metrics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RotationResult:
    secret_id: str
    token: str  # the new version id
    steps: list[str] = field(default_factory=list)  # completed steps, in order
    strategy: str = "single"  # "single" | "alternating"
    finished: bool = False  # AWSCURRENT is the new version


def run_step(
    step: str,
    secret_id: str,
    token: str,
    *,
    client: Any | None = None,
    master_client: Any | None = None,
    password_options: PasswordOptions | None = None,
    local: bool = True,
    on_password: Callable[[str], None] | None = None,
    rds_clients: Callable[[str | None], Any] | None = None,
) -> None:
    """Run one rotation step, after the protocol checks.

    ``local=False`` is the Lambda's behaviour: RotationEnabled is required and the
    token must already be a version of the secret. ``on_password(value)`` is called
    with every password the step handles (to register it with a log masker).
    ``rds_clients(region)`` builds the RDS client that resolves an RDS-managed master
    secret's endpoint (default: the project's client factory). Raises
    :class:`RotationError`.
    """
    options = StepOptions(
        master_client=master_client,
        password_options=password_options,
        on_password=on_password,
        rds_clients=rds_clients,
    )
    _run_step(step, secret_id, token, client=client, options=options, local=local)


@rotation_step_metrics
def _run_step(
    step: str, secret_id: str, token: str, *, client: Any | None, options: StepOptions, local: bool
) -> None:
    check_step_name(step, secret_id)
    client = _client_or_default(client, step, secret_id)
    store = SecretStore(client, secret_id)
    try:
        decision = check_request(
            store, step, token, require_rotation_enabled=not local, allow_new_token=local
        )
        if decision is Decision.ALREADY_CURRENT:
            if step == FINISH:
                store.drop_pending(token)  # a crash between the two stage moves
            return
        STEP_FUNCTIONS[step](StepContext(store=store, token=token, step=step, options=options))
    except RotationError:
        raise
    except Exception as exc:
        raise _as_rotation_error(step, secret_id, exc) from exc


def _client_or_default(client: Any | None, step: str, secret_id: str) -> Any:
    if client is not None:
        return client
    try:
        return default_client()
    except AwsSetupError as exc:
        raise RotationConfigError(step, secret_id, str(exc)) from None


def _as_rotation_error(step: str, secret_id: str, exc: Exception) -> Exception:
    """A clear RotationError for a secret-format or AWS failure; other errors as they are."""
    from botocore import exceptions as bx

    if isinstance(exc, SecretFormatError):
        return RotationConfigError(step, secret_id, str(exc))
    if isinstance(exc, ClientError):
        return RotationError(
            step, secret_id, f"Secrets Manager {exc.operation_name} failed ({error_code(exc)})"
        )
    config_problems = (
        bx.NoRegionError,
        bx.NoCredentialsError,
        bx.PartialCredentialsError,
        bx.ProfileNotFound,
    )
    if isinstance(exc, config_problems):
        return RotationConfigError(step, secret_id, aws_setup_problem(exc))
    if isinstance(exc, BotoCoreError):
        return RotationError(step, secret_id, aws_setup_problem(exc))
    return exc


def rotate_secret(
    secret_id: str,
    *,
    client: Any | None = None,
    token: str | None = None,
    stop_after: str | None = None,
    master_client: Any | None = None,
    password_options: PasswordOptions | None = None,
    on_step: Callable[[str], None] | None = None,
    on_password: Callable[[str], None] | None = None,
    rds_clients: Callable[[str | None], Any] | None = None,
) -> RotationResult:
    """Rotate ``secret_id`` now: createSecret, setSecret, testSecret, finishSecret.

    ``token`` resumes (or names) a rotation; without it an interrupted rotation (a
    version with AWSPENDING only) is resumed, else a new uuid4 is used.
    ``stop_after`` ("createSecret" | "setSecret" | "testSecret") leaves the rotation
    window open. ``on_step(step)`` is called after each completed step (tests pause
    or crash there); ``on_password`` and ``rds_clients`` as for :func:`run_step`.
    Steps are idempotent: re-running after any failure completes. Configuration
    problems (no region, no credentials, unreachable endpoint, unreadable secret)
    fail here, at "start", as a :class:`RotationConfigError` or :class:`RotationError`.
    """
    if stop_after is not None:
        check_step_name(stop_after, secret_id)
    client = _client_or_default(client, "start", secret_id)
    store = SecretStore(client, secret_id)
    try:
        versions = store.versions()
        current = store.get_dict(AWSCURRENT)
    except Exception as exc:
        raise _as_rotation_error("start", secret_id, exc) from exc
    if token is None:
        token = _interrupted_rotation(versions)
        if token is not None:
            log.info("resuming the interrupted rotation %s of secret %r", token, secret_id)
        else:
            token = str(uuid.uuid4())
    log.info("rotating secret %r (version %s)", secret_id, token)
    options = StepOptions(
        master_client=master_client,
        password_options=password_options,
        on_password=on_password,
        rds_clients=rds_clients,
    )
    done: list[str] = []
    for step in STEPS:
        _run_step(step, secret_id, token, client=client, options=options, local=True)
        done.append(step)
        if on_step is not None:
            on_step(step)
        if step == stop_after:
            break
    return RotationResult(
        secret_id=secret_id,
        token=token,
        steps=done,
        strategy=strategy_of(current),
        finished=FINISH in done,
    )


def _interrupted_rotation(versions: dict[str, list[str]]) -> str | None:
    for version, stages in versions.items():
        if AWSPENDING in stages and AWSCURRENT not in stages:
            return version
    return None
