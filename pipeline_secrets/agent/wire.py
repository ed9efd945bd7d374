"""The wire format shared with AWS's Secrets Manager Agent.

Request: ``GET /secretsmanager/get?secretId=ID[&versionStage=S][&versionId=V]
[&refreshNow=true]`` with the header ``X-Aws-Parameters-Secrets-Token``.
Success: 200 and the GetSecretValue response as JSON (``SecretBinary`` base64,
``CreatedDate`` as epoch seconds in a string). Failure: an AWS-style error body
``{"__type": "<ErrorCode>", "message": "..."}`` with a 4xx/5xx status.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from pipeline_secrets.errors import (
    SecretAccessDeniedError,
    SecretDecryptionError,
    SecretError,
    SecretNotFoundError,
    SecretRequestError,
    SecretServiceUnavailableError,
    SecretThrottledError,
)
from pipeline_secrets.model import SecretValue

GET_PATH = "/secretsmanager/get"
PING_PATH = "/ping"
STATS_PATH = "/pipeline-secrets/stats"
METRICS_PATH = "/pipeline-secrets/metrics"  # Prometheus text, token required
CHALLENGE_PARAM = "challenge"  # GET /ping?challenge=N -> {"proof": ..., "config": ...}
TOKEN_HEADER = "X-Aws-Parameters-Secrets-Token"
DEFAULT_PORT = 2773  # the port AWS's agent uses too

# Our error class -> (HTTP status, AWS error code).
_STATUS_BY_ERROR: list[tuple[type[SecretError], int, str]] = [
    (SecretNotFoundError, 404, "ResourceNotFoundException"),
    (SecretAccessDeniedError, 403, "AccessDeniedException"),
    (SecretDecryptionError, 400, "DecryptionFailure"),
    (SecretThrottledError, 429, "ThrottlingException"),
    (SecretServiceUnavailableError, 503, "InternalServiceError"),
    (SecretRequestError, 400, "InvalidRequestException"),
]


def identity_proof(token: str, challenge: str, config_fingerprint: str = "") -> str:
    """What a genuine agent answers to ``/ping?challenge=...``: an HMAC keyed by the token
    over the challenge and the agent's configuration fingerprint. A listener that does not
    hold the token cannot produce it, and the challenge reveals nothing about the token."""
    message = f"pipeline-secrets-agent\n{challenge}\n{config_fingerprint}".encode()
    return hmac.new(token.encode("utf-8"), message, hashlib.sha256).hexdigest()


def proof_matches(token: str, challenge: str, body: bytes, config_fingerprint: str = "") -> bool:
    """Whether a ``/ping?challenge=`` answer proves the listener holds ``token`` (and
    serves ``config_fingerprint``)."""
    try:
        parsed = json.loads(body.decode("utf-8", "replace"))
    except ValueError:
        return False
    if not isinstance(parsed, dict) or not isinstance(parsed.get("proof"), str):
        return False
    expected = identity_proof(token, challenge, config_fingerprint)
    return hmac.compare_digest(parsed["proof"], expected)


def encode_value(value: SecretValue) -> bytes:
    body: dict[str, Any] = {
        "ARN": value.arn,
        "Name": value.name,
        "VersionId": value.version_id,
        "VersionStages": list(value.version_stages),
    }
    if value.secret_string is not None:
        body["SecretString"] = value.secret_string
    if value.secret_binary is not None:
        body["SecretBinary"] = base64.b64encode(value.secret_binary).decode("ascii")
    if value.created_date is not None:
        body["CreatedDate"] = f"{value.created_date.timestamp():.3f}"
    return json.dumps(body).encode("utf-8")


def encode_error(error: SecretError) -> tuple[int, bytes]:
    """Status and body for ``error``; the message names the id, never a value."""
    status, code = 500, "InternalFailure"
    for cls, cls_status, cls_code in _STATUS_BY_ERROR:
        if isinstance(error, cls):
            status, code = cls_status, cls_code
            break
    return status, json.dumps({"__type": code, "message": str(error)}).encode("utf-8")


_MAX_MESSAGE = 300


def error_from_body(status: int, body: bytes) -> tuple[str, str]:
    """The AWS error code and message of an error response (ours or AWS's agent's).
    Agents' messages name secret ids and causes, never values (ours: :func:`encode_error`)."""
    try:
        parsed = json.loads(body.decode("utf-8", "replace"))
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        code = str(parsed.get("__type") or parsed.get("code") or parsed.get("Code") or "")
        message = str(parsed.get("message") or parsed.get("Message") or "")[:_MAX_MESSAGE]
        if code:
            return code.rsplit("#", 1)[-1], message
    return _code_from_text(status, body), ""


def _code_from_text(status: int, body: bytes) -> str:
    text = body.decode("utf-8", "replace")
    for _cls, _status, known in _STATUS_BY_ERROR:
        if known in text:
            return known
    if status == 404:
        return "ResourceNotFoundException"
    if status in (401, 403):
        return "AccessDeniedException"
    if status == 429:
        return "ThrottlingException"
    return "InternalServiceError" if status >= 500 else "InvalidRequestException"
