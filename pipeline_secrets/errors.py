"""The error hierarchy of pipeline-secrets.

Every error names the secret id (and, for format errors, the field) and never the
secret's value. Errors raised because of another one are chained with ``from``.
"""

from __future__ import annotations

from collections.abc import Sequence


class SecretError(Exception):
    """Base class of every error this library raises."""

    def __init__(self, message: str, *, secret_id: str | None = None) -> None:
        super().__init__(message)
        self.secret_id = secret_id


class SecretNotFoundError(SecretError):
    """The secret, or the requested version of it, does not exist."""


class SecretDeletedError(SecretNotFoundError):
    """The secret is scheduled for deletion (AWS answers InvalidRequestException)."""


class SecretAccessDeniedError(SecretError):
    """IAM or a resource policy refused the call."""


class SecretDecryptionError(SecretError):
    """KMS could not decrypt the secret (DecryptionFailure)."""


class SecretThrottledError(SecretError):
    """Secrets Manager throttled the call and retries did not get through."""


class SecretServiceUnavailableError(SecretError):
    """Secrets Manager could not be reached (network error, timeout, 5xx) in any region."""


class SecretConfigurationError(SecretError):
    """The client cannot be built or sign a request because a setting is missing or
    malformed (no region, no credentials, an endpoint URL that is not a URL, an unknown
    profile). Not an outage: retrying or failing over cannot help.

    ``setting`` names what to fix (``region_name``, ``endpoint_url``, ``profile_name``,
    ``credentials``).
    """

    def __init__(self, message: str, *, setting: str, secret_id: str | None = None) -> None:
        super().__init__(message, secret_id=secret_id)
        self.setting = setting


class SecretRequestError(SecretError):
    """Secrets Manager rejected the request itself (invalid parameter or request)."""


class SecretFormatError(SecretError, ValueError):
    """A secret's content is not in a shape we can read.

    ``field`` names the offending field (``None`` when the whole value is unreadable).
    The message never contains the value.
    """

    def __init__(self, secret_id: str | None, field: str | None, reason: str) -> None:
        where = f"field {field!r} of " if field else ""
        name = f"secret {secret_id!r}" if secret_id else "the secret"
        super().__init__(f"{where}{name}: {reason}", secret_id=secret_id)
        self.field = field
        self.reason = reason


class AuthenticationFailedError(SecretError):
    """The database kept refusing the credentials after every refresh we tried.

    ``attempts`` lists what was tried, as ``(stage or version label, outcome)`` pairs,
    without values. ``reason``, when given, is the database's own (sanitized) message
    and becomes the first line.
    """

    def __init__(
        self,
        secret_id: str,
        attempts: Sequence[tuple[str, str]],
        elapsed_seconds: float,
        *,
        reason: str | None = None,
    ) -> None:
        tried = "; ".join(f"{label}: {outcome}" for label, outcome in attempts) or "nothing"
        summary = (
            f"database refused the credentials of secret {secret_id!r} after "
            f"{len(attempts)} attempt(s) in {elapsed_seconds:.1f}s (tried {tried})"
        )
        super().__init__(f"{reason}\n{summary}" if reason else summary, secret_id=secret_id)
        self.attempts = list(attempts)
        self.elapsed_seconds = elapsed_seconds
        self.reason = reason
