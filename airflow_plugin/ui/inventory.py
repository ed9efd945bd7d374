"""What the Secrets page shows: every secret the configured backend serves, with its
rotation state and audit verdict, and the health of the backend's cache and agent.

Metadata only. Secrets are listed (ListSecrets) under each connection and variable
prefix, plus the secret ids of the backend's ``connections`` kwarg; each is audited with
:mod:`pipeline_secrets.tools.audit` (DescribeSecret, ListSecretVersionIds,
GetResourcePolicy), through the backend's own source, so its AWS settings, its agent
and its counters are the page's. No value is ever read by the page; "refresh now"
(``actions.py``) reads one into the backend's cache and returns its version id only.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from pipeline_secrets.errors import SecretError
from pipeline_secrets.model import AWSCURRENT
from pipeline_secrets.source import SecretSource
from pipeline_secrets.tools.audit import PolicySet, SecretAudit, audit_one

log = logging.getLogger(__name__)

KINDS = ("connections", "variables")


@dataclass
class SecretRow:
    """One secret on the page. Never a value."""

    name: str
    kind: str  # "connection" | "variable"
    key: str  # the conn id or variable key Airflow asks for
    last_rotation: str | None  # when the AWSCURRENT version was created (ISO 8601)
    rotation_enabled: bool
    rotation_schedule: str | None
    next_rotation: str | None
    pending_version: str | None
    audit_status: str  # "ok" | "WARN" | "FAIL" | "ERROR"
    findings: list[dict[str, str]] = field(default_factory=list)
    cached: bool = False  # an AWSCURRENT copy sits in this process's cache
    used_by: list[str] = field(default_factory=list)  # "dag_id.task_id", where knowable


@dataclass
class Inventory:
    secrets: list[SecretRow]
    prefixes: dict[str, list[str]]  # kind -> the name prefixes listed
    errors: dict[str, str]  # prefix or secret -> error text (no value)
    health: dict[str, Any]
    policy: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def secret_prefixes(backend: Any) -> dict[str, list[str]]:
    """Name prefixes per kind (``airflow/connections/``), fallback prefixes included."""
    o = backend.options
    return {kind: [f"{p}{o.sep}" for p in o.prefixes(kind) if p] for kind in KINDS}


def explicit_connection_secrets(backend: Any) -> dict[str, str]:
    """secret id -> conn id, from the backend's ``connections`` kwarg."""
    return {
        str(spec["secret_id"]): conn_id
        for conn_id, spec in (backend.options.connections or {}).items()
        if spec and spec.get("secret_id")
    }


def served_name(backend: Any, name: str) -> tuple[str, str] | None:
    """``(kind, key)`` when ``name`` is a secret the backend serves, else None."""
    explicit = explicit_connection_secrets(backend)
    if name in explicit:
        return "connection", explicit[name]
    for kind, prefixes in secret_prefixes(backend).items():
        for prefix in prefixes:
            if name.startswith(prefix) and len(name) > len(prefix):
                return kind[:-1], name[len(prefix) :]
    return None


def build_inventory(
    backend: Any,
    policy: PolicySet,
    *,
    now: datetime | None = None,
    usage: Mapping[str, list[str]] | None = None,
) -> Inventory:
    """List, audit and describe every secret ``backend`` serves."""
    now = now or datetime.now(timezone.utc)
    source: SecretSource = backend.cache.source
    prefixes = secret_prefixes(backend)
    errors: dict[str, str] = {}
    names: dict[str, tuple[str, str]] = {}
    for kind, kind_prefixes in prefixes.items():
        for prefix in kind_prefixes:
            try:
                for entry in source.list_secrets(prefix):
                    name = str(entry["Name"])
                    names.setdefault(name, (kind[:-1], name[len(prefix) :]))
            except SecretError as exc:
                errors[prefix] = str(exc)
    for name, conn_id in explicit_connection_secrets(backend).items():
        names.setdefault(name, ("connection", conn_id))
    rows = []
    for name, (kind, key) in sorted(names.items()):
        try:
            audit = audit_one(source, name, policy, now)
        except SecretError as exc:
            errors[name] = str(exc)
            rows.append(_error_row(name, kind, key))
            continue
        if audit is None:
            continue  # the audit policy excludes it
        row = _row(audit, kind, key)
        row.cached = backend.cache.cached_value(name, AWSCURRENT) is not None
        row.used_by = list((usage or {}).get(f"{kind}:{key}", []))
        rows.append(row)
    return Inventory(
        secrets=rows,
        prefixes=prefixes,
        errors=errors,
        health=health(backend),
        policy=asdict(policy),
    )


