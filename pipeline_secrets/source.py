"""Where secret values come from: the :class:`SecretSource` protocol, and the direct source.

:class:`SecretsManagerSource` is the only class that talks to the service (AWS errors
mapped to ours, replica-region failover); it caches nothing (see ``cache``). Other
sources (the host agent, :mod:`pipeline_secrets.agent.client`) implement the same
protocol by wrapping a fallback source.
"""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol, TypeVar, runtime_checkable

import botocore
from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError
from botocore.exceptions import ConnectionError as BotoConnectionError

from pipeline_secrets.client import ClientFactory, ClientSettings
from pipeline_secrets.errors import (
    SecretAccessDeniedError,
    SecretConfigurationError,
    SecretDecryptionError,
    SecretDeletedError,
    SecretError,
    SecretNotFoundError,
    SecretRequestError,
    SecretServiceUnavailableError,
    SecretThrottledError,
)
from pipeline_secrets.misconfiguration import configuration_error
from pipeline_secrets.model import AWSCURRENT, BatchResult, SecretRef, SecretValue
from pipeline_secrets.stats import Stats

log = logging.getLogger(__name__)
T = TypeVar("T")

BATCH_LIMIT = 20
# botocore before 1.33 has no BatchGetSecretValue (AWS Glue 4.0 bundles 1.27.59): batch_get
# then reads one GetSecretValue per secret, and says so once per process.
_batch_fallback_logged = False
_batch_fallback_lock = threading.Lock()
_THROTTLING_CODES = {
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "RequestLimitExceeded",
}


@runtime_checkable
class SecretSource(Protocol):
    """What a :class:`~pipeline_secrets.cache.SecretCache` reads from.

    ``refresh=True`` means "a value you may have cached is known to be stale" (a
    forced refresh, a refused password): a source with its own cache (the agent) must
    bypass it. The direct source always calls Secrets Manager and ignores it.
    """

    stats: Stats

    def get_secret_value(self, ref: SecretRef | str, *, refresh: bool = False) -> SecretValue: ...

    def batch_get(
        self, secret_ids: Sequence[str] | None = None, *, name_prefix: str | None = None
    ) -> BatchResult: ...

    def describe_secret(self, secret_id: str) -> dict[str, Any]: ...

    def list_secrets(self, name_prefix: str | None = None) -> Iterator[dict[str, Any]]: ...

    def client(self, region: str | None = None) -> Any:
        """The boto3 client for calls no source wraps (writes, rotation, version lists)."""
        ...

    def call(self, operation: str, secret_id: str, do: Callable[[Any], T]) -> T:
        """``do(client)`` with the source's counting, error mapping and failover."""
        ...


