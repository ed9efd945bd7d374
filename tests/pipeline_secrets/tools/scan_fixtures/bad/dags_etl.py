# ruff: noqa
# A DAG that hard-codes credentials (scanner fixture: every marked line is a finding).
from airflow.providers.postgres.hooks.postgres import PostgresHook

WAREHOUSE = "postgresql://etl:Wh-9f8s7d6@warehouse.internal:5432/dw"  # FINDING uri-password
hook = PostgresHook(password="Sup3rS3cret!")  # FINDING password-literal
EXTRA = {"login": "etl", "password": "Q7w8e9r0"}  # FINDING password-literal
AWS_KEY = "AKIAQ3EGRMPLXK4TQZ7B"  # FINDING aws-access-key
aws_secret_access_key = "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"  # FINDING aws-secret-key
