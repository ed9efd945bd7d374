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
    found = _classify(exc, settings, region)
    if found is None:
        return None
    setting, reason = found
    where = f"reading secret {secret_id!r}: " if secret_id else ""
    return SecretConfigurationError(f"{where}{reason}", setting=setting, secret_id=secret_id)


def _classify(
    exc: BaseException, settings: ClientSettings, region: str | None
) -> tuple[str, str] | None:
    """(setting, reason) for a configuration mistake."""
    endpoint = settings.endpoint_urls_by_region.get(region or "") or settings.endpoint_url
    if endpoint:
        problem = endpoint_url_problem(endpoint)
        if problem is not None:
            return "endpoint_url", (
                f"the Secrets Manager endpoint URL {endpoint!r} is malformed: {problem}; "
                "fix endpoint_url (or PIPELINE_SECRETS_ENDPOINT_URL)"
            )
    if isinstance(exc, ValueError) and "endpoint" in str(exc).lower():
        return "endpoint_url", (
            "the Secrets Manager endpoint URL is malformed (from AWS_ENDPOINT_URL, "
            "AWS_ENDPOINT_URL_SECRETS_MANAGER or the AWS config file); fix it or set "
            "endpoint_url"
        )
    if isinstance(exc, NoRegionError):
        return "region_name", REGION_HINT
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return "credentials", f"{CREDENTIALS_HINT} ({type(exc).__name__})"
    if isinstance(exc, ProfileNotFound):
        return "profile_name", (
            f"the AWS profile {settings.profile_name!r} does not exist in the AWS config "
            "files: fix profile_name (or PIPELINE_SECRETS_PROFILE)"
        )
    return None
