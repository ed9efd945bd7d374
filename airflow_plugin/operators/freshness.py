"""SecretFreshnessSensor: wait until a secret was rotated after a given time."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.providers.common.compat.sdk import BaseSensorOperator

from airflow_plugin.hooks.secrets_manager import DEFAULT_CONN_ID, SecretsManagerHook
from pipeline_secrets.versions import aware, value_changed_at, version_dates


class SecretFreshnessSensor(BaseSensorOperator):
    """Succeeds once ``secret_id`` was rotated after ``rotated_after``.

    "Rotated" is the later of DescribeSecret's ``LastRotatedDate`` and the
    ``CreatedDate`` of the version that is AWSCURRENT (a rotation run outside
    RotateSecret, e.g. ``mode="local"``, changes only the latter).

    :param rotated_after: a datetime (naive means UTC), an ISO 8601 string (templated,
        e.g. ``"{{ data_interval_end }}"``), a timedelta (at most that old, measured at
        each poke), or None: the start of the DAG run.

    Each poke is two uncached API calls and keeps no state, so ``mode="reschedule"``
    frees the worker slot between pokes.
    """

    template_fields: Sequence[str] = ("secret_id", "rotated_after")

    def __init__(
        self,
        *,
        secret_id: str,
        rotated_after: datetime | timedelta | str | None = None,
        aws_conn_id: str | None = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.secret_id = secret_id
        self.rotated_after = rotated_after
        self.aws_conn_id = aws_conn_id

    def poke(self, context: Any) -> bool:
        threshold = self._threshold(context)
        rotated = last_rotation(SecretsManagerHook(self.aws_conn_id), self.secret_id)
        self.log.info(
            "secret %r last rotated %s; waiting for after %s",
            self.secret_id,
            rotated.isoformat() if rotated else "never",
            threshold.isoformat(),
        )
        return rotated is not None and rotated > threshold

    def _threshold(self, context: Any) -> datetime:
        value = self.rotated_after
        if value is None:
            dag_run = context.get("dag_run") if context else None
            start = getattr(dag_run, "start_date", None)
            if start is None:
                raise ValueError("rotated_after is None and the DAG run has no start date")
            return aware(start)
        if isinstance(value, timedelta):
            return datetime.now(timezone.utc) - value
        if isinstance(value, str):
            return aware(datetime.fromisoformat(value))
        return aware(value)


def last_rotation(hook: SecretsManagerHook, secret_id: str) -> datetime | None:
    """The later of LastRotatedDate and the AWSCURRENT version's CreatedDate
    (:func:`pipeline_secrets.versions.value_changed_at`)."""
    source = hook.cache.source
    return value_changed_at(source.describe_secret(secret_id), version_dates(source, secret_id))
