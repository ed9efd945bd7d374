"""Compliance audit of secrets: rotation, stuck rotations, replication, resource policy.

Usable from the ``pipeline-secrets audit`` command and from code (an Airflow DAG):

    report = audit_secrets(SecretsManagerSource(), ["airflow/", "db/"])  # kind defaults
    report = audit_secrets(source, prefixes, PolicySet.from_file("audit-policy.json"))
    if report.failed: ...

Each secret gets the policy of its kind (database credentials, API tokens, Variables,
other; see :mod:`pipeline_secrets.tools.audit_policy`), narrowed by prefix/tag rules;
excluded secrets are listed, not audited. A rotation by any means counts
(:func:`pipeline_secrets.versions.last_rotated`). The age rule applies whether or not
automatic rotation is on.

Reads metadata only (ListSecrets, DescribeSecret, ListSecretVersionIds,
GetResourcePolicy); never a secret value.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from pipeline_secrets.errors import SecretError, SecretNotFoundError
from pipeline_secrets.model import AWSPENDING
from pipeline_secrets.source import SecretSource
from pipeline_secrets.tools.audit_policy import AuditPolicy, PolicySet, tags_of
from pipeline_secrets.versions import (
    aware,
    current_created,
    last_rotated,
    staged_version,
    version_dates,
)

__all__ = ["AuditPolicy", "AuditReport", "PolicySet", "SecretAudit", "audit_secrets"]

FAIL = "fail"
WARN = "warn"


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str  # "fail" or "warn"
    message: str


@dataclass
class SecretAudit:
    name: str
    arn: str
    kind: str
    rotation_enabled: bool
    rotation_lambda: str | None
    rotation_schedule: str | None
    last_rotated: str | None  # None: never rotated (pipeline_secrets.versions.last_rotated)
    next_rotation: str | None
    pending_version: str | None
    pending_age_minutes: float | None
    replication: list[dict[str, str]]
    resource_policy: bool | None  # None: could not be read
    current_created: str | None = None  # when the AWSCURRENT version (the value in use) was made
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
    excluded: list[str] = field(default_factory=list)  # matched the policy's exclusions

    @property
    def failed(self) -> bool:
        return any(s.failed for s in self.secrets)

    @property
    def warned(self) -> bool:
        return any(s.findings for s in self.secrets)

    def to_json(self) -> str:
        return json.dumps(
            {
                "secrets": [
                    {**asdict(s), "status": s.status, "failed": s.failed} for s in self.secrets
                ],
                "errors": self.errors,
                "excluded": self.excluded,
                "failed": self.failed,
                "summary": {
                    "audited": len(self.secrets),
                    "failed": sum(1 for s in self.secrets if s.failed),
                    "warned": sum(1 for s in self.secrets if s.status == "WARN"),
                    "excluded": len(self.excluded),
                    "errors": len(self.errors),
                },
            },
            indent=2,
            sort_keys=False,
        )

    def to_table(self) -> str:
        headers = (
            "secret",
            "kind",
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
                    s.kind,
                    s.status,
                    "on" if s.rotation_enabled else "off",
                    (s.last_rotated or "never")[:10],
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
        if self.excluded:
            lines.append(f"excluded by the policy: {', '.join(self.excluded)}")
        return "\n".join(lines)


def audit_secrets(
    source: SecretSource,
    prefixes: Sequence[str],
    policy: AuditPolicy | PolicySet | None = None,
    *,
    now: datetime | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> AuditReport:
    """Audit every secret whose name starts with one of ``prefixes`` (all if empty).

    ``policy``: a :class:`PolicySet` (default: the kind defaults), or one
    :class:`AuditPolicy` for every secret whatever its kind."""
    if isinstance(policy, AuditPolicy):
        policy = PolicySet.uniform(policy)
    policy = policy or PolicySet()
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
            audited = audit_one(source, name, policy, now)
        except SecretError as exc:
            report.errors[name] = str(exc)
            continue
        if audited is None:
            report.excluded.append(name)
        else:
            report.secrets.append(audited)
    return report


def audit_one(
    source: SecretSource, name: str, policies: PolicySet, now: datetime
) -> SecretAudit | None:
    """One secret's audit, or None when the policy excludes it."""
    described = source.describe_secret(name)
    tags = tags_of(described)
    if policies.excluded(name, tags):
        return None
    kind = policies.kind_of(name, described, tags)
    policy = policies.policy_for(name, tags, kind)
    pending = staged_version(described, AWSPENDING)
    versions = version_dates(source, name)
    pending_age = _age_minutes(versions.get(pending), now) if pending else None
    rules = described.get("RotationRules") or {}
    schedule = rules.get("ScheduleExpression") or (
        f"every {rules['AutomaticallyAfterDays']} days"
        if rules.get("AutomaticallyAfterDays")
        else None
    )
    audit = SecretAudit(
        name=name,
        arn=str(described.get("ARN", "")),
        kind=kind,
        rotation_enabled=bool(described.get("RotationEnabled")),
        rotation_lambda=described.get("RotationLambdaARN"),
        rotation_schedule=schedule,
        last_rotated=_iso(last_rotated(described, versions)),
        current_created=_iso(current_created(described, versions)),
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
    if policy.max_days_since_rotation is not None:
        # Whether or not automatic rotation is on: a never-rotated secret ages too.
        rotated = audit.last_rotated is not None
        reference = (
            datetime.fromisoformat(audit.last_rotated)
            if audit.last_rotated
            else described.get("CreatedDate")
        )
        if isinstance(reference, datetime):
            age = (now - aware(reference)).total_seconds() / 86400
            if age > policy.max_days_since_rotation:
                what = "last rotated" if rotated else "created, never rotated,"
                add(
                    "rotation-age",
                    f"{what} {age:.0f} days ago (limit {policy.max_days_since_rotation:g})",
                )
    next_date = described.get("NextRotationDate")
    if audit.rotation_enabled and isinstance(next_date, datetime):
        late = now - aware(next_date)
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


def _age_minutes(created: datetime | None, now: datetime) -> float | None:
    if created is None:
        return None
    return max(0.0, (now - created).total_seconds() / 60)


def _has_resource_policy(source: SecretSource, name: str) -> bool | None:
    def call(client: Any) -> dict[str, Any]:
        return dict(client.get_resource_policy(SecretId=name))

    try:
        return bool(source.call("GetResourcePolicy", name, call).get("ResourcePolicy"))
    except SecretNotFoundError:
        raise
    except SecretError:
        return None  # not allowed to read it: reported as unknown


def _iso(value: Any) -> str | None:
    return aware(value).isoformat() if isinstance(value, datetime) else None
