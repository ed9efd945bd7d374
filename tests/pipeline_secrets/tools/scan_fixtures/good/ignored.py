# ruff: noqa
TEST_ONLY = "postgres://u:local-test-pw@localhost/db"  # pipeline-secrets: ignore
