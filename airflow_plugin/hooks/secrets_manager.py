"""SecretsManagerHook: read secrets through the core cache, masked for Airflow's logs.

Unlike the amazon provider's ``SecretsManagerHook.get_secret``, a SecretBinary comes
back as the bytes stored (boto3 already decoded the base64 of the wire format; we do
not decode it a second time).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from airflow.providers.common.compat.sdk import AirflowNotFoundException, BaseHook

from airflow_plugin.hooks import aws_settings, form
from airflow_plugin.masking import mask_credentials, mask_json, mask_text
from pipeline_secrets.cache import SecretCache
from pipeline_secrets.client import ClientSettings
from pipeline_secrets.credentials import DatabaseCredentials
from pipeline_secrets.reconnect import Reconnector

log = logging.getLogger(__name__)

CONN_TYPE = "pipeline_secrets_aws"
DEFAULT_CONN_ID = "pipeline_secrets_aws_default"


class SecretsManagerHook(BaseHook):
    """Secrets Manager through the shared ``pipeline_secrets`` cache.

    :param aws_conn_id: a ``pipeline_secrets_aws`` connection (region, endpoint, role,
        keys, cache TTL). ``None``, or the default id when no such connection exists:
        the cache of our secrets backend when Airflow has it configured (its AWS
        settings and agent), else the environment's settings and the process-wide
        default cache (precedence: ``pipeline_secrets/settings.py``).
    """

    conn_name_attr = "aws_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = CONN_TYPE
    hook_name = "AWS Secrets Manager (pipeline-secrets)"

    def __init__(
        self, aws_conn_id: str | None = DEFAULT_CONN_ID, *, cache: SecretCache | None = None
    ) -> None:
        super().__init__()
        self.aws_conn_id = aws_conn_id
        self._cache = cache
        self._budget: float | None = None

    # -- what to talk to ---------------------------------------------------------------
    @property
    def cache(self) -> SecretCache:
        if self._cache is None:
            settings, ttl, self._budget = self._settings()
            self._cache = aws_settings.shared_cache(settings, ttl)
        return self._cache

    @property
    def reconnector(self) -> Reconnector:
        cache = self.cache  # resolves the connection, and with it the budget
        return aws_settings.shared_reconnector(cache, self._budget)

    def client(self, region: str | None = None) -> Any:
        """The boto3 Secrets Manager client behind the cache."""
        return self.cache.source.client(region)

    def _settings(self) -> tuple[ClientSettings | None, float | None, float | None]:
        """(client settings, cache TTL, reconnect budget) from the connection."""
        if self.aws_conn_id is None:
            return None, None, None
        try:
            conn = self.get_connection(self.aws_conn_id)
        except AirflowNotFoundException:
            if self.aws_conn_id != DEFAULT_CONN_ID:
                raise
            log.debug("no connection %r: using the environment's AWS settings", DEFAULT_CONN_ID)
            return None, None, None
        extra = conn.extra_dejson
        settings = aws_settings.settings_from_connection(conn.login, conn.password, extra)
        return (
            settings,
            _seconds(extra.get("cache_ttl_seconds")),
            _seconds(extra.get("reconnect_budget_seconds")),
        )

    # -- reading -----------------------------------------------------------------------
    def get_secret(
        self,
        secret_id: str,
        version_stage: str | None = None,
        version_id: str | None = None,
        *,
        force_refresh: bool = False,
    ) -> str | bytes:
        """The value: SecretString as ``str``, SecretBinary as the stored ``bytes``."""
        value = self.cache.get(
            secret_id,
            version_stage=version_stage,
            version_id=version_id,
            force_refresh=force_refresh,
        )
        if value.secret_string is not None:
            mask_text(value.secret_string)
            return value.secret_string
        data = value.secret_binary or b""
        mask_text(data)
        return data

    def get_secret_json(
        self,
        secret_id: str,
        version_stage: str | None = None,
        version_id: str | None = None,
        *,
        force_refresh: bool = False,
    ) -> dict[str, Any]:
        """The value parsed as a JSON object (once per version)."""
        value = self.cache.get(
            secret_id,
            version_stage=version_stage,
            version_id=version_id,
            force_refresh=force_refresh,
        )
        parsed = self.cache.get_parsed(
            secret_id,
            lambda v: v.json(),
            parser_key="json",
            version_stage=version_stage,
            version_id=version_id,
        )
        mask_json(value.secret_string or value.secret_binary, parsed)
        return dict(parsed)

    def get_db_credentials(
        self,
        secret_id: str,
        version_stage: str | None = None,
        *,
        defaults: Mapping[str, Any] | None = None,
        force_refresh: bool = False,
    ) -> DatabaseCredentials:
        """Typed database credentials from any supported secret shape."""
        creds = self.reconnector.credentials(
            secret_id, version_stage=version_stage, defaults=defaults, force_refresh=force_refresh
        )
        mask_credentials(creds)
        return creds

    def describe_secret(self, secret_id: str) -> dict[str, Any]:
        """DescribeSecret, uncached (rotation state, stages, dates)."""
        return self.cache.source.describe_secret(secret_id)

    def invalidate(self, secret_id: str | None = None) -> None:
        self.cache.invalidate(secret_id)

    # -- Airflow UI ----------------------------------------------------------------------
    def test_connection(self) -> tuple[bool, str]:
        try:
            next(iter(self.cache.source.list_secrets()), None)
        except Exception as exc:  # shown in the UI; our errors carry no values
            return False, f"{type(exc).__name__}: {exc}"
        return True, "Secrets Manager reachable (ListSecrets succeeded)"

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        return form.form_widgets(form.AWS_FIELDS)

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return form.AWS_BEHAVIOUR.hook_form()


def _seconds(value: Any) -> float | None:
    return float(value) if value not in (None, "") else None
