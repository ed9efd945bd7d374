"""Settings shared by the example DAGs: which connections, secrets and tables to use.

Nothing here is a credential: connection ids and secret *ids* only. Each value comes
from, in order: the DAG run's params (when not null), the Airflow Variable
``pipeline_example_settings`` (a JSON object, served by the secrets backend from
``airflow/variables/pipeline_example_settings`` like any other Variable), an
environment variable for the two switches below, then the defaults, which are the
names of the local example stack (``devstack/stack.py``; a test checks they agree).

So the same DAG files run against AWS and against the local stack: on AWS, put your
own ids in that Variable (or pass params); the local seeder writes
``{"rotation_mode": "local", "glue_local": true}`` there.

Environment switches: ``PIPELINE_SECRETS_ROTATION_MODE`` (``aws`` | ``local``) and
``PIPELINE_SECRETS_GLUE_LOCAL`` (``1``: run the Glue script on local Spark).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

VARIABLE = "pipeline_example_settings"

DEFAULTS: dict[str, Any] = {
    "source_conn_id": "rds_orders",
    "target_conn_id": "redshift_warehouse",
    "source_secret_id": "airflow/connections/rds_orders",
    "target_secret_id": "airflow/connections/redshift_warehouse",
    "orders_table": "public.orders",
    "daily_table": "public.daily_order_totals",
    "rotation_mode": "aws",
    "glue_local": False,
    "glue_job_name": "rds_to_redshift",
    "glue_script_location": None,  # S3 URI of the script (None: the Glue job's own)
    "glue_iam_role_name": None,
    "audit_prefixes": ["airflow/connections/", "airflow/variables/", "pipeline/"],
    "audit_policy": {},
}
_ENV = {
    "rotation_mode": "PIPELINE_SECRETS_ROTATION_MODE",
    "glue_local": "PIPELINE_SECRETS_GLUE_LOCAL",
}


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return bool(value)


def resolve(params: Mapping[str, Any] | None, variable: Mapping[str, Any] | None) -> dict[str, Any]:
    """Merge params > Variable > environment > defaults (pure: no Airflow calls)."""
    variable = variable or {}
    params = params or {}
    unknown = sorted(set(variable) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"Variable {VARIABLE!r} has unknown keys: {', '.join(unknown)}")
    out: dict[str, Any] = {}
    for key, default in DEFAULTS.items():
        if params.get(key) is not None:
            out[key] = params[key]
        elif key in variable and variable[key] is not None:
            out[key] = variable[key]
        elif key in _ENV and os.environ.get(_ENV[key]):
            out[key] = os.environ[_ENV[key]]
        else:
            out[key] = default
    out["glue_local"] = _truthy(out["glue_local"])
    if out["rotation_mode"] not in ("aws", "local"):
        raise ValueError(f"rotation_mode must be 'aws' or 'local', not {out['rotation_mode']!r}")
    return out


def settings(params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The settings for a running task (reads the Variable once)."""
    from airflow.sdk import Variable

    variable = Variable.get(VARIABLE, default=None, deserialize_json=True)
    if variable is not None and not isinstance(variable, dict):
        raise ValueError(f"Variable {VARIABLE!r} must be a JSON object")
    return resolve(params, variable)
