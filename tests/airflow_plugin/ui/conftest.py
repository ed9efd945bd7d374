"""A real ``airflow api-server`` with the Secrets page plugin, its backend pointed at a
moto server of its own (seeded once per session), in a throwaway Airflow home.

The plugin is found the way a user's install finds it: through the ``airflow.plugins``
entry point the distribution declares in pyproject.toml. Until the distribution is
reinstalled with that entry point, the fixture adds a minimal ``.dist-info`` carrying
the same entry point to the server's PYTHONPATH.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets as pysecrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
import tomllib
from botocore.exceptions import ClientError

from devstack.airflow_env import AirflowHome, backend_kwargs, make_airflow_home
from devstack.moto_server import MotoServer, start_moto
from tests.airflow_plugin.conftest import AIRFLOW_MAJOR
from tests.leakguard import GUARD

ROOT = Path(__file__).resolve().parents[3]
AIRFLOW_BIN = str(Path(sys.executable).with_name("airflow"))
JWT_SECRET = "ui-tests-jwt-secret-0123456789abcdef0123456789"
ROTATION_LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:rotate-db"

if AIRFLOW_MAJOR < 3:  # the page needs Airflow 3's api-server; the inventory runs anywhere
    collect_ignore = ["test_api.py", "test_browser.py"]


@dataclass
class Seeded:
    rotated: str  # a connection secret with rotation enabled
    plain: str  # a connection secret without rotation
    variable: str
    outside: str  # not under a served prefix: never listed
    values: list[str] = field(default_factory=list, repr=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _value(prefix: str) -> str:
    value = f"{prefix}{pysecrets.token_urlsafe(12)}"
    GUARD.register(value)
    return value


def enable_rotation(client: Any, name: str) -> None:
    """Rotation on, with a schedule, as AWS reports it after configuring a Lambda.

    moto checks the Lambda only when asked to rotate with one; it has turned rotation on
    by then, and leaves an AWSPENDING version behind, which is removed here.
    """
    with contextlib.suppress(ClientError):
        client.rotate_secret(
            SecretId=name,
            RotationLambdaARN=ROTATION_LAMBDA,
            RotationRules={"AutomaticallyAfterDays": 30},
            RotateImmediately=False,
        )
    stages = client.describe_secret(SecretId=name)["VersionIdsToStages"]
    for version, labels in stages.items():
        if "AWSPENDING" in labels and "AWSCURRENT" not in labels:
            client.update_secret_version_stage(
                SecretId=name, VersionStage="AWSPENDING", RemoveFromVersionId=version
            )


def seed(moto: MotoServer) -> Seeded:
    client = moto.client()
    seeded = Seeded(
        rotated="airflow/connections/ui_orders_db",
        plain="airflow/connections/ui_legacy_api",
        variable="airflow/variables/ui_api_token",
        outside="other-team/ui_private",
    )
    password, token, uri_pw, other = (_value(p) for p in ("uipw", "uitok", "uiuri", "uioth"))
    seeded.values = [password, token, uri_pw, other]
    documents = {
        seeded.rotated: json.dumps(
            {
                "engine": "postgres",
                "host": "orders.db.example",
                "username": "etl",
                "password": password,
                "dbname": "orders",
                "port": 5432,
            }
        ),
        seeded.plain: f"http://svc:{uri_pw}@api.example:443/v1",
        seeded.variable: token,
        seeded.outside: other,
    }
    for name, text in documents.items():
        client.create_secret(Name=name, SecretString=text)
    enable_rotation(client, seeded.rotated)
    return seeded


@pytest.fixture(scope="session")
def ui_moto() -> Iterator[MotoServer]:
    """A moto server of the UI tests' own (other tests reset the shared one)."""
    server = start_moto()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def ui_seeded(ui_moto: MotoServer) -> Seeded:
    # moto's state is per process, shared by every server in it: start from empty, so
    # the page lists exactly what these tests seed.
    ui_moto.reset()
    return seed(ui_moto)


@pytest.fixture(scope="session")
def plugin_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    """PYTHONPATH entry that registers the plugin's entry point, unless installed."""
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"][
        "airflow.plugins"
    ]
    installed = {ep.name for ep in entry_points(group="airflow.plugins")}
    if set(declared) <= installed:
        return ""
    root = tmp_path_factory.mktemp("plugin_dist")
    info = root / "pipeline_secrets_ui_entry_point-0.0.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: pipeline-secrets-ui-entry-point\nVersion: 0.0.0\n"
    )
    lines = ["[airflow.plugins]", *(f"{k} = {v}" for k, v in declared.items())]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    return str(root)


@pytest.fixture(scope="session")
def ui_home(ui_moto: MotoServer) -> Iterator[AirflowHome]:
    home = make_airflow_home(
        ui_moto.endpoint_url,
        dags_folder=Path(__file__).with_name("dags"),
        kwargs=backend_kwargs(ui_moto.endpoint_url, cache_ttl_seconds=300, agent_autostart=False),
        extra_env={"AIRFLOW__API_AUTH__JWT_SECRET": JWT_SECRET},
    )
    home.airflow("dags", "reserialize", timeout=300)
    yield home
    home.cleanup()


class ApiServer:
    """``airflow api-server`` on 127.0.0.1 and a free port; stopped by :meth:`stop`."""

    def __init__(self, home: AirflowHome, plugin_path: str, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        full_env = {**home.env, **env}
        if plugin_path:
            full_env["PYTHONPATH"] = os.pathsep.join([full_env.get("PYTHONPATH", ""), plugin_path])
        self.log_path = home.path / f"api-server-{self.port}.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [
                AIRFLOW_BIN,
                "api-server",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                "1",
            ],
            env=full_env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait(f"{self.url}/api/v2/monitor/health")

    def _wait(self, url: str, seconds: float = 180) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError("airflow api-server exited; see " + str(self.log_path))
            try:
                with urllib.request.urlopen(url, timeout=2):
                    return
            except OSError:
                time.sleep(0.5)
        raise AssertionError("airflow api-server did not start")

    def request(
        self, method: str, path: str, *, token: str | None = None, body: Any = None
    ) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return response.status, _decode(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, _decode(exc.read())

    def log_text(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self._log.close()


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")
