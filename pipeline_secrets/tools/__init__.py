"""Tooling that runs beside pipelines, never inside them: the ``pipeline-secrets`` CLI,
the host agent's server, and the audit / scan / migrate commands.

Runtime code (the core's cache and sources, ``airflow_plugin``, ``glue_lib``, the
rotation functions) never imports this package, and the Lambda zip and the Glue
wheel leave it out (tests/test_import_contract.py checks both).
"""
