"""The example stack's names and settings, shared by the demo, the tests and the
docker-compose seeder (the compose file passes the same values; a test checks it)."""

from __future__ import annotations

CONNECTIONS_PREFIX = "airflow/connections"
VARIABLES_PREFIX = "airflow/variables"
SOURCE_CONN_ID = "rds_orders"  # PostgreSQL standing in for RDS
TARGET_CONN_ID = "redshift_warehouse"  # PostgreSQL standing in for Redshift
SOURCE_SECRET_ID = f"{CONNECTIONS_PREFIX}/{SOURCE_CONN_ID}"
TARGET_SECRET_ID = f"{CONNECTIONS_PREFIX}/{TARGET_CONN_ID}"
MASTER_SECRET_ID = "pipeline/masters/postgres"  # for alternating-users rotation
SOURCE_DB = "rds_orders"
TARGET_DB = "warehouse"
SOURCE_USER = "etl_reader"
TARGET_USER = "etl_loader"
REGION = "us-east-1"
ORDERS_TABLE = "public.orders"
DAILY_TABLE = "public.daily_order_totals"
BACKEND_CLASS = "airflow_plugin.secrets_manager.SecretsManagerBackend"
# The example DAGs' settings Variable (dags/pipeline_settings.py), as the seeder writes
# it for the local stack: rotations run in-process, the Glue job on local Spark, and
# "no rotation schedule" (there is no Lambda here) is reported as a warning.
SETTINGS_VARIABLE = "pipeline_example_settings"
LOCAL_SETTINGS: dict[str, object] = {
    "rotation_mode": "local",
    "glue_local": True,
    "audit_policy": {"warn_only": ["rotation-disabled"]},
}
