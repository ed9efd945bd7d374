"""Clients shaped like botocore 1.27.59's (AWS Glue 4.0), over a current botocore.

What the Secrets Manager client of botocore 1.27.59 lacks, as checked against the real
one (``tests/glue_lib/test_glue_bundled_boto3.py`` runs the Glue path on it): the
``batch_get_secret_value`` method (BatchGetSecretValue came with botocore 1.33), and
ListSecrets' ``IncludePlannedDeletion`` parameter (its members there: ``MaxResults``,
``NextToken``, ``Filters``, ``SortOrder``).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ParamValidationError

from pipeline_secrets.client import SECRETS_MANAGER, ClientFactory

LIST_SECRETS_MEMBERS = {"MaxResults", "NextToken", "Filters", "SortOrder"}


class OldSecretsManagerClient:
    """A real client with the old model's gaps."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        if name == "batch_get_secret_value":
            raise AttributeError(f"'SecretsManager' object has no attribute {name!r}")
        return getattr(self._client, name)

    def list_secrets(self, **kwargs: Any) -> Any:
        unknown = sorted(set(kwargs) - LIST_SECRETS_MEMBERS)
        if unknown:
            raise ParamValidationError(
                report=f'Unknown parameter in input: "{unknown[0]}", must be one of: '
                + ", ".join(sorted(LIST_SECRETS_MEMBERS))
            )
        return self._client.list_secrets(**kwargs)


class OldBotocoreFactory(ClientFactory):
    def client(self, region: str | None = None, service: str = SECRETS_MANAGER) -> Any:
        built = super().client(region, service)
        return OldSecretsManagerClient(built) if service == SECRETS_MANAGER else built
