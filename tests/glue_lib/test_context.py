"""Job arguments and the session, without awsglue."""

from __future__ import annotations

from typing import Any

import pytest

from glue_lib import init_job, job_arguments
from glue_lib.context import glue_available


def test_job_arguments_like_get_resolved_options() -> None:
    argv = ["job.py", "--db_secret_id", "prod/pg", "--target_table=sales", "--other", "x"]
    assert job_arguments(["db_secret_id", "target_table"], argv) == {
        "db_secret_id": "prod/pg",
        "target_table": "sales",
    }
    assert job_arguments(["db_secret_id"], argv, optional=["missing", "other"]) == {
        "db_secret_id": "prod/pg",
        "other": "x",
    }
    with pytest.raises(ValueError, match="--nope"):
        job_arguments(["nope"], argv)


@pytest.mark.parametrize("name", ["db_password", "PASSWORD", "api_key", "secret_value"])
def test_secret_looking_arguments_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="secret id"):
        job_arguments([name], ["job.py", f"--{name}", "x"])


def test_secret_ids_are_fine() -> None:
    argv = ["job.py", "--password_secret_id", "prod/pg"]
    assert job_arguments(["password_secret_id"], argv)["password_secret_id"] == "prod/pg"


@pytest.mark.spark
def test_init_job_without_glue(spark: Any) -> None:
    assert not glue_available()
    ctx = init_job(["db_secret_id"], ["job.py", "--db_secret_id", "prod/pg"])
    assert ctx.spark is spark and ctx.glue_context is None and ctx.job is None
    assert ctx.args == {"db_secret_id": "prod/pg"}
    ctx.commit()  # a no-op outside Glue
