"""Rotation errors: each names the step and the secret, never a value."""

from __future__ import annotations

from pipeline_secrets.errors import SecretError


class RotationError(SecretError):
    """A rotation step failed. AWSCURRENT is left as it was (still working)."""

    def __init__(self, step: str, secret_id: str, reason: str) -> None:
        super().__init__(
            f"rotation step {step} of secret {secret_id!r} failed: {reason}", secret_id=secret_id
        )
        self.step = step
        self.reason = reason


class RotationProtocolError(RotationError):
    """The request breaks the rotation protocol (unknown step, bad token, rotation off)."""


class RotationConfigError(RotationError):
    """The secret or the settings cannot be rotated as they are (engine, username, ...)."""


class AwsSetupError(Exception):
    """boto3 cannot reach AWS as configured (region, credentials, endpoint). Converted to
    a :class:`RotationConfigError` naming the step and the secret by the runner."""
