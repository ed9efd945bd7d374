"""docs/glue.md's local example, run as written: the job script and the block that
runs it are taken from the page (``<!-- docs-test: NAME -->`` marks them) and run
against moto and a PostgreSQL cluster with SCRAM passwords."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.spark, pytest.mark.postgres, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
JARS = "/usr/share/java/postgresql.jar"


def doc_blocks(path: Path) -> dict[str, str]:
    """The fenced code blocks that follow a ``<!-- docs-test: NAME -->`` line."""
    text = path.read_text()
    found = re.findall(r"<!-- docs-test: (\S+) -->\n```\w*\n(.*?)```", text, flags=re.S)
    return dict(found)


def test_the_local_example_runs_as_written(
    tmp_path: Path, moto: Any, pg_cluster: Any, pg_user: Any, put_secret: Any
) -> None:
    pytest.importorskip("pyspark")
    if not os.path.exists(JARS):
        pytest.skip("Debian's PostgreSQL JDBC jar is not installed")
    blocks = doc_blocks(ROOT / "docs" / "glue.md")
    assert set(blocks) == {"hello_glue.py", "run"}
    (tmp_path / "hello_glue.py").write_text(blocks["hello_glue.py"])

    creds = pg_user()
    put_secret("dev/orders-db", creds)
    pg_cluster.admin_sql(
        "CREATE TABLE orders (id INT PRIMARY KEY, amount NUMERIC(10, 2));"
        "INSERT INTO orders SELECT i, i * 1.5 FROM generate_series(1, 20) AS i;"
        f'ALTER TABLE orders OWNER TO "{creds["username"]}"',
        dbname=creds["dbname"],
    )
    env = {
        **os.environ,
        **moto.env(),  # AWS_REGION, AWS_ENDPOINT_URL_SECRETS_MANAGER, test keys
        "PYTHONPATH": str(ROOT),
        "PIPELINE_SECRETS_SPARK_JARS": JARS,
    }
    env.pop("PYSPARK_SUBMIT_ARGS", None)
    run = subprocess.run(
        [sys.executable, "-c", blocks["run"]],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    assert "20 orders, total written in 1 attempt(s)" in run.stdout
    conn = pg_cluster.connect(creds["dbname"])
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT total FROM order_totals")
            assert [float(r[0]) for r in cur.fetchall()] == [sum(i * 1.5 for i in range(1, 21))]
    finally:
        conn.close()
    assert creds["password"] not in run.stdout + run.stderr
