"""When a secret's versions were made, and when its value last changed.

The one place that reads ``ListSecretVersionIds`` and decides what counts as a
rotation, for the audit, the Airflow Secrets page and the freshness sensor. Metadata
only: never a secret value.

A rotation by any means counts: our local runner and a manual ``PutSecretValue`` move
AWSCURRENT to a new version without setting ``LastRotatedDate``, so the AWSCURRENT
version's creation counts too, as a rotation when an older version exists (the first
version is the secret's creation, not a rotation).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from pipeline_secrets.model import AWSCURRENT, AWSPENDING
from pipeline_secrets.source import SecretSource


def aware(value: datetime) -> datetime:
    """``value`` with UTC as its zone when it has none (boto3 gives aware datetimes;
    some callers and fakes do not)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def version_dates(source: SecretSource, secret_id: str) -> dict[str, datetime]:
    """Version id -> creation time, deprecated (unlabelled) versions included: the
    rotation history. Every page (``ListSecretVersionIds`` has no boto3 paginator)."""
    out: dict[str, datetime] = {}
    token: str | None = None
    while True:

        def call(client: Any, token: str | None = token) -> dict[str, Any]:
            kwargs: dict[str, Any] = {"SecretId": secret_id, "IncludeDeprecated": True}
            if token:
                kwargs["NextToken"] = token
            return dict(client.list_secret_version_ids(**kwargs))

        page = source.call("ListSecretVersionIds", secret_id, call)
        for entry in page.get("Versions", []):
            if isinstance(entry.get("CreatedDate"), datetime):
                out[str(entry["VersionId"])] = aware(entry["CreatedDate"])
        token = page.get("NextToken")
        if not token:
            return out


def staged_version(described: Mapping[str, Any], stage: str = AWSCURRENT) -> str | None:
    """The version id that carries ``stage`` (for AWSPENDING: only while it is not also
    AWSCURRENT, i.e. a rotation under way), from DescribeSecret's ``VersionIdsToStages``."""
    stages: Mapping[str, Iterable[str]] = described.get("VersionIdsToStages") or {}
    for version, labels in stages.items():
        held = set(labels)
        if stage in held and (stage != AWSPENDING or AWSCURRENT not in held):
            return str(version)
    return None


def _rotated_dates(described: Mapping[str, Any]) -> list[datetime]:
    """DescribeSecret's ``LastRotatedDate`` (set by RotateSecret only), if any."""
    last = described.get("LastRotatedDate")
    return [aware(last)] if isinstance(last, datetime) else []


def current_created(
    described: Mapping[str, Any], versions: Mapping[str, datetime]
) -> datetime | None:
    """When the AWSCURRENT version was created: when the value in use was set."""
    current = staged_version(described, AWSCURRENT)
    return versions.get(current) if current else None


def value_changed_at(
    described: Mapping[str, Any], versions: Mapping[str, datetime]
) -> datetime | None:
    """The later of ``LastRotatedDate`` and the AWSCURRENT version's creation: since
    when the value in use has been the same (its creation if it never changed)."""
    candidates = _rotated_dates(described)
    made = current_created(described, versions)
    if made is not None:
        candidates.append(made)
    return max(candidates) if candidates else None


def last_rotated(described: Mapping[str, Any], versions: Mapping[str, datetime]) -> datetime | None:
    """The last rotation, or None for a secret never rotated: the later of
    ``LastRotatedDate`` and the AWSCURRENT version's creation, the latter only when a
    version at least as old exists (a pending version does not count)."""
    candidates = _rotated_dates(described)
    current = staged_version(described, AWSCURRENT)
    pending = staged_version(described, AWSPENDING)
    made = versions.get(current) if current else None
    older = (t for v, t in versions.items() if v not in (current, pending))
    if made is not None and any(t <= made for t in older):
        candidates.append(made)
    return max(candidates) if candidates else None
