"""rotate_database_credentials: rotate the source and target database secrets, then
prove both databases accept the new credentials.

``rotation_plan`` resolves which secrets to rotate and how; ``rotate`` is one
:class:`RotateSecretOperator` per secret (dynamic task mapping, so the mode is chosen
at run time); ``verify_new_credentials`` checks, for each secret, that the version the
rotation produced is now AWSCURRENT and that a fresh login with it works.

Modes (param ``rotation_mode``, else the ``pipeline_example_settings`` Variable, else
``PIPELINE_SECRETS_ROTATION_MODE``, else ``aws``):

* ``aws``: Secrets Manager's RotateSecret runs the secret's rotation Lambda; the task
  waits until the new version is AWSCURRENT.
* ``local``: ``pipeline_secrets.rotation`` runs createSecret, setSecret, testSecret and
  finishSecret in the task (no Lambda; the worker needs network access to the
  databases). The local example stack uses this mode.

Runs on demand (no schedule). No value is ever logged or returned: XComs hold secret
ids, version ids and step names.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

from airflow.sdk import Param, dag, task
from pipeline_settings import settings

from airflow_plugin.operators.rotate import RotateSecretOperator

log = logging.getLogger(__name__)


def _login_check(secret_id: str) -> str:
    """Log in with the secret's AWSCURRENT credentials; return the database user."""
    from airflow_plugin.hooks.secrets_manager import SecretsManagerHook

    creds = SecretsManagerHook(None).get_db_credentials(secret_id)  # masked in task logs
    if (creds.engine or "").startswith("redshift"):
        from airflow_plugin.hooks.redshift import RedshiftSecretsHook

        hook: Any = RedshiftSecretsHook(secret_id=secret_id)
    else:
        from airflow_plugin.hooks.postgres import PostgresSecretsHook

        hook = PostgresSecretsHook(secret_id=secret_id)
    row = hook.get_first("SELECT current_user")
    return str(row[0])


@dag(
    dag_id="rotate_database_credentials",
    schedule=None,
    start_date=datetime(2026, 11, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    tags=["pipeline-secrets", "example", "rotation"],
    params={
        "rotation_mode": Param(None, type=["null", "string"], enum=[None, "aws", "local"]),
        "source_secret_id": Param(None, type=["null", "string"]),
        "target_secret_id": Param(None, type=["null", "string"]),
    },
    doc_md=__doc__,
)
def rotate_database_credentials() -> None:
    @task
    def rotation_plan(params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        cfg = settings(params)
        plan = [
            {"secret_id": cfg[key], "mode": cfg["rotation_mode"]}
            for key in ("source_secret_id", "target_secret_id")
        ]
        log.info("rotating %s (%s mode)", [p["secret_id"] for p in plan], cfg["rotation_mode"])
        return plan

    rotated = RotateSecretOperator.partial(
        task_id="rotate", aws_conn_id=None, timeout=900, poll_interval=5
    ).expand_kwargs(rotation_plan())

    @task
    def verify_new_credentials(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
        from airflow_plugin.hooks.secrets_manager import SecretsManagerHook

        client = SecretsManagerHook(None).client()
        checked = []
        for result in results:
            secret_id, version = result["secret_id"], result["version_id"]
            stages = client.describe_secret(SecretId=secret_id)["VersionIdsToStages"]
            if "AWSCURRENT" not in stages.get(version, []):
                raise ValueError(
                    f"secret {secret_id!r}: the rotated version {version} is not AWSCURRENT"
                )
            if any("AWSPENDING" in s for s in stages.values()):
                raise ValueError(f"secret {secret_id!r}: a version still carries AWSPENDING")
            user = _login_check(secret_id)
            log.info("secret %r: version %s is live and %s can log in", secret_id, version, user)
            checked.append({"secret_id": secret_id, "version_id": version, "user": user})
        return checked

    verify_new_credentials(rotated.output)


rotate_database_credentials()
