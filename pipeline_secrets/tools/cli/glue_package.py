"""``pipeline-secrets build-glue --output DIR``: the files a Glue job needs.

* a wheel (``pipeline_secrets-<version>-py3-none-any.whl``) for
  ``--additional-python-modules``: the core and ``glue_lib``, with no requirement pip
  would resolve, so pip has nothing to download (a job in a VPC without NAT cannot):
  it runs on the boto3 that Glue provides, and names boto3 only under the extra
  ``[boto3]``, for installs elsewhere;
* a zip (``pipeline_secrets_glue-<version>.zip``) for ``--extra-py-files``: the same two
  packages at the zip's root, for jobs that cannot pip-install.

``airflow_plugin`` is not shipped. Both files are built with the standard library
only (reproducible: fixed timestamps, sorted entries), from the packages Python
imports, after checking that every module parses as Python 3.10 (Glue 4.0).
"""

from __future__ import annotations

import argparse
import ast
import base64
import hashlib
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PACKAGES = ("pipeline_secrets", "glue_lib")
# Tooling (CLI, agent server, audit/scan/migrate) never runs inside a job.
EXCLUDED = ("pipeline_secrets/tools/",)
DIST_NAME = "pipeline-secrets"
# AWS Glue provides boto3 ("Python modules already provided in AWS Glue",
# docs.aws.amazon.com/glue/latest/dg/aws-glue-programming-python-libraries.html):
# Glue 4.0 boto3 1.24.70 with botocore 1.27.59, Glue 5.0 1.34.131 (both), Glue 5.1
# 1.40.61 (both). The wheel runs on each (tests/glue_lib/test_glue_bundled_boto3.py runs
# it on 4.0's and 5.0's); on botocore before 1.33 (Glue 4.0) prefetching has no
# BatchGetSecretValue and reads one GetSecretValue per secret.
GLUE_BOTO3_FLOOR = "1.24"
# boto3 is named under an extra only, never as a plain requirement: Glue 4.0's own set
# does not satisfy boto3 1.24.70's requirement botocore>=1.27.70, so pip, resolving any
# requirement on boto3, goes looking for a newer botocore: a failed install without NAT,
# a replaced botocore with it.
BOTO3_EXTRA = "boto3"
REQUIRES = (f'boto3>={GLUE_BOTO3_FLOOR}; extra == "{BOTO3_EXTRA}"',)
OLDEST_PYTHON = (3, 10)  # Glue 4.0
_EPOCH = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class GlueArtifacts:
    wheel: Path
    zip: Path
    version: str

    def job_parameters(self, s3_prefix: str | None = None) -> dict[str, str]:
        prefix = (s3_prefix or "s3://YOUR-BUCKET/glue-libs").rstrip("/")
        return {
            "--additional-python-modules": f"{prefix}/{self.wheel.name}",
            "--extra-py-files": f"{prefix}/{self.zip.name}",
        }


COMMAND = "build-glue"
HELP = "build the wheel and zip to ship pipeline_secrets + glue_lib to AWS Glue"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", "-o", required=True, type=Path, help="output directory")
    parser.add_argument(
        "--s3-prefix", help="S3 prefix you will upload to (only used to print job parameters)"
    )


def run(args: argparse.Namespace) -> int:
    artifacts = build(args.output)
    print(f"wheel: {artifacts.wheel}")
    print(f"zip:   {artifacts.zip}")
    print("Glue job parameters (use one of the two; never put secret values in job arguments):")
    for key, value in artifacts.job_parameters(args.s3_prefix).items():
        print(f"  {key} {value}")
    return 0


def _package_files() -> Iterator[tuple[str, Path]]:
    """(archive name, file) for every module of the shipped packages, sorted."""
    import importlib

    for name in PACKAGES:
        module = importlib.import_module(name)
        root = Path(module.__file__ or "").resolve().parent
        for path in sorted(root.rglob("*")):
            if not path.is_file() or "__pycache__" in path.parts:
                continue
            if path.suffix not in {".py", ".typed", ".json"}:
                continue
            arcname = f"{name}/{path.relative_to(root).as_posix()}"
            if arcname.startswith(EXCLUDED):
                continue
            yield arcname, path


def check_syntax(files: list[tuple[str, Path]], version: tuple[int, int] = OLDEST_PYTHON) -> None:
    for arcname, path in files:
        if arcname.endswith(".py"):
            try:
                ast.parse(path.read_text(encoding="utf-8"), arcname, feature_version=version)
            except SyntaxError as exc:
                raise SystemExit(
                    f"{arcname}:{exc.lineno}: not valid Python {version[0]}.{version[1]}: {exc.msg}"
                ) from None


def _write(zf: zipfile.ZipFile, arcname: str, data: bytes) -> None:
    info = zipfile.ZipInfo(arcname, date_time=_EPOCH)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    zf.writestr(info, data)


def _record_line(arcname: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{arcname},sha256={digest},{len(data)}"


def build(output: Path, version: str | None = None) -> GlueArtifacts:
    from pipeline_secrets import __version__

    version = version or __version__
    output.mkdir(parents=True, exist_ok=True)
    files = list(_package_files())
    check_syntax(files)
    contents = [(arcname, path.read_bytes()) for arcname, path in files]

    dist_info = f"pipeline_secrets-{version}.dist-info"
    metadata = "\n".join(
        [
            "Metadata-Version: 2.1",
            f"Name: {DIST_NAME}",
            f"Version: {version}",
            "Summary: AWS Secrets Manager for data pipelines (core + glue_lib build for AWS Glue)",
            "License: Apache-2.0",
            f"Requires-Python: >={OLDEST_PYTHON[0]}.{OLDEST_PYTHON[1]}",
            f"Provides-Extra: {BOTO3_EXTRA}",
            *(f"Requires-Dist: {req}" for req in REQUIRES),
            "",
        ]
    )
    wheel_meta = "\n".join(
        [
            "Wheel-Version: 1.0",
            "Generator: pipeline-secrets build-glue",
            "Root-Is-Purelib: true",
            "Tag: py3-none-any",
            "",
        ]
    )
    extra = [
        (f"{dist_info}/METADATA", metadata.encode()),
        (f"{dist_info}/WHEEL", wheel_meta.encode()),
        (f"{dist_info}/top_level.txt", ("\n".join(PACKAGES) + "\n").encode()),
    ]
    wheel_path = output / f"pipeline_secrets-{version}-py3-none-any.whl"
    buf = io.BytesIO()
    record: list[str] = []
    with zipfile.ZipFile(buf, "w") as zf:
        for arcname, data in [*contents, *extra]:
            _write(zf, arcname, data)
            record.append(_record_line(arcname, data))
        record.append(f"{dist_info}/RECORD,,")
        _write(zf, f"{dist_info}/RECORD", ("\n".join(record) + "\n").encode())
    wheel_path.write_bytes(buf.getvalue())

    zip_path = output / f"pipeline_secrets_glue-{version}.zip"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for arcname, data in contents:
            _write(zf, arcname, data)
    zip_path.write_bytes(buf.getvalue())
    return GlueArtifacts(wheel_path, zip_path, version)
