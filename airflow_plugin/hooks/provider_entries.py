"""Provider-info entries for the hooks, for ``airflow_plugin.provider_info`` to merge.

``HOOK_PROVIDER_INFO`` holds ``connection-types`` (with the declarative ``conn-fields``
and ``ui-field-behaviour`` of Airflow 3.2+), the older ``hook-class-names``, and the
``hooks`` / ``operators`` / ``sensors`` module listings. Plain data: importing this
module imports no Airflow code.
"""

from __future__ import annotations

from typing import Any

from airflow_plugin.hooks import form


def _conn_type(
    conn_type: str,
    hook_class: str,
    hook_name: str,
    fields: tuple[form.FormField, ...],
    behaviour: form.UiBehaviour,
) -> dict[str, Any]:
    return {
        "connection-type": conn_type,
        "hook-class-name": hook_class,
        "hook-name": hook_name,
        "ui-field-behaviour": behaviour.provider_form(),
        "conn-fields": form.conn_fields(fields),
    }


HOOK_PROVIDER_INFO: dict[str, Any] = {
    "integrations": [
        {
            "integration-name": "AWS Secrets Manager",
            "external-doc-url": "https://aws.amazon.com/secrets-manager/",
            "tags": ["aws"],
        }
    ],
    "connection-types": [
        _conn_type(
            "pipeline_secrets_aws",
            "airflow_plugin.hooks.secrets_manager.SecretsManagerHook",
            "AWS Secrets Manager (pipeline-secrets)",
            form.AWS_FIELDS,
            form.AWS_BEHAVIOUR,
        ),
        _conn_type(
            "pipeline_secrets_postgres",
            "airflow_plugin.hooks.postgres.PostgresSecretsHook",
            "PostgreSQL (Secrets Manager, rotation-aware)",
            form.SQL_FIELDS,
            form.SQL_BEHAVIOUR,
        ),
        _conn_type(
            "pipeline_secrets_mysql",
            "airflow_plugin.hooks.mysql.MySqlSecretsHook",
            "MySQL/MariaDB (Secrets Manager, rotation-aware)",
            form.SQL_FIELDS,
            form.SQL_BEHAVIOUR,
        ),
        _conn_type(
            "pipeline_secrets_redshift",
            "airflow_plugin.hooks.redshift.RedshiftSecretsHook",
            "Amazon Redshift (Secrets Manager, rotation-aware)",
            form.SQL_FIELDS,
            form.REDSHIFT_BEHAVIOUR,
        ),
    ],
    "hook-class-names": [
        "airflow_plugin.hooks.secrets_manager.SecretsManagerHook",
        "airflow_plugin.hooks.postgres.PostgresSecretsHook",
        "airflow_plugin.hooks.mysql.MySqlSecretsHook",
        "airflow_plugin.hooks.redshift.RedshiftSecretsHook",
    ],
    "hooks": [
        {
            "integration-name": "AWS Secrets Manager",
            "python-modules": [
                "airflow_plugin.hooks.secrets_manager",
                "airflow_plugin.hooks.postgres",
                "airflow_plugin.hooks.mysql",
                "airflow_plugin.hooks.redshift",
            ],
        }
    ],
    "operators": [
        {
            "integration-name": "AWS Secrets Manager",
            "python-modules": ["airflow_plugin.operators.rotate"],
        }
    ],
    "sensors": [
        {
            "integration-name": "AWS Secrets Manager",
            "python-modules": ["airflow_plugin.operators.freshness"],
        }
    ],
}
