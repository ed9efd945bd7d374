"""A moto Secrets Manager server on 127.0.0.1 (random port) that counts API calls.

Every request passes through a small WSGI middleware that counts operations by their
``X-Amz-Target`` header, so call counts are exact across every process that talks to
the server (Airflow task processes, Spark workers). Counts are readable in-process
(``server.calls``) or over HTTP (``GET /_pipeline_secrets/calls``; ``DELETE`` resets).
An optional ``fault`` hook can answer a request instead of moto (fault injection).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}
COUNTS_PATH = "/_pipeline_secrets/calls"

# fault(operation) -> None to pass through, or (HTTP status, JSON body) to answer.
Fault = Callable[[str], "tuple[int, dict[str, Any]] | None"]


class _Counting:
    """WSGI middleware: count operations, serve the counts, inject faults."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.calls: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.fault: Fault | None = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == COUNTS_PATH:
            with self.lock:
                body = json.dumps(dict(self.calls)).encode()
                if environ.get("REQUEST_METHOD") == "DELETE":
                    self.calls.clear()
            start_response("200 OK", [("Content-Type", "application/json")])
            return [body]
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        operation = target.split(".", 1)[-1] if target else ""
        if operation:
            with self.lock:
                self.calls[operation] += 1
            fault = self.fault
            answer = fault(operation) if fault is not None else None
            if answer is not None:
                status, payload = answer
                start_response(
                    f"{status} Injected",
                    [
                        ("Content-Type", "application/x-amz-json-1.1"),
                        ("X-Amzn-ErrorType", str(payload.get("__type", ""))),
                    ],
                )
                return [json.dumps(payload).encode()]
        return self.app(environ, start_response)  # type: ignore[no-any-return,unused-ignore]


@dataclass
class MotoServer:
    server: Any
    endpoint_url: str
    region: str = "us-east-1"
    middleware: _Counting | None = field(default=None, repr=False)

    @property
    def calls(self) -> Counter[str]:
        assert self.middleware is not None
        with self.middleware.lock:
            return Counter(self.middleware.calls)

    def reset_counts(self) -> None:
        assert self.middleware is not None
        with self.middleware.lock:
            self.middleware.calls.clear()

    def set_fault(self, fault: Fault | None) -> None:
        assert self.middleware is not None
        self.middleware.fault = fault

    def reset(self) -> None:
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        urllib.request.urlopen(request, timeout=10).close()
        if self.middleware is not None:
            self.reset_counts()
            self.middleware.fault = None

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


def read_counts(endpoint_url: str, reset: bool = False) -> Counter[str]:
    """The call counts of a server started by ``start_moto``, from any process."""
    request = urllib.request.Request(
        endpoint_url + COUNTS_PATH, method="DELETE" if reset else "GET"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return Counter(json.loads(response.read()))


def _current_follows_stage_moves() -> None:
    """Make moto answer unstaged and batch reads with AWSCURRENT, as AWS does.

    moto 5 answers GetSecretValue without a stage, and BatchGetSecretValue, with its
    "default version", which UpdateSecretVersionStage never moves: after a rotation those
    reads return the rotated-away value (../shared/NOTES.md, moto quirks). Moving
    AWSCURRENT now moves the default version too. Idempotent; in-process only (moto's
    state lives in the process that runs the server)."""
    from moto.secretsmanager.models import SecretsManagerBackend

    original = SecretsManagerBackend.update_secret_version_stage
    if getattr(original, "_current_follows_stage_moves", False):
        return

    def update_secret_version_stage(
        self: Any,
        secret_id: str,
        version_stage: str,
        remove_from_version_id: str,
        move_to_version_id: str,
    ) -> tuple[str, str]:
        result = original(
            self, secret_id, version_stage, remove_from_version_id, move_to_version_id
        )
        if version_stage == "AWSCURRENT" and move_to_version_id:
            self.secrets[secret_id].set_default_version_id(move_to_version_id)
        return result

    update_secret_version_stage._current_follows_stage_moves = True  # type: ignore[attr-defined]
    SecretsManagerBackend.update_secret_version_stage = update_secret_version_stage  # type: ignore[method-assign]


def start_moto(port: int = 0, host: str = "127.0.0.1") -> MotoServer:
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    _current_follows_stage_moves()
    for key, value in FAKE_ENV.items():
        os.environ.setdefault(key, value)
    middleware = _Counting(DomainDispatcherApplication(create_backend_app))

    class _Server(ThreadedMotoServer):
        def _server_entry(self) -> None:
            self._server = make_server(
                self._ip_address,
                self._port,
                middleware,
                True,
                request_handler=MotoRequestHandler,
            )
            self._server_ready_event.set()
            self._server.serve_forever()

    server = _Server(ip_address=host, port=port, verbose=False)
    server.start()
    bound_host, bound = server.get_host_and_port()
    return MotoServer(
        server=server, endpoint_url=f"http://{bound_host}:{bound}", middleware=middleware
    )
