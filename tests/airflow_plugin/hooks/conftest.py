from tests.airflow_plugin.hook_fixtures import (  # noqa: F401
    airflow_conn,
    core,
    maria_set_password,
    pg_set_password,
    sm_client,
)
