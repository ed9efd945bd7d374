"""The Secrets Manager calls a rotation makes, on a plain boto3 client.

Every read passes ``VersionStage`` explicitly (moto answers a bare GetSecretValue with
a stale version after stage moves).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from pipeline_secrets.model import AWSCURRENT, AWSPENDING, parse_json_object

log = logging.getLogger(__name__)

NOT_FOUND_CODES = {"ResourceNotFoundException"}


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class SecretStore:
    """One secret, seen through ``client``."""

    def __init__(self, client: Any, secret_id: str) -> None:
        self.client = client
        self.secret_id = secret_id

    def describe(self) -> dict[str, Any]:
        return dict(self.client.describe_secret(SecretId=self.secret_id))

    def versions(self) -> dict[str, list[str]]:
        return {k: list(v) for k, v in self.describe().get("VersionIdsToStages", {}).items()}

    def get_dict(self, stage: str, version_id: str | None = None) -> dict[str, Any]:
        """The version's value as a JSON object (raises ClientError when absent)."""
        kwargs: dict[str, Any] = {"SecretId": self.secret_id, "VersionStage": stage}
        if version_id:
            kwargs["VersionId"] = version_id
        response = self.client.get_secret_value(**kwargs)
        text = response.get("SecretString")
        if text is None:
            binary = response.get("SecretBinary") or b""
            text = binary.decode("utf-8") if isinstance(binary, bytes) else str(binary)
        return parse_json_object(text, self.secret_id)

    def get_dict_or_none(self, stage: str, version_id: str | None = None) -> dict[str, Any] | None:
        """Like :meth:`get_dict`, None when the stage (or its value) does not exist."""
        try:
            return self.get_dict(stage, version_id)
        except ClientError as exc:
            # AWS: ResourceNotFoundException. moto: InvalidRequestException when the
            # version exists but does not carry the stage.
            if error_code(exc) in NOT_FOUND_CODES or (
                version_id and error_code(exc) == "InvalidRequestException"
            ):
                return None
            raise

    def put_pending(self, token: str, value: Mapping[str, Any]) -> None:
        self.client.put_secret_value(
            SecretId=self.secret_id,
            ClientRequestToken=token,
            SecretString=json.dumps(dict(value)),
            VersionStages=[AWSPENDING],
        )

    def random_password(self, request: Mapping[str, Any]) -> str:
        return str(self.client.get_random_password(**dict(request))["RandomPassword"])

    def make_current(self, token: str) -> None:
        """Move AWSCURRENT to ``token`` (AWSPREVIOUS follows), then drop its AWSPENDING."""
        versions = self.versions()
        current = next((v for v, stages in versions.items() if AWSCURRENT in stages), None)
        if current != token:
            kwargs: dict[str, Any] = {
                "SecretId": self.secret_id,
                "VersionStage": AWSCURRENT,
                "MoveToVersionId": token,
            }
            if current:
                kwargs["RemoveFromVersionId"] = current
            self.client.update_secret_version_stage(**kwargs)
        self.drop_pending(token)

    def drop_pending(self, token: str) -> None:
        """Remove AWSPENDING from ``token`` if it still carries it."""
        if AWSPENDING in self.versions().get(token, []):
            self.client.update_secret_version_stage(
                SecretId=self.secret_id, VersionStage=AWSPENDING, RemoveFromVersionId=token
            )


def default_client(endpoint_url: str | None = None, region_name: str | None = None) -> Any:
    """A Secrets Manager client from arguments, ``PIPELINE_SECRETS_*`` and boto3's env."""
    from pipeline_secrets.client import ClientFactory, ClientSettings

    settings = ClientSettings.create(endpoint_url=endpoint_url, region_name=region_name)
    return ClientFactory(settings).client()


def region_of_arn(arn: str) -> str | None:
    parts = arn.split(":")
    if len(parts) >= 6 and parts[0] == "arn" and parts[3]:
        return parts[3]
    return None
