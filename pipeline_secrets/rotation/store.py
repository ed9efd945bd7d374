"""The Secrets Manager calls a rotation makes, on a boto3 client.

Clients the rotation builds come from :class:`pipeline_secrets.client.ClientFactory`
(:func:`default_client`), which installs the wire-log filter; a client handed in by a
caller gets the filter too (:class:`SecretStore` installs it). Every read passes
``VersionStage`` explicitly (moto answers a bare GetSecretValue with a stale version
after stage moves).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from pipeline_secrets import logfilter
from pipeline_secrets.errors import SecretFormatError
from pipeline_secrets.model import AWSCURRENT, AWSPENDING, parse_json_object

log = logging.getLogger(__name__)

NOT_FOUND_CODES = {"ResourceNotFoundException"}


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class SecretStore:
    """One secret, seen through ``client``."""

    def __init__(self, client: Any, secret_id: str) -> None:
        logfilter.install()  # the client may come from a caller, not from our factory
        self.client = client
        self.secret_id = secret_id

    def tags(self) -> dict[str, str]:
        """The secret's tags (DescribeSecret), as a dict."""
        return {
            str(t.get("Key")): str(t.get("Value", ""))
            for t in self.describe().get("Tags", [])
            if t.get("Key")
        }

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
            try:
                text = binary.decode("utf-8") if isinstance(binary, bytes) else str(binary)
            except UnicodeDecodeError:
                raise SecretFormatError(
                    self.secret_id,
                    "SecretBinary",
                    "is not UTF-8 text (a rotation secret is a JSON object)",
                ) from None
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


def default_client(
    endpoint_url: str | None = None,
    region_name: str | None = None,
    *,
    profile_name: str | None = None,
    role_arn: str | None = None,
    service: str = "secretsmanager",
) -> Any:
    """A client (Secrets Manager unless ``service`` says otherwise) from arguments,
    ``PIPELINE_SECRETS_*`` and boto3's environment, built by the project's one factory.

    Raises :class:`pipeline_secrets.rotation.errors.AwsSetupError` when boto3 cannot
    build it (no region, unknown profile)."""
    from botocore.exceptions import BotoCoreError

    from pipeline_secrets.client import ClientFactory, ClientSettings
    from pipeline_secrets.rotation.errors import AwsSetupError

    try:
        settings = ClientSettings.create(
            endpoint_url=endpoint_url,
            region_name=region_name,
            profile_name=profile_name,
            role_arn=role_arn,
        )
        return ClientFactory(settings).client(region_name, service=service)
    except BotoCoreError as exc:
        raise AwsSetupError(aws_setup_problem(exc)) from None


def aws_setup_problem(exc: BaseException) -> str:
    """What is wrong with the AWS setup, in words (no botocore traceback needed)."""
    from botocore import exceptions as bx

    if isinstance(exc, bx.NoRegionError):
        return "no AWS region configured (set AWS_DEFAULT_REGION, or pass --region / region_name)"
    if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError):
        return "no AWS credentials found (environment, profile, or instance role)"
    if isinstance(exc, bx.ProfileNotFound):
        return "the AWS profile named in the settings does not exist"
    if isinstance(exc, bx.EndpointConnectionError | bx.ConnectTimeoutError):
        return "the AWS endpoint is unreachable (check the endpoint URL and the network)"
    if isinstance(exc, bx.InvalidEndpointConfigurationError | ValueError):
        return "the AWS endpoint configuration is invalid"
    return f"AWS client setup failed ({type(exc).__name__})"


def region_of_arn(arn: str) -> str | None:
    parts = arn.split(":")
    if len(parts) >= 6 and parts[0] == "arn" and parts[3]:
        return parts[3]
    return None
