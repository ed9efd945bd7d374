"""Is a boto3 failure a configuration mistake? Which setting should the user fix?

botocore reports a missing region, missing credentials or a malformed endpoint URL as
exceptions that look like network failures (``NoRegionError`` is a ``BotoCoreError``;
a bad URL is a bare ``ValueError`` or an ``HTTPClientError``). Reported as "could not
reach Secrets Manager", they send users looking for an outage. This module turns them
into :class:`SecretConfigurationError` naming the setting, and nothing else.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from botocore.exceptions import (
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
)

from pipeline_secrets.client import ClientSettings
from pipeline_secrets.errors import SecretConfigurationError

REGION_HINT = (
    "no AWS region is configured: set region_name (or PIPELINE_SECRETS_REGION, or "
    "AWS_DEFAULT_REGION)"
)
CREDENTIALS_HINT = (
    "no AWS credentials were found: set profile_name, role_arn or access keys, or give "
    "the process credentials (AWS_* environment, ~/.aws, an instance or task role)"
)


def endpoint_url_problem(url: str) -> str | None:
    """What is wrong with an endpoint URL's syntax, or None if it looks usable."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"it is not a URL ({exc})"
    if parts.scheme not in {"http", "https"}:
        return "it must start with http:// or https://"
    if not parts.hostname:
        return "it has no host name"
    if port is not None and not 0 < port < 65536:
        return "its port is out of range 1-65535"
    return None


def configuration_error(
    exc: BaseException,
    settings: ClientSettings,
    region: str | None,
    secret_id: str | None = None,
) -> SecretConfigurationError | None:
    """The configuration error ``exc`` stands for, or None if it is something else."""
    endpoint = settings.endpoint_urls_by_region.get(region or "") or settings.endpoint_url
    if endpoint:
        problem = endpoint_url_problem(endpoint)
        if problem is not None:
            return SecretConfigurationError(
                f"the Secrets Manager endpoint URL {endpoint!r} is malformed: {problem}; "
                "fix endpoint_url (or PIPELINE_SECRETS_ENDPOINT_URL)",
                setting="endpoint_url",
                secret_id=secret_id,
            )
    if isinstance(exc, NoRegionError):
        return SecretConfigurationError(REGION_HINT, setting="region_name", secret_id=secret_id)
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return SecretConfigurationError(
            f"{CREDENTIALS_HINT} ({type(exc).__name__})",
            setting="credentials",
            secret_id=secret_id,
        )
    if isinstance(exc, ProfileNotFound):
        return SecretConfigurationError(
            f"the AWS profile {settings.profile_name!r} does not exist in the AWS config "
            "files: fix profile_name (or PIPELINE_SECRETS_PROFILE)",
            setting="profile_name",
            secret_id=secret_id,
        )
    return None
