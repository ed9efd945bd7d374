"""The AWS Lambda entry point: ``pipeline_secrets.rotation.lambda_handler``.

Secrets Manager calls it four times per rotation with
``{"SecretId", "ClientRequestToken", "Step"}``. The client honours
``SECRETS_MANAGER_ENDPOINT`` (a VPC interface endpoint, as in the AWS templates), then
the ``PIPELINE_SECRETS_*`` settings and boto3's own environment. Password options come
from the environment (see :mod:`.passwords`); so do the master's endpoint for an
RDS-managed master secret (``PIPELINE_SECRETS_ROTATION_MASTER_HOST``/``_PORT``, else
RDS, see :mod:`.master`) and the master's TLS mode (``..._MASTER_SSL``, see :mod:`.tls`).
A missing region or unusable AWS setup fails the step as a :class:`RotationConfigError`.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from typing import Any

from pipeline_secrets.rotation.errors import (
    AwsSetupError,
    RotationConfigError,
    RotationProtocolError,
)
from pipeline_secrets.rotation.runner import default_client, run_step

log = logging.getLogger(__name__)
_client_lock = threading.Lock()
_client: Any | None = None


def _lambda_client() -> Any:
    global _client
    with _client_lock:
        if _client is None:
            _client = default_client(endpoint_url=os.environ.get("SECRETS_MANAGER_ENDPOINT"))
        return _client


def lambda_handler(event: Mapping[str, Any], context: Any) -> None:
    """Run the requested step. Raises (and so fails the invocation) on any error."""
    logging.getLogger("pipeline_secrets").setLevel(
        os.environ.get("PIPELINE_SECRETS_LOG_LEVEL", "INFO").upper()
    )
    secret_id = str(event.get("SecretId") or "")
    token = str(event.get("ClientRequestToken") or "")
    step = event.get("Step")
    if not secret_id:
        raise RotationProtocolError(str(step), "?", "the event has no SecretId")
    try:
        client = _lambda_client()
    except AwsSetupError as exc:
        raise RotationConfigError(str(step), secret_id, str(exc)) from None
    run_step(
        step,  # type: ignore[arg-type]  # checked inside
        secret_id,
        token,
        client=client,
        password_options=None,  # createSecret reads the environment
        local=False,
    )


def reset_client() -> None:
    """Forget the cached client (tests change the endpoint between cases)."""
    global _client
    with _client_lock:
        _client = None
