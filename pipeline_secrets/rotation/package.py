"""Building the rotation Lambda's deployment zip.

The zip holds ``pipeline_secrets`` (the core and this package) and the database
drivers, installed with ``pip install --target`` for the Lambda platform:

* ``psycopg2-binary`` as a manylinux wheel for the Lambda's CPU and Python (it bundles
  libpq and OpenSSL, so nothing else is needed on Amazon Linux). Chosen over pg8000
  because the same driver then runs locally and in the Lambda, and libpq gives
  client-side password hashing (``encrypt_password``) and the full ``sslmode`` set.
* ``pymysql``: pure Python, for MySQL, Aurora MySQL and MariaDB.

boto3 is not bundled: every Lambda Python runtime provides it.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_DRIVERS = ("psycopg2-binary>=2.9", "pymysql>=1.1")
ZIP_NAME = "pipeline-secrets-rotation-lambda.zip"
HANDLER = "pipeline_secrets.rotation.lambda_handler"
_PLATFORMS = {"x86_64": "manylinux2014_x86_64", "arm64": "manylinux2014_aarch64"}
_FIXED_TIME = (2020, 1, 1, 0, 0, 0)


def build_lambda_zip(
    output_dir: str | os.PathLike[str],
    *,
    python_version: str = "3.11",
    architecture: str = "x86_64",
    drivers: Sequence[str] = DEFAULT_DRIVERS,
    ca_bundle: str | os.PathLike[str] | None = None,
    pip_args: Sequence[str] = (),
) -> Path:
    """Write ``<output_dir>/pipeline-secrets-rotation-lambda.zip`` and return its path.

    ``ca_bundle`` (for example Amazon RDS's global bundle) is shipped as
    ``pipeline_secrets/rotation/ca-bundle.pem`` and used to verify database TLS.
    """
    if architecture not in _PLATFORMS:
        raise ValueError(f"architecture must be one of {', '.join(_PLATFORMS)}")
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ps-lambda-") as tmp:
        root = Path(tmp) / "root"
        root.mkdir()
        if drivers:
            cmd = [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-compile",
                "--target",
                str(root),
                "--platform",
                _PLATFORMS[architecture],
                "--implementation",
                "cp",
                "--python-version",
                python_version,
                "--only-binary=:all:",
                *pip_args,
                *drivers,
            ]
            log.info("installing drivers: %s", " ".join(drivers))
            subprocess.run(cmd, check=True)
        _copy_package(root)
        if ca_bundle is not None:
            shutil.copyfile(ca_bundle, root / "pipeline_secrets" / "rotation" / "ca-bundle.pem")
        target = out / ZIP_NAME
        _write_zip(root, target)
    log.info("wrote %s (handler %s)", target, HANDLER)
    return target


def _copy_package(root: Path) -> None:
    import pipeline_secrets

    source = Path(pipeline_secrets.__file__).resolve().parent
    shutil.copytree(
        source,
        root / "pipeline_secrets",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "ca-bundle.pem"),
    )
    # Tooling (CLI, agent server, audit/scan/migrate) never runs in the Lambda.
    shutil.rmtree(root / "pipeline_secrets" / "tools")


def _write_zip(root: Path, target: Path) -> None:
    """A reproducible zip: sorted entries, fixed timestamps, no bytecode."""
    files = sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    )
    tmp_target = target.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp_target, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in files:
            info = zipfile.ZipInfo(path.relative_to(root).as_posix(), _FIXED_TIME)
            mode = 0o755 if os.access(path, os.X_OK) else 0o644
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
    tmp_target.replace(target)
