"""Turning the provider's AWS connection kwargs into the core's client factory.

``region_name``, ``endpoint_url``, ``profile_name``, explicit keys, ``role_arn`` (with
``assume_role_method`` ``assume_role`` or unset), ``assume_role_kwargs``,
``config_kwargs`` and ``verify`` map onto :class:`ClientSettings`. Other assume-role
methods (SAML, web identity) are delegated to the amazon provider's SessionFactory,
exactly as the provider's backend builds its session.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import boto3

from pipeline_secrets import settings
from pipeline_secrets.client import ClientFactory, ClientSettings

CORE_ROLE_METHODS = (None, "", "assume_role")
# The amazon provider's backend assumes its role as "Airflow_SecretsManagerBackend__connection",
# slugified: IAM trust policies and CloudTrail filters match this name.
BACKEND_ROLE_SESSION_NAME = "airflow_secretsmanagerbackend__connection"


def client_settings(
    aws: Mapping[str, Any],
    fallback_regions: Sequence[str] = (),
    region_endpoint_urls: Mapping[str, str] | None = None,
) -> ClientSettings:
    """The backend's AWS kwargs through the core's one mapping (``settings.client_settings``),
    with the provider's STS session name unless the user gave one."""
    return settings.client_settings(
        {
            "role_session_name": BACKEND_ROLE_SESSION_NAME,
            **aws,
            "fallback_regions": tuple(fallback_regions),
            "region_endpoint_urls": dict(region_endpoint_urls or {}),
        }
    )


class ProviderSessionClientFactory(ClientFactory):
    """Clients built on a session from the amazon provider's SessionFactory."""

    def __init__(self, settings: ClientSettings, aws: Mapping[str, Any]) -> None:
        super().__init__(settings)
        self._aws = dict(aws)

    def _base_session(self) -> boto3.session.Session:
        if self._session is None:
            from airflow.providers.amazon.aws.hooks.base_aws import SessionFactory
            from airflow.providers.amazon.aws.utils.connection_wrapper import (
                AwsConnectionWrapper,
            )

            conn = AwsConnectionWrapper.from_connection_metadata(
                conn_id="SecretsManagerBackend__connection", extra=self._aws
            )
            self._session = SessionFactory(conn=conn).create_session()
        return self._session


def client_factory(
    aws: Mapping[str, Any],
    fallback_regions: Sequence[str] = (),
    region_endpoint_urls: Mapping[str, str] | None = None,
) -> ClientFactory:
    settings = client_settings(aws, fallback_regions, region_endpoint_urls)
    if aws.get("assume_role_method") in CORE_ROLE_METHODS:
        return ClientFactory(settings)
    return ProviderSessionClientFactory(settings, aws)
