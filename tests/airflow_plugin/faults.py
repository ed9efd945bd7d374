"""Make a real botocore client receive an AWS error response (moto has no IAM or KMS).

The fault is injected at ``before-send``: botocore parses the error body, retries per
its config and raises ClientError exactly as for a response from AWS.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from botocore.awsrequest import AWSResponse


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


class ErrorInjector:
    def __init__(self, code: str, status: int = 400, operation: str = "GetSecretValue") -> None:
        self.code = code
        self.status = status
        self.operation = operation
        self.active = True
        self.hits = 0

    def __call__(self, request: Any, **_: Any) -> AWSResponse | None:
        if not self.active:
            return None
        self.hits += 1
        body = json.dumps({"__type": self.code, "message": f"injected {self.code}"}).encode()
        headers = {"x-amzn-ErrorType": self.code, "Content-Type": "application/x-amz-json-1.1"}
        return AWSResponse(request.url, self.status, headers, _Raw(body))

    def attach(self, client: Any) -> ErrorInjector:
        client.meta.events.register(f"before-send.secrets-manager.{self.operation}", self)
        return self


def inject(backend: Any, code: str, status: int = 400) -> ErrorInjector:
    """Attach a fault to our backend's client (primary region)."""
    client = backend.cache.source.clients.client(None)
    return ErrorInjector(code, status).attach(client)
