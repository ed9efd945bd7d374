"""The Glue wheel on the boto3 and botocore AWS Glue bundles, against a real moto server.

For each Glue version: a fresh venv with Glue's Python, the AWS stack exactly as AWS
lists it under "Python modules already provided in AWS Glue"
(docs.aws.amazon.com/glue/latest/dg/aws-glue-programming-python-libraries.html
#glue-modules-provided), installed as Glue's image has it (``--no-deps``: Glue 4.0's set
does not satisfy boto3's own requirement on botocore). Then our wheel is installed the
way Glue installs ``--additional-python-modules`` (pip resolves dependencies) but with
``--no-index``, as in a VPC without NAT: it must need nothing. In that venv, glue_lib
renders JDBC options and Glue connection options from a secret, and the core prefetches
(on Glue 4.0's botocore 1.27.59, which has no BatchGetSecretValue, one GetSecretValue
per secret and one log line), with botocore at DEBUG; the zip (``--extra-py-files``)
does the same. No secret value may appear in any output.

Wheels are cached under ``~/.cache/pipeline-secrets/wheels`` (``$PIPELINE_SECRETS_HOME``
/wheels), so reruns work offline; without PyPI and without them, the test is skipped.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from devstack.moto_server import FAKE_ENV
from pipeline_secrets.tools.cli.glue_package import build

pytestmark = pytest.mark.slow

# Glue version -> (Python, the AWS stack it bundles), from AWS's page above.
GLUE_RUNTIMES: dict[str, tuple[str, tuple[str, ...]]] = {
    "4.0": (
        "3.10",
        (
            "boto3==1.24.70",
            "botocore==1.27.59",
            "s3transfer==0.6.0",
            "jmespath==0.10.0",
            "python-dateutil==2.8.2",
            "six==1.16.0",
            "urllib3==1.25.11",
        ),
    ),
    "5.0": (
        "3.11",
        (
            "boto3==1.34.131",
            "botocore==1.34.131",
            "s3transfer==0.10.2",
            "jmespath==0.10.0",
            "python-dateutil==2.9.0.post0",
            "six==1.16.0",
            "urllib3==1.25.10",
        ),
    ),
}
WHEELS = (
    Path(os.environ.get("PIPELINE_SECRETS_HOME") or Path.home() / ".cache/pipeline-secrets")
    / "wheels"
)
SECRET_ID = "glue/orders-db"
OTHER_ID = "glue/warehouse-db"

PROBE = r"""
import hashlib, json, logging, sys

class Count(logging.Handler):
    lines = []
    def emit(self, record):
        if "BatchGetSecretValue" in record.getMessage():
            Count.lines.append(record.getMessage())

# botocore's wire logs at DEBUG (response bodies hold SecretString): the core's log
# filter must keep every value out of them.
logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
logging.getLogger("pipeline_secrets.source").addHandler(Count())

import boto3, botocore
import glue_lib, pipeline_secrets
from pipeline_secrets.api import default_cache

