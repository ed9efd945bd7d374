"""docker-compose.yaml is valid and uses the same seed code and names as the demo."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from devstack import stack

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    exe = shutil.which("docker-compose")
    assert exe, "docker-compose (Debian package) is needed; scripts/setup.sh installs it"
    out = subprocess.run([exe, "config"], cwd=ROOT, capture_output=True, text=True, check=True)
    return yaml.safe_load(out.stdout)  # type: ignore[no-any-return]


def test_images_are_pinned_and_services_have_healthchecks(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        image = service.get("image", "")
        if image:
            tag = image.rsplit(":", 1)[-1] if ":" in image else ""
            assert tag and tag != "latest", f"{name}: image {image!r} is not pinned"
    for name in ("moto", "rds", "redshift", "airflow-db", "airflow"):
        assert "healthcheck" in services[name], name
    assert services["moto"]["image"].startswith("motoserver/moto:")


def test_seeder_runs_the_demo_seed_code(compose: dict[str, Any]) -> None:
    from devstack.seed import build_parser

    command = compose["services"]["seed"]["command"]
    assert command[:3] == ["python", "-m", "devstack.seed"]
    args = build_parser().parse_args(command[3:])  # every flag is one the demo's seeder knows
    assert args.source_host == "rds" and args.target_host == "redshift"


def test_airflow_uses_our_backend_with_the_demo_prefixes(compose: dict[str, Any]) -> None:
    env = compose["services"]["airflow"]["environment"]
    for section in ("SECRETS", "WORKERS"):
        assert (
            env[
                f"AIRFLOW__{section}__SECRETS_BACKEND"
                if section == "WORKERS"
                else "AIRFLOW__SECRETS__BACKEND"
            ]
            == stack.BACKEND_CLASS
        )
        key = (
            "AIRFLOW__WORKERS__SECRETS_BACKEND_KWARGS"
            if section == "WORKERS"
            else "AIRFLOW__SECRETS__BACKEND_KWARGS"
        )
        kwargs = json.loads(env[key])
        assert kwargs["connections_prefix"] == stack.CONNECTIONS_PREFIX
        assert kwargs["variables_prefix"] == stack.VARIABLES_PREFIX


def test_glue_service_reads_the_demo_secrets(compose: dict[str, Any]) -> None:
    command = " ".join(compose["services"]["glue"]["command"])
    assert f"--source_secret_id={stack.SOURCE_SECRET_ID}" in command
    assert f"--target_secret_id={stack.TARGET_SECRET_ID}" in command
    assert compose["services"]["glue"]["image"].startswith("public.ecr.aws/glue/aws-glue-libs:5")


def test_glue_service_arguments_are_the_scripts(compose: dict[str, Any]) -> None:
    """The glue service's arguments are exactly what glue_jobs/rds_to_redshift.py reads."""
    from glue_lib.context import job_arguments

    command = compose["services"]["glue"]["command"]
    assert command[1].endswith("/glue_jobs/rds_to_redshift.py")
    script = (ROOT / "glue_jobs" / "rds_to_redshift.py").read_text()
    args = job_arguments(["JOB_NAME", "source_secret_id", "target_secret_id"], command[2:])
    assert args["source_secret_id"] == stack.SOURCE_SECRET_ID
    assert args["target_secret_id"] == stack.TARGET_SECRET_ID
    for name in args:
        assert name == "JOB_NAME" or f'"{name}"' in script, name


def test_airflow_mounts_the_dags_next_to_the_glue_jobs(compose: dict[str, Any]) -> None:
    """dags/glue_rds_to_redshift.py finds the script at <dags>/../glue_jobs."""
    service = compose["services"]["airflow"]
    targets = {}
    for volume in service["volumes"]:
        if isinstance(volume, dict):
            source, target = volume["source"], volume["target"]
        else:
            source, target = volume.split(":")[:2]
        targets[Path(source).name] = target
    assert Path(targets["dags"]).parent == Path(targets["glue_jobs"]).parent
    assert service["environment"]["PIPELINE_SECRETS_GLUE_LOCAL"] == "1"
    dockerfile = (ROOT / "docker" / "airflow.Dockerfile").read_text()
    assert "openjdk-17-jre-headless" in dockerfile  # local Spark in the container


def _volume_targets(service: dict[str, Any]) -> dict[str, str]:
    out = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            out[str(volume["source"])] = str(volume["target"])
        else:
            source, target = volume.split(":")[:2]
            out[source] = target
    return out


def test_airflow_reads_through_the_agent_sidecar(compose: dict[str, Any]) -> None:
    """The stack runs the agent by default: a sidecar on a Unix socket in a shared volume
    (no port, no TCP), serving the backend's prefixes, and Airflow waits for it."""
    from pipeline_secrets.tools.cli import build_parser

    services = compose["services"]
    agent, airflow = services["agent"], services["airflow"]
    command = agent["command"]
    assert command[:4] == ["python", "-m", "pipeline_secrets.tools", "agent"]
    args = build_parser().parse_args(command[3:])  # every flag is one the agent knows
    assert args.unix_socket and not args.allow_non_loopback and not args.allow_any_secret
    assert "ports" not in agent
    assert set(args.prefetch_prefix) == {
        stack.CONNECTIONS_PREFIX + "/",
        stack.VARIABLES_PREFIX + "/",
    }
    for key in ("AIRFLOW__SECRETS__BACKEND_KWARGS", "AIRFLOW__WORKERS__SECRETS_BACKEND_KWARGS"):
        kwargs = json.loads(airflow["environment"][key])
        assert kwargs["agent_address"] == f"unix:{args.unix_socket}"
        assert kwargs["agent_token_file"] == args.token_file
    shared = _volume_targets(agent)
    assert shared.items() <= _volume_targets(airflow).items()  # same volume, same place
    (target,) = shared.values()
    assert args.unix_socket.startswith(target + "/") and args.token_file.startswith(target + "/")
    assert airflow["depends_on"]["agent"]["condition"] == "service_healthy"
    assert (
        "agent" in " ".join(agent["healthcheck"]["test"])
        and "status" in agent["healthcheck"]["test"]
    )
    dockerfile = (ROOT / "docker" / "airflow.Dockerfile").read_text()
    assert f"chmod 0700 {target}" in dockerfile
