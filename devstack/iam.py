"""Record the AWS API calls code makes, and check them against IAM policy documents.

``ApiCallRecorder`` hooks botocore's ``before-parameter-build`` event on every client created
while it is active (so it also sees clients built inside the library), recording
``service:Operation`` and the secret(s) named. ``PolicyDocument`` is a small IAM
evaluator for the policies in ``docs/iam/``: Allow/Deny statements, ``Action`` and
``Resource`` wildcards (``*``, ``?``), ``NotAction``/``NotResource`` are rejected
(not used there). Conditions are not evaluated (ours only narrow KMS use to
Secrets Manager).

For calls made by child processes (Airflow task runners, Spark drivers), point them
at a ``devstack.faults.FaultProxy`` and read ``proxy.calls`` instead.
"""

from __future__ import annotations

import fnmatch
import json
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ACCOUNT = "123456789012"
SECRET_ARN = "arn:aws:secretsmanager:{region}:{account}:secret:{name}-AbCdEf"
POLICY_DIR = Path(__file__).resolve().parents[1] / "docs" / "iam"


@dataclass(frozen=True)
class ApiCall:
    action: str  # e.g. "secretsmanager:GetSecretValue"
    resources: tuple[str, ...]  # ARNs, or ("*",) for calls on no particular secret
    region: str


def secret_arn(secret_id: str, region: str, account: str = ACCOUNT) -> str:
    if secret_id.startswith("arn:"):
        return secret_id
    return SECRET_ARN.format(region=region, account=account, name=secret_id)


class ApiCallRecorder:
    """Records every botocore API call made while active (``with recorder.active():``)."""

    def __init__(self) -> None:
        self.calls: list[ApiCall] = []
        self._lock = threading.Lock()

    def _on_call(self, model: Any, params: Any, context: Any = None, **_: Any) -> None:
        service = model.service_model.signing_name or model.service_model.endpoint_prefix
        action = f"{service}:{model.name}"
        region = (context or {}).get("client_region") or "us-east-1"
        ids: list[str] = []
        if isinstance(params, dict):
            if isinstance(params.get("SecretId"), str):
                ids.append(params["SecretId"])
            ids.extend(str(s) for s in params.get("SecretIdList") or [])
            if isinstance(params.get("Name"), str) and model.name == "CreateSecret":
                ids.append(params["Name"])
        resources = tuple(secret_arn(i, region) for i in ids) or ("*",)
        with self._lock:
            self.calls.append(ApiCall(action, resources, region))

    @contextmanager
    def active(self) -> Iterator[ApiCallRecorder]:
        import botocore.session

        original = botocore.session.Session.create_client
        recorder = self

        def create_client(session: Any, *args: Any, **kwargs: Any) -> Any:
            client = original(session, *args, **kwargs)
            region = client.meta.region_name

            def hook(model: Any, params: Any, **rest: Any) -> None:
                recorder._on_call(model, params, context={"client_region": region})

            client.meta.events.register("before-parameter-build", hook)
            return client

        setattr(botocore.session.Session, "create_client", create_client)  # noqa: B010
        try:
            yield self
        finally:
            setattr(botocore.session.Session, "create_client", original)  # noqa: B010

    def actions(self) -> set[str]:
        with self._lock:
            return {c.action for c in self.calls}


@dataclass(frozen=True)
class Statement:
    effect: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]

    def matches(self, action: str, resource: str) -> bool:
        return any(_match(p, action, ignore_case=True) for p in self.actions) and any(
            _match(p, resource) for p in self.resources
        )


def _match(pattern: str, value: str, ignore_case: bool = False) -> bool:
    if ignore_case:
        pattern, value = pattern.lower(), value.lower()
    # IAM wildcards: * any run (also across ':' and '/'), ? one character. No [..].
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


class PolicyDocument:
    def __init__(self, document: dict[str, Any], name: str = "policy") -> None:
        self.name = name
        statements = document.get("Statement", [])
        if isinstance(statements, dict):
            statements = [statements]
        self.statements: list[Statement] = []
        for st in statements:
            if "NotAction" in st or "NotResource" in st:
                raise ValueError(f"{name}: NotAction/NotResource are not supported here")
            self.statements.append(
                Statement(st["Effect"], _tuple(st["Action"]), _tuple(st.get("Resource", "*")))
            )

    @classmethod
    def load(cls, name: str) -> PolicyDocument:
        path = POLICY_DIR / (name if name.endswith(".json") else f"{name}.json")
        return cls(json.loads(path.read_text()), path.name)

    def allows(self, action: str, resource: str = "*") -> bool:
        if any(s.effect == "Deny" and s.matches(action, resource) for s in self.statements):
            return False
        return any(s.effect == "Allow" and s.matches(action, resource) for s in self.statements)

    def denied(self, calls: Iterable[ApiCall]) -> list[tuple[str, str]]:
        """The (action, resource) pairs of ``calls`` this policy does not allow.

        BatchGetSecretValue also needs GetSecretValue on every secret it returns; a
        caller passes those as separate GetSecretValue calls (see ``implied_calls``).
        """
        return sorted(
            {(c.action, r) for c in calls for r in c.resources if not self.allows(c.action, r)}
        )


def implied_calls(names: Iterable[str], region: str = "us-east-1") -> list[ApiCall]:
    """GetSecretValue permissions a BatchGetSecretValue needs for the secrets it read."""
    return [
        ApiCall("secretsmanager:GetSecretValue", (secret_arn(n, region),), region) for n in names
    ]


def _tuple(value: str | list[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)
