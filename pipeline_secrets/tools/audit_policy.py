"""What the audit requires of each secret: rules per kind of secret (database
credentials, API tokens, Airflow Variables, other), narrowed by prefix/tag rules, with
exclusions. Everything is decided from metadata (name, tags, owning service, rotation
settings), never from a value.

Policy file (JSON)::

    {"kinds": {"database": {"max_days_since_rotation": 30}},
     "rules": [{"prefix": "prod/", "tag": "team=etl", "require_replica_regions": ["eu-west-1"]}],
     "exclude": ["airflow/variables/ui_*", "tag:audit=skip"],
     "kind_patterns": {"database": ["airflow/connections/*_db"]},
     "warn_only": ["rotation-age"]}

Top-level settings (like ``warn_only`` above, or a whole old-style flat file) apply to
every kind; ``kinds`` then ``rules`` (in order, every match applies) override them.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

KINDS = ("database", "api-token", "variable", "other")
KIND_TAGS = ("pipeline-secrets:kind", "secret-kind")
_DATABASE_WORDS = re.compile(
    r"(?i)(?:^|[/_\-.!])(?:db|database|rds|redshift|postgres(?:ql)?|pg|mysql|mariadb|aurora|"
    r"oracle|sqlserver|mssql|warehouse|jdbc)(?:[/_\-.]|$)"
)
_TOKEN_WORDS = re.compile(r"(?i)(?:token|api|key|webhook|oauth|credential|connections/)")


@dataclass(frozen=True)
class AuditPolicy:
    """What counts as a failure for one secret."""

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
        return cls().updated(data)

    def updated(self, data: Mapping[str, Any]) -> AuditPolicy:
        """This policy with the settings in ``data`` changed (names checked)."""
        known = {f.name for f in fields(self)}
        values: dict[str, Any] = {}
        for raw_key, raw in data.items():
            key = raw_key.strip().replace("-", "_")
            if key not in known:
                raise ValueError(f"unknown audit policy setting {raw_key!r}")
            values[key] = _coerce(key, raw, getattr(AuditPolicy(), key))
        return replace(self, **values)

    @classmethod
    def from_file(cls, path: str | Path) -> AuditPolicy:
        """JSON (an object), or lines of ``key = value``."""
        return cls.from_mapping(read_policy_file(path))


DEFAULT_KIND_POLICIES: dict[str, AuditPolicy] = {
    # Database credentials: rotated, and at least every 90 days.
    "database": AuditPolicy(require_rotation=True, max_days_since_rotation=90),
    # API tokens often cannot rotate automatically: no older than a year.
    "api-token": AuditPolicy(require_rotation=False, max_days_since_rotation=365),
    # Variables are configuration: stuck rotations, replicas and policies only.
    "variable": AuditPolicy(require_rotation=False),
    "other": AuditPolicy(require_rotation=False),
}


@dataclass(frozen=True)
class PolicyRule:
    """Settings for secrets whose name starts with ``prefix`` and/or that carry ``tag``
    (``key`` or ``key=value``) and/or are of ``kind``."""

    settings: Mapping[str, Any]
    prefix: str | None = None
    tag: str | None = None
    kind: str | None = None

    def matches(self, name: str, tags: Mapping[str, str], kind: str) -> bool:
        if self.prefix is not None and not name.startswith(self.prefix):
            return False
        if self.kind is not None and self.kind != kind:
            return False
        return self.tag is None or _has_tag(tags, self.tag)


@dataclass(frozen=True)
class PolicySet:
    """The policy for every secret: per kind, then per matching rule; exclusions."""

    base: Mapping[str, Any] = field(default_factory=dict)  # settings for every kind
    kinds: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    rules: tuple[PolicyRule, ...] = ()
    exclude: tuple[str, ...] = ()  # name globs, or "tag:key[=value]"
    kind_patterns: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> PolicySet:
        data = dict(data)
        kinds = data.pop("kinds", None) or {}
        rules = data.pop("rules", None) or []
        exclude = data.pop("exclude", None) or []
        patterns = data.pop("kind_patterns", None) or {}
        if not isinstance(kinds, Mapping) or any(k not in KINDS for k in kinds):
            raise ValueError(f"audit policy kinds: expected an object with keys from {KINDS}")
        if not isinstance(patterns, Mapping) or any(k not in KINDS for k in patterns):
            raise ValueError(f"audit policy kind_patterns: keys must be from {KINDS}")
        parsed_rules = []
        for index, raw in enumerate(rules if isinstance(rules, list) else [None]):
            if not isinstance(raw, Mapping):
                raise ValueError(f"audit policy rules[{index}]: expected an object")
            settings = dict(raw)
            match = {k: settings.pop(k, None) for k in ("prefix", "tag", "kind")}
            if match["kind"] is not None and match["kind"] not in KINDS:
                raise ValueError(f"audit policy rules[{index}]: unknown kind {match['kind']!r}")
            parsed_rules.append(PolicyRule(settings, **match))
        policy_set = cls(
            base=data,
            kinds={k: dict(v) for k, v in kinds.items()},
            rules=tuple(parsed_rules),
            exclude=tuple(str(e) for e in _as_list(exclude)),
            kind_patterns={k: tuple(str(p) for p in _as_list(v)) for k, v in patterns.items()},
        )
        policy_set.validate()
        return policy_set

    @classmethod
    def from_file(cls, path: str | Path) -> PolicySet:
        return cls.from_mapping(read_policy_file(path))

    @classmethod
    def uniform(cls, policy: AuditPolicy) -> PolicySet:
        """One policy for every secret, whatever its kind (the pre-kinds behaviour)."""
        settings = {f.name: getattr(policy, f.name) for f in fields(policy)}
        return cls(base=settings, kinds={k: settings for k in KINDS})

    def validate(self) -> None:
        """Raise ValueError for an unknown setting anywhere (before any secret is read)."""
        for kind in KINDS:
            self.policy_for("", {}, kind)
        for rule in self.rules:
            AuditPolicy().updated(rule.settings)

    def excluded(self, name: str, tags: Mapping[str, str]) -> bool:
        for pattern in self.exclude:
            if pattern.startswith("tag:"):
                if _has_tag(tags, pattern[4:]):
                    return True
            elif fnmatch.fnmatchcase(name, pattern):
                return True
            elif pattern.endswith("/") and name.startswith(pattern):
                return True  # a prefix
        return False

    def kind_of(self, name: str, described: Mapping[str, Any], tags: Mapping[str, str]) -> str:
        for key in KIND_TAGS:
            if tags.get(key) in KINDS:
                return tags[key]
        for kind, patterns in self.kind_patterns.items():
            if any(fnmatch.fnmatchcase(name, p) for p in patterns):
                return kind
        return default_kind(name, described)

    def policy_for(self, name: str, tags: Mapping[str, str], kind: str) -> AuditPolicy:
        policy = DEFAULT_KIND_POLICIES[kind].updated(self.base).updated(self.kinds.get(kind, {}))
        for rule in self.rules:
            if rule.matches(name, tags, kind):
                policy = policy.updated(rule.settings)
        return policy


def default_kind(name: str, described: Mapping[str, Any]) -> str:
    """Metadata only: Variables by prefix; databases by owning service, a rotation
    Lambda or a database word in the name; API tokens by name; the rest "other"."""
    if "/variables/" in f"/{name}" or name.startswith("variables/"):
        return "variable"
    if described.get("OwningService") or name.startswith("rds!"):
        return "database"
    if described.get("RotationLambdaARN") or _DATABASE_WORDS.search(name):
        return "database"
    if _TOKEN_WORDS.search(name):
        return "api-token"
    return "other"


def tags_of(described: Mapping[str, Any]) -> dict[str, str]:
    return {str(t.get("Key")): str(t.get("Value", "")) for t in described.get("Tags") or []}


def _has_tag(tags: Mapping[str, str], spec: str) -> bool:
    key, sep, value = spec.partition("=")
    return key in tags and (not sep or tags[key] == value)


def _as_list(value: Any) -> Iterable[Any]:
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return list(value)


def read_policy_file(path: str | Path) -> dict[str, Any]:
    """JSON (an object), or lines of ``key = value`` (``#`` comments; lists comma
    separated; true/false; numbers; ``none``)."""
    text = Path(path).read_text()
    if text.lstrip().startswith("{"):
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a JSON object")
        return data
    pairs: dict[str, Any] = {}
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
    return pairs


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
