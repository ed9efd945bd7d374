"""Building boto3 clients: region, endpoint, profile, keys, role chain.

The one place the project builds boto3 clients (Secrets Manager, and RDS for the
rotation functions). Clients are built lazily, one per service and region, and rebuilt
in a child process after ``fork()`` (boto3 clients must not be shared across
processes). Building one installs :mod:`pipeline_secrets.logfilter`, so no client of
ours logs a secret value at DEBUG.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config

from pipeline_secrets import logfilter
from pipeline_secrets import settings as _settings

SECRETS_MANAGER = "secretsmanager"

DEFAULT_BOTOCORE_CONFIG: dict[str, Any] = {
    "retries": {"mode": "standard", "max_attempts": 4},
    "connect_timeout": 5,
    "read_timeout": 10,
}


@dataclass(frozen=True)
class ClientSettings:
    """How to reach Secrets Manager. Keys and tokens never appear in the repr."""

    region_name: str | None = None
    endpoint_url: str | None = None
    profile_name: str | None = None
    aws_access_key_id: str | None = field(default=None, repr=False)
    aws_secret_access_key: str | None = field(default=None, repr=False)
    aws_session_token: str | None = field(default=None, repr=False)
    role_arns: tuple[str, ...] = ()
    role_session_name: str = "pipeline-secrets"
    assume_role_kwargs: Mapping[str, Any] = field(default_factory=dict)
    botocore_config: Mapping[str, Any] = field(default_factory=dict)
    verify: bool | str | None = None
    fallback_regions: tuple[str, ...] = ()
    endpoint_urls_by_region: Mapping[str, str] = field(default_factory=dict)
    use_ssl: bool | None = None  # boto3 client argument (None: boto3's default)
    api_version: str | None = None  # boto3 client argument

    @classmethod
    def create(
        cls,
        *,
        region_name: str | None = None,
        endpoint_url: str | None = None,
        profile_name: str | None = None,
        aws_access_key_id: str | None = None,
        aws_secret_access_key: str | None = None,
        aws_session_token: str | None = None,
        role_arn: str | Sequence[str] | None = None,
        role_session_name: str | None = None,
        assume_role_kwargs: Mapping[str, Any] | None = None,
        botocore_config: Mapping[str, Any] | None = None,
        verify: bool | str | None = None,
        fallback_regions: str | Sequence[str] | None = None,
        endpoint_urls_by_region: Mapping[str, str] | None = None,
        use_ssl: bool | None = None,
        api_version: str | None = None,
    ) -> ClientSettings:
        """Build settings from arguments, then ``PIPELINE_SECRETS_*`` variables."""
        roles: tuple[str, ...]
        if isinstance(role_arn, str):
            roles = _settings.parse_list(role_arn)
        elif role_arn is not None:
            roles = tuple(role_arn)
        else:
            roles = _settings.resolve("role_arn", None, (), _settings.parse_list)
        if isinstance(fallback_regions, str):
            fallbacks = _settings.parse_list(fallback_regions)
        else:
            fallbacks = _settings.resolve(
                "fallback_regions",
                tuple(fallback_regions) if fallback_regions is not None else None,
                (),
                _settings.parse_list,
            )
        return cls(
            region_name=_settings.resolve("region", region_name, None, str),
            endpoint_url=_settings.resolve("endpoint_url", endpoint_url, None, str),
            profile_name=_settings.resolve("profile", profile_name, None, str),
            aws_access_key_id=aws_access_key_id,
            aws_secret_access_key=aws_secret_access_key,
            aws_session_token=aws_session_token,
            role_arns=roles,
            role_session_name=role_session_name or "pipeline-secrets",
            assume_role_kwargs=dict(assume_role_kwargs or {}),
            botocore_config=dict(botocore_config or {}),
            verify=verify,
            fallback_regions=fallbacks,
            endpoint_urls_by_region=dict(endpoint_urls_by_region or {}),
            use_ssl=use_ssl,
            api_version=api_version,
        )


class ClientFactory:
    """Lazily builds one client per (service, region); fork-safe; installs the log filter."""

    def __init__(self, settings: ClientSettings | None = None) -> None:
        self.settings = settings or ClientSettings.create()
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._clients: dict[tuple[str, str | None], Any] = {}
        self._session: boto3.session.Session | None = None

    def regions(self) -> list[str | None]:
        """The primary region (None means boto3's default) then the fallbacks."""
        primary = self.settings.region_name
        ordered: list[str | None] = [primary]
        ordered.extend(r for r in self.settings.fallback_regions if r != primary)
        return ordered

    def client(self, region: str | None = None, service: str = SECRETS_MANAGER) -> Any:
        """The client of ``service`` (Secrets Manager by default) for ``region``.

        ``endpoint_url`` and ``endpoint_urls_by_region`` apply to Secrets Manager only;
        other services use boto3's own ``AWS_ENDPOINT_URL_<SERVICE>`` variables."""
        with self._lock:
            if self._pid != os.getpid():
                # A forked child must not reuse the parent's connection pool.
                self._clients.clear()
                self._session = None
                self._pid = os.getpid()
            client = self._clients.get((service, region))
            if client is None:
                client = self._build(region, service)
                self._clients[(service, region)] = client
            return client

    def _build(self, region: str | None, service: str = SECRETS_MANAGER) -> Any:
        logfilter.install()  # before the first request: bodies may hold secret values
        session = self._base_session()
        config_kwargs = {**DEFAULT_BOTOCORE_CONFIG, **dict(self.settings.botocore_config)}
        kwargs: dict[str, Any] = {"config": Config(**config_kwargs)}
        region_name = region or self.settings.region_name
        if region_name:
            kwargs["region_name"] = region_name
        endpoint = self.settings.endpoint_urls_by_region.get(region or "") or (
            self.settings.endpoint_url
        )
        if endpoint and service == SECRETS_MANAGER:
            kwargs["endpoint_url"] = endpoint
        if self.settings.verify is not None:
            kwargs["verify"] = self.settings.verify
        if self.settings.use_ssl is not None:
            kwargs["use_ssl"] = self.settings.use_ssl
        if self.settings.api_version:
            kwargs["api_version"] = self.settings.api_version
        service_name: Any = service  # boto3's stubs want a literal service name
        return session.client(service_name, **kwargs)

    def _base_session(self) -> boto3.session.Session:
        if self._session is not None:
            return self._session
        s = self.settings
        session = boto3.session.Session(
            aws_access_key_id=s.aws_access_key_id,
            aws_secret_access_key=s.aws_secret_access_key,
            aws_session_token=s.aws_session_token,
            profile_name=s.profile_name,
            region_name=s.region_name,
        )
        for role_arn in s.role_arns:
            session = _assume_role(session, role_arn, s)
        self._session = session
        return session


def _assume_role(
    session: boto3.session.Session, role_arn: str, settings: ClientSettings
) -> boto3.session.Session:
    """A session whose credentials come from assuming ``role_arn`` and refresh themselves."""
    from botocore.credentials import RefreshableCredentials
    from botocore.session import get_session

    sts = session.client("sts", region_name=settings.region_name)

    # As the amazon provider merges them: the user's kwargs (RoleSessionName included)
    # win over our default session name; the role of this link of the chain wins last.
    request = {
        "RoleSessionName": settings.role_session_name,
        **dict(settings.assume_role_kwargs),
        "RoleArn": role_arn,
    }

    def fetch() -> dict[str, Any]:
        response = sts.assume_role(**request)
        creds = response["Credentials"]
        return {
            "access_key": creds["AccessKeyId"],
            "secret_key": creds["SecretAccessKey"],
            "token": creds["SessionToken"],
            "expiry_time": creds["Expiration"].isoformat(),
        }

    refreshable = RefreshableCredentials.create_from_metadata(
        metadata=fetch(), refresh_using=fetch, method="sts-assume-role"
    )
    botocore_session = get_session()
    botocore_session._credentials = refreshable  # type: ignore[attr-defined]
    if settings.region_name:
        botocore_session.set_config_variable("region", settings.region_name)
    return boto3.session.Session(botocore_session=botocore_session)
