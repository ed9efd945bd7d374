"""A moto Secrets Manager server on 127.0.0.1 (random port)."""

from __future__ import annotations

import os
import urllib.request
from dataclasses import dataclass
from typing import Any

FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


@dataclass
class MotoServer:
    server: Any
    endpoint_url: str
    region: str = "us-east-1"

    def reset(self) -> None:
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        urllib.request.urlopen(request, timeout=10).close()

    def client(self, region: str | None = None) -> Any:
        import boto3

        return boto3.client(
            "secretsmanager",
            region_name=region or self.region,
            endpoint_url=self.endpoint_url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def env(self) -> dict[str, str]:
        """Environment for child processes (Airflow CLI, Spark) to reach this server."""
        return {
            **FAKE_ENV,
            "AWS_ENDPOINT_URL_SECRETS_MANAGER": self.endpoint_url,
            "AWS_ENDPOINT_URL_STS": self.endpoint_url,
        }

    def stop(self) -> None:
        self.server.stop()


def start_moto(port: int = 0) -> MotoServer:
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    for key, value in FAKE_ENV.items():
        os.environ.setdefault(key, value)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    host, bound = server.get_host_and_port()
    return MotoServer(server=server, endpoint_url=f"http://{host}:{bound}")
