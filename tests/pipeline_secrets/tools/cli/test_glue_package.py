"""pipeline-secrets build-glue: the wheel installs with pip, the zip imports, and
neither carries airflow_plugin."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from pipeline_secrets.tools.cli import main
from pipeline_secrets.tools.cli.glue_package import build, check_syntax

ROOT = Path(__file__).resolve().parents[4]

# The boto3 each Glue version bundles, from AWS's "Python modules already provided in
# AWS Glue" (docs.aws.amazon.com/glue/latest/dg/aws-glue-programming-python-libraries.html
# #glue-modules-provided). The wheel's floor must admit every one of them, or pip reaches
# for PyPI, which a job in a VPC without NAT cannot (issue #17).
GLUE_BUNDLED_BOTO3 = {"4.0": "1.24.70", "5.0": "1.34.131", "5.1": "1.40.61"}


def test_build_glue_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "dist"
    assert main(["build-glue", "--output", str(out), "--s3-prefix", "s3://b/libs/"]) == 0
    printed = capsys.readouterr().out
    wheel = next(out.glob("*.whl"))
    zipped = next(out.glob("*.zip"))
    assert f"--additional-python-modules s3://b/libs/{wheel.name}" in printed
    assert f"--extra-py-files s3://b/libs/{zipped.name}" in printed
    for archive in (wheel, zipped):
        names = zipfile.ZipFile(archive).namelist()
        tops = {n.split("/")[0] for n in names}
        assert "glue_lib" in tops and "pipeline_secrets" in tops
        assert "airflow_plugin" not in tops and not any("__pycache__" in n for n in names)
        assert "glue_lib/jdbc_io.py" in names and "pipeline_secrets/cache.py" in names
        # Tooling (CLI, agent server, audit/scan/migrate) never ships to a job.
        assert not any(n.startswith("pipeline_secrets/tools/") for n in names)
        assert not any(n.endswith("entry_points.txt") for n in names)


def test_builds_are_reproducible(tmp_path: Path) -> None:
    a = build(tmp_path / "a")
    b = build(tmp_path / "b")
    assert a.wheel.read_bytes() == b.wheel.read_bytes()
    assert a.zip.read_bytes() == b.zip.read_bytes()


def test_wheel_installs_with_pip_and_zip_imports(tmp_path: Path) -> None:
    art = build(tmp_path / "dist")
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-index",
            "--quiet",
            "--target",
            str(target),
            str(art.wheel),
        ],
        check=True,
        capture_output=True,
    )
    assert (target / "glue_lib" / "spark_options.py").exists()
    assert not (target / "airflow_plugin").exists()
    probe = "import glue_lib, pipeline_secrets; print(glue_lib.__file__)"
    for path in (str(target), str(art.zip)):
        # Run outside the repository so the source tree cannot be imported instead.
        res = subprocess.run(
            [sys.executable, "-c", probe],
            cwd=tmp_path,
            env={"PYTHONPATH": path, "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            check=True,
        )
        assert res.stdout.strip().startswith(path)


def test_syntax_check_rejects_newer_python(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("type Alias = int\n")  # Python 3.12 syntax
    with pytest.raises(SystemExit, match=r"not valid Python 3\.10"):
        check_syntax([("pkg/bad.py", bad)])


def test_wheel_needs_nothing_glue_does_not_ship(tmp_path: Path) -> None:
    """Offline install: a fresh venv without boto3, ``pip install --no-index`` (pip
    resolves requirements, as Glue's does), then import (boto3 comes from outside, as
    Glue provides it). boto3 is named only under the ``boto3`` extra, with a floor that
    the boto3 of Glue 4.0, 5.0 and 5.1 meets (``GLUE_BUNDLED_BOTO3``).
    tests/glue_lib/test_glue_bundled_boto3.py installs it on Glue's exact AWS stack."""
    from packaging.requirements import Requirement

    art = build(tmp_path / "dist")
    metadata = (
        zipfile.ZipFile(art.wheel)
        .read(f"pipeline_secrets-{art.version}.dist-info/METADATA")
        .decode()
    )
    requires = [
        Requirement(line.split(":", 1)[1].strip())
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist:")
    ]
    assert [r.name for r in requires] == ["boto3"]
    for glue, bundled in GLUE_BUNDLED_BOTO3.items():
        assert requires[0].specifier.contains(bundled), (glue, bundled, str(requires[0]))
    # Only with the extra: a plain requirement on boto3 makes pip resolve boto3's own
    # requirements, which Glue 4.0's botocore (1.27.59) does not meet.
    assert requires[0].marker is not None
    assert requires[0].marker.evaluate({"extra": "boto3"})
    assert not requires[0].marker.evaluate({"extra": ""})
    assert "Provides-Extra: boto3" in metadata
    assert "Requires-Python: >=3.10" in metadata

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    python = venv / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--isolated", "--no-index", str(art.wheel)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    import boto3

    provided = str(Path(boto3.__file__).parents[1])  # like Glue's own site-packages
    probe = (
        "import sys, glue_lib, pipeline_secrets, glue_lib.jdbc_io;"
        "assert 'pyspark' not in sys.modules and 'airflow' not in sys.modules;"
        "print(glue_lib.__file__)"
    )
    res = subprocess.run(
        [str(python), "-c", probe],
        cwd=tmp_path,
        env={"PYTHONPATH": provided, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().startswith(str(venv))
