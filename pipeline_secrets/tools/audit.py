"""Compliance audit of secrets: rotation, stuck rotations, replication, resource policy.

Usable from the ``pipeline-secrets audit`` command and from code (an Airflow DAG):

    report = audit_secrets(SecretsManagerSource(), ["airflow/", "db/"], AuditPolicy())
    if report.failed: ...

Reads metadata only (ListSecrets, DescribeSecret, ListSecretVersionIds,
GetResourcePolicy); never a secret value.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from pipeline_secrets.errors import SecretError, SecretNotFoundError
from pipeline_secrets.model import AWSCURRENT, AWSPENDING
from pipeline_secrets.source import SecretsManagerSource

FAIL = "fail"
WARN = "warn"


@dataclass(frozen=True)
class AuditPolicy:
    """What counts as a failure. Read from a file with :meth:`from_file`."""

    require_rotation: bool = True
    max_days_since_rotation: float | None = None  # None: not checked
    overdue_grace_days: float = 1.0  # NextRotationDate further in the past: overdue
    pending_grace_minutes: float = 30.0  # older AWSPENDING (not AWSCURRENT): stuck
    require_replica_regions: tuple[str, ...] = ()
    fail_on_replication_error: bool = True
    require_resource_policy: bool = False
    warn_only: tuple[str, ...] = ()  # rule names reported as warnings, not failures

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> AuditPolicy:
        known = {f.name: f for f in fields(cls)}
        values: dict[str, Any] = {}
        for raw_key, raw in data.items():
            key = raw_key.strip().replace("-", "_")
            if key not in known:
                raise ValueError(f"unknown audit policy setting {raw_key!r}")
            default = getattr(cls(), key)
            values[key] = _coerce(key, raw, default)
        return cls(**values)

    @classmethod
    def from_file(cls, path: str | Path) -> AuditPolicy:
        """JSON (an object), or lines of ``key = value`` (``#`` comments; lists comma
        separated; true/false; numbers; ``none``)."""
        text = Path(path).read_text()
        if text.lstrip().startswith("{"):
            data = json.loads(text)
            if not isinstance(data, dict):
                raise ValueError(f"{path}: expected a JSON object")
            return cls.from_mapping(data)
        pairs: dict[str, str] = {}
        for number, line in enumerate(text.splitlines(), 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            key, sep, value = line.partition("=")
            if not sep:
                key, sep, value = line.partition(":")
            if not sep:
                raise ValueError(f"{path}:{number}: expected 'key = value'")
            pairs[key.strip()] = value.strip()
        return cls.from_mapping(pairs)


def _coerce(key: str, raw: Any, default: Any) -> Any:
    if isinstance(default, bool):
        if isinstance(raw, bool):
            return raw
        lowered = str(raw).strip().lower()
        if lowered in {"true", "yes", "1", "on"}:
            return True
        if lowered in {"false", "no", "0", "off"}:
            return False
        raise ValueError(f"audit policy {key}: expected true/false")
    if isinstance(default, tuple):
        items = raw if isinstance(raw, list | tuple) else str(raw).split(",")
        return tuple(str(i).strip() for i in items if str(i).strip())
    if raw is None or str(raw).strip().lower() in {"none", "null", ""}:
        return None
    try:
        return float(raw)
    except (TypeError, ValueError):
        raise ValueError(f"audit policy {key}: expected a number") from None


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str  # "fail" or "warn"
    message: str


@dataclass
class SecretAudit:
    name: str
    arn: str
    rotation_enabled: bool
    rotation_lambda: str | None
    rotation_schedule: str | None
    last_rotated: str | None
    next_rotation: str | None
    pending_version: str | None
    pending_age_minutes: float | None
    replication: list[dict[str, str]]
    resource_policy: bool | None  # None: could not be read
    findings: list[Finding] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(f.severity == FAIL for f in self.findings)

    @property
    def status(self) -> str:
        if self.failed:
            return "FAIL"
        return "WARN" if self.findings else "ok"


@dataclass
class AuditReport:
    secrets: list[SecretAudit]
    errors: dict[str, str] = field(default_factory=dict)  # secret or prefix -> error

    @property
    def failed(self) -> bool:
        return any(s.failed for s in self.secrets)

    def to_json(self) -> str:
        return json.dumps(
            {
                "secrets": [
                    {**asdict(s), "status": s.status, "failed": s.failed} for s in self.secrets
                ],
                "errors": self.errors,
                "failed": self.failed,
            },
            indent=2,
            sort_keys=False,
        )

    def to_table(self) -> str:
        headers = (
            "secret",
            "status",
            "rotation",
            "last rotated",
            "next",
            "pending",
            "replicas",
            "policy",
        )
        rows = [headers]
        for s in self.secrets:
            rows.append(
                (
                    s.name,
                    s.status,
                    "on" if s.rotation_enabled else "off",
                    (s.last_rotated or "-")[:10],
                    (s.next_rotation or "-")[:10],
                    "STUCK"
                    if any(f.rule == "stuck-pending" for f in s.findings)
                    else ("yes" if s.pending_version else "-"),
                    ",".join(f"{r['Region']}:{r.get('Status', '?')}" for r in s.replication) or "-",
                    {True: "yes", False: "no", None: "?"}[s.resource_policy],
                )
            )
        widths = [max(len(str(row[i])) for row in rows) for i in range(len(headers))]
        lines = [
            "  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip()
            for row in rows
        ]
        for s in self.secrets:
            for f in s.findings:
                lines.append(f"{f.severity.upper()} {s.name}: [{f.rule}] {f.message}")
        for where, message in self.errors.items():
            lines.append(f"ERROR {where}: {message}")
        return "\n".join(lines)


def audit_secrets(
    source: SecretsManagerSource,
    prefixes: Sequence[str],
    policy: AuditPolicy | None = None,
    *,
    now: datetime | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> AuditReport:
    """Audit every secret whose name starts with one of ``prefixes`` (all if empty)."""
    policy = policy or AuditPolicy()
    now = now or datetime.now(timezone.utc)
    names: list[str] = []
    report = AuditReport(secrets=[])
    for prefix in prefixes or [""]:
        try:
            names.extend(str(e["Name"]) for e in source.list_secrets(prefix or None))
        except SecretError as exc:
            report.errors[prefix or "*"] = str(exc)
    names = list(dict.fromkeys(names))
    for index, name in enumerate(names, 1):
        if progress is not None:
            progress(index, len(names), name)
        try:
            report.secrets.append(audit_one(source, name, policy, now))
        except SecretError as exc:
            report.errors[name] = str(exc)
    return report


def audit_one(
    source: SecretsManagerSource, name: str, policy: AuditPolicy, now: datetime
) -> SecretAudit:
    described = source.describe_secret(name)
    stages: Mapping[str, Iterable[str]] = described.get("VersionIdsToStages") or {}
    pending = next((v for v, s in stages.items() if AWSPENDING in s and AWSCURRENT not in s), None)
    pending_age = _pending_age_minutes(source, name, pending, now) if pending else None
    rules = described.get("RotationRules") or {}
    schedule = rules.get("ScheduleExpression") or (
        f"every {rules['AutomaticallyAfterDays']} days"
        if rules.get("AutomaticallyAfterDays")
        else None
    )
    audit = SecretAudit(
        name=name,
        arn=str(described.get("ARN", "")),
        rotation_enabled=bool(described.get("RotationEnabled")),
        rotation_lambda=described.get("RotationLambdaARN"),
        rotation_schedule=schedule,
        last_rotated=_iso(described.get("LastRotatedDate")),
        next_rotation=_iso(described.get("NextRotationDate")),
        pending_version=pending,
        pending_age_minutes=pending_age,
        replication=[
            {k: str(v) for k, v in r.items() if k in {"Region", "Status", "StatusMessage"}}
            for r in described.get("ReplicationStatus") or []
        ],
        resource_policy=_has_resource_policy(source, name),
    )
    audit.findings = evaluate(audit, described, policy, now)
    return audit


def evaluate(
    audit: SecretAudit, described: Mapping[str, Any], policy: AuditPolicy, now: datetime
) -> list[Finding]:
    found: list[Finding] = []

    def add(rule: str, message: str, severity: str = FAIL) -> None:
        if rule in policy.warn_only:
            severity = WARN
        found.append(Finding(rule, severity, message))

    if policy.require_rotation and not audit.rotation_enabled:
        add("rotation-disabled", "automatic rotation is not enabled")
    last = described.get("LastRotatedDate")
    if policy.max_days_since_rotation is not None and audit.rotation_enabled:
        reference = last or described.get("CreatedDate")
        if isinstance(reference, datetime):
            age = (now - _aware(reference)).total_seconds() / 86400
            if age > policy.max_days_since_rotation:
                add(
                    "rotation-age",
                    f"last rotated {age:.0f} days ago (limit {policy.max_days_since_rotation:g})",
                )
    next_date = described.get("NextRotationDate")
    if audit.rotation_enabled and isinstance(next_date, datetime):
        late = now - _aware(next_date)
        if late > timedelta(days=policy.overdue_grace_days):
            add("rotation-overdue", f"next rotation was due {late.days} day(s) ago")
    if audit.pending_version is not None:
        age = audit.pending_age_minutes or 0.0
        if age >= policy.pending_grace_minutes:
            add(
                "stuck-pending",
                f"version {audit.pending_version} has been AWSPENDING for "
                f"{age:.0f} min without becoming AWSCURRENT (a rotation failed half-way)",
            )
        else:
            add("rotation-in-progress", f"version {audit.pending_version} is AWSPENDING", WARN)
    regions = {r.get("Region", "?"): r for r in audit.replication}
    for region in policy.require_replica_regions:
        if region not in regions:
            add("replica-missing", f"no replica in {region}")
    if policy.fail_on_replication_error:
        for region, status in regions.items():
            if status.get("Status") not in {"InSync", None}:
                add(
                    "replication-error",
                    f"replica {region} is {status.get('Status')}: "
                    f"{status.get('StatusMessage', '')}".rstrip(": "),
                )
    if policy.require_resource_policy and audit.resource_policy is False:
        add("no-resource-policy", "no resource policy is attached")
    return found


def _pending_age_minutes(
    source: SecretsManagerSource, name: str, version: str, now: datetime
) -> float | None:
    def call(client: Any) -> dict[str, Any]:
        return dict(client.list_secret_version_ids(SecretId=name, IncludeDeprecated=False))

    for entry in source._call("ListSecretVersionIds", name, call).get("Versions", []):
        if entry.get("VersionId") == version and isinstance(entry.get("CreatedDate"), datetime):
            return max(0.0, (now - _aware(entry["CreatedDate"])).total_seconds() / 60)
    return None


def _has_resource_policy(source: SecretsManagerSource, name: str) -> bool | None:
    def call(client: Any) -> dict[str, Any]:
        return dict(client.get_resource_policy(SecretId=name))

    try:
        return bool(source._call("GetResourcePolicy", name, call).get("ResourcePolicy"))
    except SecretNotFoundError:
        raise
    except SecretError:
        return None  # not allowed to read it: reported as unknown


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _iso(value: Any) -> str | None:
    return _aware(value).isoformat() if isinstance(value, datetime) else None
