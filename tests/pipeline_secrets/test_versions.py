"""pipeline_secrets.versions: version dates from a moto server, and what counts as a
rotation (pure logic on DescribeSecret-shaped dicts)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from pipeline_secrets import SecretsManagerSource
from pipeline_secrets.client import ClientSettings
from pipeline_secrets.versions import (
    current_created,
    last_rotated,
    staged_version,
    value_changed_at,
    version_dates,
)

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def _described(stages: dict[str, list[str]], last: datetime | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"VersionIdsToStages": stages}
    if last is not None:
        out["LastRotatedDate"] = last
    return out


def test_a_created_only_secret_changed_at_creation_but_was_never_rotated() -> None:
    described = _described({"v1": ["AWSCURRENT"]})
    versions = {"v1": T0}
    assert current_created(described, versions) == T0
    assert value_changed_at(described, versions) == T0
    assert last_rotated(described, versions) is None


def test_a_new_current_version_over_an_older_one_is_a_rotation() -> None:
    """Our local runner and a manual PutSecretValue leave no LastRotatedDate."""
    described = _described({"v1": ["AWSPREVIOUS"], "v2": ["AWSCURRENT"]})
    versions = {"v1": T0, "v2": T0 + timedelta(days=3)}
    assert last_rotated(described, versions) == T0 + timedelta(days=3)
    assert value_changed_at(described, versions) == T0 + timedelta(days=3)


def test_a_pending_version_is_not_a_rotation_and_last_rotated_date_counts() -> None:
    described = _described(
        {"v1": ["AWSCURRENT"], "v2": ["AWSPENDING"]}, last=datetime(2026, 1, 2)
    )  # naive: taken as UTC
    versions = {"v1": T0, "v2": T0 + timedelta(days=5)}
    assert staged_version(described, "AWSPENDING") == "v2"
    assert last_rotated(described, versions) == T0 + timedelta(days=1)
    assert value_changed_at(described, versions) == T0 + timedelta(days=1)
    both = _described({"v1": ["AWSCURRENT", "AWSPENDING"]})
    assert staged_version(both, "AWSPENDING") is None  # finished: not a rotation under way


def test_version_dates_lists_every_version_with_deprecated_ones(
    moto: Any, put_secret: Any, secret_value: Any
) -> None:
    for _ in range(4):
        put_secret("app/versions", {"password": secret_value()})
    source = SecretsManagerSource(ClientSettings.create(endpoint_url=moto.endpoint_url))
    dates = version_dates(source, "app/versions")
    described = source.describe_secret("app/versions")
    assert len(dates) == 4
    labelled = {v for v, stages in described["VersionIdsToStages"].items() if stages}
    assert len(labelled) == 2 and labelled < set(dates)  # AWSCURRENT, AWSPREVIOUS
    assert all(d.tzinfo is not None for d in dates.values())
    assert source.stats.api_calls("ListSecretVersionIds") == 1
    assert last_rotated(described, dates) == current_created(described, dates)
