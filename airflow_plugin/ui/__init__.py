"""The "Secrets" page of the Airflow 3 UI (a plugin): inventory, health and actions.

Tooling-like code that runs in the api-server: it may import ``pipeline_secrets.tools``
(the audit); nothing else under ``airflow_plugin`` imports this package.
"""
