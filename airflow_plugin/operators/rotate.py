"""RotateSecretOperator: rotate a secret now and wait until the new version is live."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from airflow.providers.common.compat.sdk import BaseOperator

from airflow_plugin.hooks.secrets_manager import DEFAULT_CONN_ID, SecretsManagerHook
from airflow_plugin.operators.rotation_wait import wait_for_rotation

MODES = ("aws", "local")


class RotateSecretOperator(BaseOperator):
    """Rotate ``secret_id`` and wait for the rotation to finish.

    ``mode="aws"``: Secrets Manager's RotateSecret (with the secret's rotation Lambda, or
    ``rotation_lambda_arn``), then DescribeSecret every ``poll_interval`` seconds until the
    new version is AWSCURRENT; fails after ``timeout`` seconds saying which step the
    rotation reached. ``mode="local"``: the four steps run in this task with
    ``pipeline_secrets.rotation`` (no Lambda; the worker needs database access), failing
    with the step's error.

    Returns (XCom) ``{"secret_id", "version_id", "steps", "strategy", "finished"}``,
    never a value. The process-local cache entry of the secret is dropped afterwards.
    In local mode every password the steps handle (old, new, master) is registered with
    Airflow's secrets masker as soon as it is read or generated, so DEBUG task logs and
    driver errors show ``***``. Every boto3 client comes from the hook's client factory,
    which keeps values out of botocore's DEBUG wire logs.
    """

    template_fields: Sequence[str] = ("secret_id", "rotation_lambda_arn")
    ui_color = "#f3e5b7"

    def __init__(
        self,
        *,
        secret_id: str,
        mode: str = "aws",
        aws_conn_id: str | None = DEFAULT_CONN_ID,
        rotation_lambda_arn: str | None = None,
        rotation_rules: Mapping[str, Any] | None = None,
        poll_interval: float = 5.0,
        timeout: float = 900.0,
        password_options: Mapping[str, Any] | None = None,
        master_aws_conn_id: str | None = None,
        stop_after: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if stop_after is not None and mode != "local":
            raise ValueError("stop_after is only supported with mode='local'")
        self.secret_id = secret_id
        self.mode = mode
        self.aws_conn_id = aws_conn_id
        self.rotation_lambda_arn = rotation_lambda_arn
        self.rotation_rules = dict(rotation_rules) if rotation_rules else None
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.password_options = dict(password_options) if password_options else None
        self.master_aws_conn_id = master_aws_conn_id
        self.stop_after = stop_after

    def execute(self, context: Any) -> dict[str, Any]:
        hook = SecretsManagerHook(self.aws_conn_id)
        try:
            if self.mode == "local":
                return self._rotate_locally(hook)
            return self._rotate_with_aws(hook)
        finally:
            hook.invalidate(self.secret_id)

    def _rotate_with_aws(self, hook: SecretsManagerHook) -> dict[str, Any]:
        client = hook.client()
        request: dict[str, Any] = {"SecretId": self.secret_id, "RotateImmediately": True}
        if self.rotation_lambda_arn:
            request["RotationLambdaARN"] = self.rotation_lambda_arn
        if self.rotation_rules:
            request["RotationRules"] = self.rotation_rules
        token = client.rotate_secret(**request)["VersionId"]
        self.log.info("RotateSecret started rotation of %r: version %s", self.secret_id, token)
        stages = wait_for_rotation(
            lambda: hook.describe_secret(self.secret_id),
            self.secret_id,
            token,
            timeout_seconds=self.timeout,
            poll_interval_seconds=self.poll_interval,
        )
        self.log.info("rotation of %r finished: version %s is %s", self.secret_id, token, stages)
        return {
            "secret_id": self.secret_id,
            "version_id": token,
            "steps": [],
            "strategy": "aws",
            "finished": True,
        }

    def _rotate_locally(self, hook: SecretsManagerHook) -> dict[str, Any]:
        from airflow_plugin.masking import mask_text
        from pipeline_secrets.rotation import PasswordOptions, rotate_secret

        options = PasswordOptions(**self.password_options) if self.password_options else None
        master_hook = (
            SecretsManagerHook(self.master_aws_conn_id) if self.master_aws_conn_id else None
        )
        # RDS (an RDS-managed master's endpoint) is asked with the master's AWS settings.
        factory = getattr((master_hook or hook).cache.source, "clients", None)
        result = rotate_secret(
            self.secret_id,
            client=hook.client(),
            stop_after=self.stop_after,
            master_client=master_hook.client() if master_hook else None,
            password_options=options,
            on_password=mask_text,
            rds_clients=(
                (lambda region: factory.client(region, service="rds")) if factory else None
            ),
        )
        self.log.info(
            "rotation of %r (%s): version %s, steps %s, finished=%s",
            self.secret_id,
            result.strategy,
            result.token,
            result.steps,
            result.finished,
        )
        return {
            "secret_id": result.secret_id,
            "version_id": result.token,
            "steps": list(result.steps),
            "strategy": result.strategy,
            "finished": result.finished,
        }