digest = lambda text: hashlib.sha256(text.encode()).hexdigest()
opts = glue_lib.jdbc_options(sys.argv[1], table="sales.orders", fetchsize=1000)
glue = glue_lib.glue_connection_options(sys.argv[1], table="sales.orders")
print("options:", repr(opts))  # the repr masks the password
cache = default_cache()
by_ids = cache.prefetch([sys.argv[1], sys.argv[2], "glue/absent"])
by_prefix = cache.prefetch(name_prefix="glue/")
other = glue_lib.jdbc_options(sys.argv[2], table="t")  # served by the prefetch
print(json.dumps({
    "boto3": boto3.__version__,
    "botocore": botocore.__version__,
    "glue_lib": glue_lib.__file__,
    "python": sys.version.split()[0],
    "has_batch": hasattr(cache.source.client(), "batch_get_secret_value"),
    "url": opts["url"], "user": opts["user"], "driver": opts["driver"],
    "dbtable": opts["dbtable"], "fetchsize": opts["fetchsize"],
    "password_sha256": digest(opts["password"]),
    "glue_type": glue.connection_type,
    "glue_url": glue.connection_options["url"],
    "glue_user": glue.connection_options["user"],
    "glue_password_sha256": digest(glue.connection_options["password"]),
    "by_ids": sorted(by_ids.values), "by_ids_errors": {
        k: type(v).__name__ for k, v in by_ids.errors.items()},
    "by_prefix": sorted(by_prefix.values),
    "other_user": other["user"],
    "fallback_lines": Count.lines,
}))
"""


def _python_for(version: str) -> str:
    """Glue's Python (on PATH, or one pyenv installed), else this one (the AWS stack's
    wheels are pure Python; only the interpreter would differ)."""
    if f"{sys.version_info.major}.{sys.version_info.minor}" == version:
        return sys.executable
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    candidates = [shutil.which(f"python{version}")]
    candidates += [str(p) for p in sorted(pyenv.glob(f"versions/{version}.*/bin/python{version}"))]
    for found in filter(None, candidates):
        # A pyenv shim exists for every installed version but fails unless selected.
        probe = subprocess.run([found, "-c", "import venv"], capture_output=True, check=False)
        if probe.returncode == 0:
            return found
    return sys.executable


def _cached(pin: str) -> bool:
    name, version = pin.split("==")
    return any(WHEELS.glob(f"{name.replace('-', '_')}-{version}-*.whl"))


def _wheels_for(glue: str, python: str) -> None:
    """The pinned wheels in the cache, downloaded from PyPI when missing."""
    _, pins = GLUE_RUNTIMES[glue]
    missing = [pin for pin in pins if not _cached(pin)]
    if not missing:
        return
    WHEELS.mkdir(parents=True, exist_ok=True)
    download = [python, "-m", "pip", "download", "--disable-pip-version-check", "--timeout", "20"]
    res = subprocess.run(
        [*download, "--no-deps", "--only-binary=:all:", "-d", str(WHEELS), *missing],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    if res.returncode != 0 or not all(_cached(pin) for pin in missing):
        last = (res.stderr.strip().splitlines() or ["?"])[-1]
        pytest.skip(
            f"Glue {glue}'s AWS stack ({', '.join(missing)}) is not in {WHEELS} and PyPI "
            f"could not be reached to download it: {last}"
        )


def _pip(python: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # --isolated: no pip.conf or PIP_* variable (find-links, indexes) on this machine
    # can supply a package; only what the command names.
    return subprocess.run(
        [str(python), "-m", "pip", "--isolated", "--disable-pip-version-check", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


@pytest.fixture
def seeded(put_secret: Any, secret_value: Any, moto: Any) -> dict[str, str]:
    password = secret_value("glue")
    put_secret(
        SECRET_ID,
        {
            "engine": "postgres",
            "host": "orders.cluster-abc.us-east-1.rds.amazonaws.com",
            "port": 5432,
            "username": "etl_orders",
            "password": password,
            "dbname": "orders",
        },
    )
    put_secret(
        OTHER_ID,
        {
            "engine": "mysql",
            "host": "warehouse.internal",
            "username": "etl_wh",
            "password": secret_value("wh"),
            "dbname": "wh",
        },
    )
    moto.reset_counts()
    return {"password_sha256": hashlib.sha256(password.encode()).hexdigest()}


@pytest.mark.parametrize("glue", sorted(GLUE_RUNTIMES))
def test_glue_path_on_the_boto3_glue_bundles(
    glue: str, tmp_path: Path, moto: Any, seeded: dict[str, str], leak_registry: Any
) -> None:
    python_version, pins = GLUE_RUNTIMES[glue]
    python = _python_for(python_version)
    _wheels_for(glue, python)
    art = build(tmp_path / "dist")

    venv = tmp_path / "venv"
    subprocess.run([python, "-m", "venv", str(venv)], check=True, capture_output=True)
    vpython = venv / "bin" / "python"
    stack = _pip(vpython, "install", "--no-index", "--no-deps", "--find-links", str(WHEELS), *pins)
    assert stack.returncode == 0, stack.stdout + stack.stderr
    # As Glue runs pip for --additional-python-modules (dependencies resolved), offline.
    ours = _pip(vpython, "install", "--no-index", str(art.wheel))
    assert ours.returncode == 0, ours.stdout + ours.stderr
    frozen = _pip(vpython, "freeze").stdout.lower().split()
    assert set(pins) <= set(frozen), sorted(set(pins) - set(frozen))  # nothing replaced

    env = {
        **FAKE_ENV,
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "AWS_EC2_METADATA_DISABLED": "true",
        # botocore 1.27.59 ignores AWS_ENDPOINT_URL_SECRETS_MANAGER; ours works on every one.
        "PIPELINE_SECRETS_ENDPOINT_URL": moto.endpoint_url,
    }
    runs = {"wheel": env, "zip": {**env, "PYTHONPATH": str(art.zip)}}
    for shipped, run_env in runs.items():
        moto.reset_counts()
        res = subprocess.run(
            [str(vpython), "-c", PROBE, SECRET_ID, OTHER_ID],
            cwd=tmp_path,  # not the repository: only the shipped code can be imported
            env=run_env,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        # Before anything prints the output: no seeded value in it, at botocore DEBUG too.
        leak_registry.assert_clean(
            {f"{shipped} probe stdout": res.stdout, f"{shipped} probe stderr": res.stderr}
        )
        assert res.returncode == 0, res.stderr[-4000:]
        assert "Response body" in res.stderr  # botocore did log the bodies, filtered
        assert "'password': '***'" in res.stdout  # the options' repr
        out = json.loads(res.stdout.strip().splitlines()[-1])
        boto3_pin, botocore_pin = pins[0].split("==")[1], pins[1].split("==")[1]
        assert (out["boto3"], out["botocore"]) == (boto3_pin, botocore_pin)
        if python != sys.executable:
            assert out["python"].startswith(f"{python_version}."), out["python"]
        where = str(art.zip) if shipped == "zip" else str(venv)
        assert out["glue_lib"].startswith(where), out["glue_lib"]

        host = "orders.cluster-abc.us-east-1.rds.amazonaws.com"
        assert out["url"] == f"jdbc:postgresql://{host}:5432/orders"
        assert (out["user"], out["driver"]) == ("etl_orders", "org.postgresql.Driver")
        assert (out["dbtable"], out["fetchsize"]) == ("sales.orders", "1000")
        assert out["password_sha256"] == seeded["password_sha256"]
        assert out["glue_type"] == "postgresql"
        assert out["glue_url"].startswith(f"jdbc:postgresql://{host}:5432/orders")
        assert out["glue_user"] == "etl_orders"
        assert out["glue_password_sha256"] == seeded["password_sha256"]
        assert out["by_ids"] == [SECRET_ID, OTHER_ID]
        assert out["by_ids_errors"] == {"glue/absent": "SecretNotFoundError"}
        assert out["by_prefix"] == [SECRET_ID, OTHER_ID]
        assert out["other_user"] == "etl_wh"

        calls = dict(moto.calls)
        if out["has_batch"]:
            assert not out["fallback_lines"]
            assert calls.get("BatchGetSecretValue", 0) >= 2
        else:
            # botocore 1.27.59: no BatchGetSecretValue, no AttributeError; one line says so.
            assert glue == "4.0"
            assert len(out["fallback_lines"]) == 1, out["fallback_lines"]
            assert botocore_pin in out["fallback_lines"][0]
            assert "BatchGetSecretValue" not in calls
            # 1 for the options (the Glue options reuse the cache), 3 for the ids,
            # 1 ListSecrets + 2 for the prefix; the last lookup is a cache hit.
            assert calls == {"GetSecretValue": 6, "ListSecrets": 1}, calls