# SecretAudit fields the page shows as they are, under the same names.
_AUDIT_FIELDS = (
    "name",
    "rotation_enabled",
    "rotation_schedule",
    "next_rotation",
    "pending_version",
)


def _row(audit: SecretAudit, kind: str, key: str) -> SecretRow:
    return SecretRow(
        kind=kind,
        key=key,
        last_rotation=audit.current_created,
        audit_status=audit.status,
        findings=[asdict(finding) for finding in audit.findings],
        **{name: getattr(audit, name) for name in _AUDIT_FIELDS},
    )


def _error_row(name: str, kind: str, key: str) -> SecretRow:
    return SecretRow(
        name=name,
        kind=kind,
        key=key,
        last_rotation=None,
        rotation_enabled=False,
        rotation_schedule=None,
        next_rotation=None,
        pending_version=None,
        audit_status="ERROR",
    )


def health(backend: Any) -> dict[str, Any]:
    """The backend cache's counters, when it last fetched, and the agent's state."""
    cache = backend.cache
    counters = cache.stats.snapshot()
    last = cache.stats.last_times()
    fetched = [last[k] for k in ("misses", "refreshes") if k in last]
    report: dict[str, Any] = {
        "cache": counters,
        "last_fetch": _iso(max(fetched)) if fetched else None,
        "last_api_call": _iso(last["api_call"]) if "api_call" in last else None,
        "agent": agent_health(cache.source),
    }
    return report


def agent_health(source: Any) -> dict[str, Any] | None:
    """None without an agent; else its address, whether it answers, and its counters."""
    agent = getattr(source, "agent", None)
    if agent is None:
        return None
    state: dict[str, Any] = {"address": str(getattr(agent, "address", "?")), "up": False}
    try:
        state["up"] = bool(agent.ping())
        if state["up"]:
            state["stats"] = _numbers_only(agent.stats())
    except SecretError as exc:
        state["error"] = type(exc).__name__
    return state


def _numbers_only(data: Any) -> Any:
    """The agent's counters, keeping numbers and nested counters (defensive: no text)."""
    if isinstance(data, Mapping):
        kept = {str(k): _numbers_only(v) for k, v in data.items()}
        return {k: v for k, v in kept.items() if v is not None}
    if isinstance(data, bool | int | float):
        return data
    return None


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).isoformat()


def policy_from_config(text: str | None) -> PolicySet:
    """The page's audit policy: a JSON object, a path to a policy file, or defaults."""
    if not text or not text.strip():
        return PolicySet()
    stripped = text.strip()
    if stripped.startswith("{"):
        return PolicySet.from_mapping(json.loads(stripped))
    return PolicySet.from_file(stripped)


def usage_from_dags(rows: Iterable[tuple[str, str, Mapping[str, Any]]]) -> dict[str, list[str]]:
    """``"connection:<conn id>" -> ["dag.task", ...]`` from (dag id, task id, task fields):
    any string field named like ``*conn_id`` names a connection."""
    usage: dict[str, list[str]] = {}
    for dag_id, task_id, fields_ in rows:
        for name, value in fields_.items():
            if name.endswith("conn_id") and isinstance(value, str) and value:
                usage.setdefault(f"connection:{value}", []).append(f"{dag_id}.{task_id}")
    return usage
