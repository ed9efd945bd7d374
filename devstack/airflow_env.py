"""A throwaway Airflow home configured through environment variables only:
our secrets backend pointed at a moto server, sqlite metadata, the example DAGs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from devstack import stack

ROOT = Path(__file__).resolve().parents[1]


def backend_kwargs(endpoint_url: str, **extra: object) -> dict[str, object]:
    """The configuration README recommends: every Airflow process reads through one
    agent per host, started on demand (scoped to these prefixes, token required)."""
    return {
        "connections_prefix": stack.CONNECTIONS_PREFIX,
        "variables_prefix": stack.VARIABLES_PREFIX,
        "config_prefix": None,
        "region_name": stack.REGION,
        "endpoint_url": endpoint_url,
        "agent_autostart": True,
        "agent_idle_exit_seconds": 120,
        **extra,
    }


@dataclass
class AirflowHome:
    path: Path
    env: dict[str, str] = field(repr=False)

    def airflow(
        self,
        *args: str,
        timeout: float = 600,
        check: bool = True,
        extra_env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        exe = Path(sys.executable).with_name("airflow")
        return subprocess.run(
            [str(exe), *args],
            env={**self.env, **(extra_env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=check,
        )

    def log_text(self) -> str:
        """Every task log file under this home, concatenated (for leak checks)."""
        parts = []
        for path in sorted((self.path / "logs").rglob("*")):
            if path.is_file():
                parts.append(path.read_text(errors="replace"))
        return "\n".join(parts)

    def cleanup(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def make_airflow_home(
    endpoint_url: str,
    *,
    dags_folder: Path | None = None,
    kwargs: dict[str, object] | None = None,
    extra_env: dict[str, str] | None = None,
) -> AirflowHome:
    home = Path(tempfile.mkdtemp(prefix="ps-airflow-"))
    backend = json.dumps(kwargs if kwargs is not None else backend_kwargs(endpoint_url))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")},
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder or ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "false",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "false",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "AIRFLOW__SECRETS__BACKEND": stack.BACKEND_CLASS,
        "AIRFLOW__SECRETS__BACKEND_KWARGS": backend,
        "AIRFLOW__WORKERS__SECRETS_BACKEND": stack.BACKEND_CLASS,
        "AIRFLOW__WORKERS__SECRETS_BACKEND_KWARGS": backend,
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": stack.REGION,
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": endpoint_url,
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p
        ),
        "NO_PROXY": "*",
        **(extra_env or {}),
    }
    airflow_home = AirflowHome(home, env)
    airflow_home.airflow("db", "migrate", timeout=900)
    return airflow_home