class SecretsManagerSource:
    """Fetches secrets; maps AWS errors to ours; tries fallback regions on outages."""

    def __init__(
        self,
        settings: ClientSettings | None = None,
        *,
        stats: Stats | None = None,
        clients: ClientFactory | None = None,
    ) -> None:
        self.clients = clients or ClientFactory(settings)
        self.stats = stats or Stats()
        self._has_batch_api: bool | None = None

    # -- single values -------------------------------------------------------------
    def get_secret_value(self, ref: SecretRef | str, *, refresh: bool = False) -> SecretValue:
        """One GetSecretValue. Without stage or id, asks for AWSCURRENT explicitly.

        ``refresh`` changes nothing here: every call goes to Secrets Manager."""
        ref = SecretRef.of(ref)
        secret_id = ref.secret_id
        request: dict[str, Any] = {"SecretId": secret_id}
        if ref.version_id:
            request["VersionId"] = ref.version_id
        if ref.version_stage or not ref.version_id:
            # moto can serve a stale value when VersionStage is omitted.
            request["VersionStage"] = ref.version_stage or AWSCURRENT
        response = self.call("GetSecretValue", secret_id, lambda c: c.get_secret_value(**request))
        return secret_value_from_response(secret_id, response)

    def client(self, region: str | None = None) -> Any:
        return self.clients.client(region)

    def describe_secret(self, secret_id: str) -> dict[str, Any]:
        return dict(
            self.call("DescribeSecret", secret_id, lambda c: c.describe_secret(SecretId=secret_id))
        )

    # -- many values -----------------------------------------------------------------
    def batch_get(
        self,
        secret_ids: Sequence[str] | None = None,
        *,
        name_prefix: str | None = None,
    ) -> BatchResult:
        """BatchGetSecretValue for many ids (20 per call) or every name under a prefix.

        Per-secret failures are returned in ``errors``, never raised. Errors of the
        call itself (throttling, access denied to the operation) are raised.

        With a botocore that has no BatchGetSecretValue (before 1.33; AWS Glue 4.0's is
        1.27.59), the same result comes from one GetSecretValue per secret (after one
        ListSecrets pass for a prefix).
        """
        if (secret_ids is None) == (name_prefix is None):
            raise ValueError("give either secret_ids or name_prefix")
        if not self._batch_api_available():
            return self._batch_get_one_by_one(secret_ids, name_prefix)
        values: dict[str, SecretValue] = {}
        errors: dict[str, SecretError] = {}
        if secret_ids is not None:
            unique = list(dict.fromkeys(secret_ids))
            for start in range(0, len(unique), BATCH_LIMIT):
                chunk = unique[start : start + BATCH_LIMIT]
                for page in self._batch_pages({"SecretIdList": chunk}):
                    self._collect(page, values, errors, requested=chunk)
        else:
            assert name_prefix is not None
            request = {
                "Filters": [{"Key": "name", "Values": [name_prefix]}],
                "MaxResults": BATCH_LIMIT,
            }
            for page in self._batch_pages(request):
                self._collect(page, values, errors, requested=None)
            # The name filter matches by prefix; keep exactly what starts with it.
            values = {k: v for k, v in values.items() if k.startswith(name_prefix)}
        return BatchResult(values=values, errors=errors)

    def list_secrets(self, name_prefix: str | None = None) -> Iterator[dict[str, Any]]:
        """Every secret's metadata (no values), optionally under a name prefix.

        Secrets scheduled for deletion are left out: ListSecrets' default, so the
        request does not name ``IncludePlannedDeletion``, which older botocore (AWS Glue
        4.0's 1.27.59) rejects."""
        token: str | None = None
        while True:
            request: dict[str, Any] = {"MaxResults": 100}
            if name_prefix:
                request["Filters"] = [{"Key": "name", "Values": [name_prefix]}]
            if token:
                request["NextToken"] = token
            page = self.call("ListSecrets", name_prefix or "*", _operation("list_secrets", request))
            for entry in page.get("SecretList", []):
                if not name_prefix or str(entry.get("Name", "")).startswith(name_prefix):
                    yield entry
            token = page.get("NextToken")
            if not token:
                return

    def _batch_api_available(self) -> bool:
        """Does this botocore's Secrets Manager client have BatchGetSecretValue?"""
        if self._has_batch_api is None:
            try:
                client = self.clients.client(self.clients.regions()[0])
            except (BotoCoreError, ValueError):
                return True  # the batch call reports the configuration problem, mapped
            self._has_batch_api = hasattr(client, "batch_get_secret_value")
        return self._has_batch_api

    def _batch_get_one_by_one(
        self, secret_ids: Sequence[str] | None, name_prefix: str | None
    ) -> BatchResult:
        """batch_get's result without BatchGetSecretValue: GetSecretValue per secret.

        As with the batch call, a secret's own failure (not found, access denied, KMS)
        goes into ``errors``; what would fail the batch call itself (throttling, an
        outage, a configuration mistake) is raised."""
        global _batch_fallback_logged
        with _batch_fallback_lock:
            first = not _batch_fallback_logged
            _batch_fallback_logged = True
        if first:
            log.warning(
                "botocore %s has no BatchGetSecretValue (botocore 1.33 or later has it): "
                "prefetching with one GetSecretValue per secret%s instead",
                botocore.__version__,
                " (after ListSecrets for a name prefix)" if name_prefix is not None else "",
            )
        if secret_ids is None:
            assert name_prefix is not None
            names = [str(entry["Name"]) for entry in self.list_secrets(name_prefix)]
        else:
            names = list(dict.fromkeys(secret_ids))
        values: dict[str, SecretValue] = {}
        errors: dict[str, SecretError] = {}
        for secret_id in names:
            try:
                values[secret_id] = self.get_secret_value(secret_id)
            except (
                SecretThrottledError,
                SecretServiceUnavailableError,
                SecretConfigurationError,
            ):
                raise
            except SecretError as exc:
                errors[secret_id] = exc
        return BatchResult(values=values, errors=errors)

    def _batch_pages(self, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
        token: str | None = None
        while True:
            call = dict(request)
            if token:
                call["NextToken"] = token
            label = ",".join(request.get("SecretIdList", [])) or "filter"
            page = self.call(
                "BatchGetSecretValue", label, _operation("batch_get_secret_value", call)
            )
            yield page
            token = page.get("NextToken")
            if not token:
                return

    def _collect(
        self,
        page: dict[str, Any],
        values: dict[str, SecretValue],
        errors: dict[str, SecretError],
        requested: Sequence[str] | None,
    ) -> None:
        by_arn = {}
        for entry in page.get("SecretValues", []):
            name = entry["Name"]
            asked = name
            if requested is not None:
                asked = next((r for r in requested if r in (name, entry.get("ARN"))), name)
            value = secret_value_from_response(asked, entry)
            values[asked] = value
            by_arn[entry.get("ARN")] = asked
        for err in page.get("Errors", []):
            secret_id = err.get("SecretId", "?")
            errors[secret_id] = map_error_code(
                err.get("ErrorCode", ""), secret_id, "BatchGetSecretValue"
            )

    # -- the one place that calls boto3 ----------------------------------------------
    def call(self, operation: str, secret_id: str, do: Callable[[Any], T]) -> T:
        """``do(client)`` for a Secrets Manager call no method here wraps (version lists,
        resource policies, RotateSecret): counted, AWS errors mapped to ours, replica
        regions tried on an outage, like every read."""
        regions = self.clients.regions()
        last_error: SecretError | None = None
        for index, region in enumerate(regions):
            self.stats.api_call(operation)
            try:
                return do(self.clients.client(region))
            except ClientError as exc:
                mapped = map_client_error(exc, secret_id, operation)
                if not _is_regional_outage(mapped) or index == len(regions) - 1:
                    raise mapped from exc
                last_error = mapped
            except (BotoConnectionError, BotoCoreError, ValueError) as exc:
                misconfigured = configuration_error(exc, self.clients.settings, region, secret_id)
                if misconfigured is not None:
                    raise misconfigured from exc  # no failover: every region would fail
                if not isinstance(exc, BotoCoreError):
                    raise
                if isinstance(exc, ParamValidationError):
                    # Refused by botocore before sending: the caller's mistake, the same in
                    # every region. Its message may quote parameters: only its name here.
                    raise SecretRequestError(
                        f"{operation} for secret {secret_id!r}: invalid request "
                        f"({type(exc).__name__})",
                        secret_id=secret_id,
                    ) from None
                mapped = SecretServiceUnavailableError(
                    f"{operation} for secret {secret_id!r} could not reach Secrets Manager"
                    f"{_region_suffix(region)}: {type(exc).__name__}",
                    secret_id=secret_id,
                )
                if index == len(regions) - 1:
                    raise mapped from exc
                last_error = mapped
            log.warning(
                "%s for secret %r failed in region %s (%s); trying region %s",
                operation,
                secret_id,
                region or "default",
                type(last_error).__name__,
                regions[index + 1] or "default",
            )
        raise AssertionError("unreachable") from last_error


def _operation(method: str, request: dict[str, Any]) -> Callable[[Any], dict[str, Any]]:
    """A call of ``client.<method>(**request)``, bound now (not at loop end)."""

    def do(client: Any) -> dict[str, Any]:
        return dict(getattr(client, method)(**request))

    return do


def _region_suffix(region: str | None) -> str:
    return f" in region {region}" if region else ""


def _is_regional_outage(error: SecretError) -> bool:
    return isinstance(error, SecretThrottledError | SecretServiceUnavailableError)


def map_client_error(exc: ClientError, secret_id: str, operation: str) -> SecretError:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    if status >= 500 and code not in {"DecryptionFailure"}:
        return SecretServiceUnavailableError(
            f"{operation} for secret {secret_id!r} failed with a server error ({code or status})",
            secret_id=secret_id,
        )
    return map_error_code(code, secret_id, operation, message=str(error.get("Message", "")))


def map_error_code(code: str, secret_id: str, operation: str, message: str = "") -> SecretError:
    """Our error for an AWS error code. AWS messages carry no secret values."""
    prefix = f"{operation} for secret {secret_id!r}"
    if code == "ResourceNotFoundException":
        return SecretNotFoundError(f"{prefix}: not found", secret_id=secret_id)
    if code == "InvalidRequestException" and "delet" in message.lower():
        return SecretDeletedError(f"{prefix}: marked for deletion", secret_id=secret_id)
    if code in {"AccessDeniedException", "AccessDenied", "UnrecognizedClientException"}:
        return SecretAccessDeniedError(f"{prefix}: access denied ({code})", secret_id=secret_id)
    if code in {"DecryptionFailure", "KMSAccessDeniedException"}:
        return SecretDecryptionError(
            f"{prefix}: KMS could not decrypt the secret ({code})", secret_id=secret_id
        )
    if code in _THROTTLING_CODES:
        return SecretThrottledError(f"{prefix}: throttled ({code})", secret_id=secret_id)
    detail = f": {message}" if message else ""
    if code in {"InternalServiceError", "ServiceUnavailable", "InternalFailure"}:
        return SecretServiceUnavailableError(f"{prefix}: {code}{detail}", secret_id=secret_id)
    return SecretRequestError(f"{prefix}: {code or 'error'}{detail}", secret_id=secret_id)


def secret_value_from_response(secret_id: str, response: dict[str, Any]) -> SecretValue:
    binary = response.get("SecretBinary")
    if isinstance(binary, str):
        # BatchGetSecretValue through some clients returns base64 text.
        binary = base64.b64decode(binary)
    return SecretValue(
        secret_id=secret_id,
        name=str(response.get("Name", secret_id)),
        arn=str(response.get("ARN", "")),
        version_id=str(response.get("VersionId", "")),
        version_stages=tuple(response.get("VersionStages", ()) or ()),
        secret_string=response.get("SecretString"),
        secret_binary=binary,
        created_date=response.get("CreatedDate"),
    )
