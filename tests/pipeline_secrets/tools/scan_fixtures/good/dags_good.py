# ruff: noqa
"""A DAG that does it right: no finding expected in this file."""

import os

from pipeline_secrets import get_db_credentials

creds = get_db_credentials("db/warehouse/etl")
password = creds.password
uri = creds.describe()  # postgres://etl:***@warehouse:5432/dw
template = "postgresql://{{ conn.warehouse.login }}:{{ conn.warehouse.password }}@{{ conn.warehouse.host }}/dw"
env_pw = os.environ["DB_PASSWORD"]
hook_kwargs = dict(password=os.environ.get("PGPASSWORD"), secret_id="db/warehouse/etl")
example_uri = "postgres://user:<password>@host:5432/db"
docs_uri = "postgresql://user:${DB_PASSWORD}@host/db"
format_uri = "mysql://%(user)s:%(password)s@%(host)s/db"
moto_env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
doc_key = "AKIAIOSFODNN7EXAMPLE"
token_field = "password_file"
secret_id = "airflow/connections/warehouse"
fake = "postgres://u:***@h/db"


def connect(password: str, token: str | None = None) -> None: ...
