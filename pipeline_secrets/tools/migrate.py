"""Move Airflow connections and variables into Secrets Manager.

Sources: ``AIRFLOW_CONN_*`` / ``AIRFLOW_VAR_*`` environment variables (URI or JSON), an
``airflow connections export`` file (JSON, or the ``.env`` format ``conn_id=URI``),
an ``airflow variables export`` JSON file. Targets: ``<connections_prefix><sep><conn_id>``
holding Airflow connection JSON (``conn_type``, ``host``, ``login``, ``password``,
``schema``, ``port``, ``extra``: the shape the secrets backends read) and
``<variables_prefix><sep><key>`` holding the variable's text.

Dry run unless ``apply``. An existing secret is only replaced with ``force``, and only
when migrate created it (tag ``managed-by=pipeline-secrets-migrate``) unless
``force_unmanaged``; never while rotation is enabled or a version is AWSPENDING.
Reports never contain values or input lines: items are named by ``path:line`` or the
environment variable, and by their validated conn id.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from pipeline_secrets.errors import SecretError, SecretNotFoundError
from pipeline_secrets.model import AWSCURRENT, AWSPENDING
from pipeline_secrets.source import SecretsManagerSource, map_client_error

CONN_ENV_PREFIX = "AIRFLOW_CONN_"
VAR_ENV_PREFIX = "AIRFLOW_VAR_"
TAG = {"Key": "managed-by", "Value": "pipeline-secrets-migrate"}
JSON_SCHEMA_VERSION = 1
_REFUSED = {
    "skip-exists",
    "skip-unmanaged",
    "skip-rotating",
    "skip-pending",
    "error",
}


class MigrationInputError(ValueError):
    """An input (environment value or export file) could not be read. Names the item
    (``path:line``, ``env NAME``), never its value."""


@dataclass(frozen=True)
class MigrationItem:
    kind: str  # "connection" or "variable"
    key: str  # conn_id or variable key
    origin: str  # where it came from: "env AIRFLOW_CONN_MY_DB", "conns.env:3", "vars.json"
    secret_name: str
    payload: str = field(repr=False)  # the SecretString to store
    summary: str = ""  # value-free description (conn_type, field names)


@dataclass(frozen=True)
class Outcome:
    item: MigrationItem
    action: str  # create, update, unchanged, skip-*, error (dry run: would-...)
    detail: str = ""
    replaced_version: str | None = None  # the AWSCURRENT version an update replaced
    new_version: str | None = None

    @property
    def ok(self) -> bool:
        return self.action.removeprefix("would-") not in _REFUSED

    def format(self) -> str:
        text = f"{self.action:<18} {self.item.secret_name}  ({self.item.kind} {self.item.key!r} "
        text += f"from {self.item.origin}{': ' + self.item.summary if self.item.summary else ''})"
        return text + (f" - {self.detail}" if self.detail else "")

    def as_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "ok": self.ok,
            "kind": self.item.kind,
            "key": self.item.key,
            "origin": self.item.origin,
            "secret_name": self.item.secret_name,
            "summary": self.item.summary,
            "detail": self.detail,
            "replaced_version": self.replaced_version,
            "new_version": self.new_version,
        }


def outcomes_json(outcomes: Iterable[Outcome]) -> str:
    done = list(outcomes)
    return json.dumps(
        {
            "schema_version": JSON_SCHEMA_VERSION,
            "summary": dict(sorted(Counter(o.action for o in done).items())),
            "ok": all(o.ok for o in done),
            "outcomes": [o.as_dict() for o in done],
        },
        indent=2,
    )


@dataclass(frozen=True)
class Targets:
    connections_prefix: str = "airflow/connections"
    variables_prefix: str = "airflow/variables"
    sep: str = "/"

    def connection(self, conn_id: str) -> str:
        return f"{self.connections_prefix}{self.sep}{conn_id}"

    def variable(self, key: str) -> str:
        return f"{self.variables_prefix}{self.sep}{key}"


# -- reading (Airflow's formats: airflow_plugin.connection_import) ---------------------------
def _import() -> Any:
    """The Airflow-format parser lives with the Airflow integration; tooling imports it
    lazily so ``pipeline-secrets`` starts without it."""
    from airflow_plugin import connection_import

    return connection_import


@contextmanager
def _connection_import() -> Iterator[Any]:
    """The Airflow-format parser, its input errors raised as ours."""
    module = _import()
    try:
        yield module
    except module.ConnectionInputError as exc:
        raise MigrationInputError(str(exc)) from None


def connection_from_uri(uri: str, conn_id: str, parser: str | None = None) -> dict[str, Any]:
    with _connection_import() as module:
        return dict(module.connection_from_uri(uri, conn_id, parser))


def connection_from_value(value: Any, conn_id: str, parser: str | None = None) -> dict[str, Any]:
    with _connection_import() as module:
        return dict(module.connection_from_value(value, conn_id, parser))


def _valid_key(key: str, where: str) -> str:
    with _connection_import() as module:
        return str(module.validate_conn_id(key, where))


def _connection_item(conn_id: str, value: Any, origin: str, targets: Targets) -> MigrationItem:
    _valid_key(conn_id, origin)
    conn = connection_from_value(value, conn_id)
    names = ", ".join(k for k in conn if k != "conn_type")
    return MigrationItem(
        kind="connection",
        key=conn_id,
        origin=origin,
        secret_name=targets.connection(conn_id),
        payload=json.dumps(conn, sort_keys=True),
        summary=f"conn_type={conn['conn_type']}, fields: {names or 'none'}",
    )


def _variable_item(key: str, value: Any, origin: str, targets: Targets) -> MigrationItem:
    _valid_key(key, origin)
    text = value if isinstance(value, str) else json.dumps(value)
    return MigrationItem(
        kind="variable",
        key=key,
        origin=origin,
        secret_name=targets.variable(key),
        payload=text,
        summary=f"{len(text)} character(s)",
    )


def items_from_env(environ: Mapping[str, str], targets: Targets) -> list[MigrationItem]:
    items: list[MigrationItem] = []
    for name in sorted(environ):
        if name.startswith(CONN_ENV_PREFIX) and len(name) > len(CONN_ENV_PREFIX):
            conn_id = name[len(CONN_ENV_PREFIX) :].lower()
            items.append(_connection_item(conn_id, environ[name], f"env {name}", targets))
        elif name.startswith(VAR_ENV_PREFIX) and len(name) > len(VAR_ENV_PREFIX):
            key = name[len(VAR_ENV_PREFIX) :].lower()
            items.append(_variable_item(key, environ[name], f"env {name}", targets))
    return items


def items_from_connections_file(path: str | Path, targets: Targets) -> list[MigrationItem]:
    """``airflow connections export`` output: JSON (``{conn_id: {...}}``) or .env lines."""
    path = Path(path)
    text = path.read_text()
    if text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            raise MigrationInputError(f"{path}: not valid JSON") from None
        if not isinstance(data, dict):
            raise MigrationInputError(f"{path}: expected a JSON object of connections")
        return [_connection_item(str(k), v, str(path), targets) for k, v in sorted(data.items())]
    items = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{path}:{number}"
        conn_id, sep, value = line.partition("=")
        if not sep or "://" in conn_id or not value.strip():
            raise MigrationInputError(f"{where}: expected conn_id=URI")
        items.append(_connection_item(conn_id.strip(), value.strip(), where, targets))
    return items


def items_from_variables_file(path: str | Path, targets: Targets) -> list[MigrationItem]:
    """``airflow variables export`` output: a JSON object ``{key: value}``."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except ValueError:
        raise MigrationInputError(f"{path}: not valid JSON") from None
    if not isinstance(data, dict):
        raise MigrationInputError(f"{path}: expected a JSON object of variables")
    return [_variable_item(str(k), v, str(path), targets) for k, v in sorted(data.items())]


def merge_items(items: Iterable[MigrationItem]) -> list[MigrationItem]:
    """One item per secret. The same value from two sources is one item; different
    values for one secret are an error, raised before anything is written."""
    by_name: dict[str, list[MigrationItem]] = {}
    for item in items:
        by_name.setdefault(item.secret_name, []).append(item)
    conflicts = [
        f"{name} ({', '.join(i.origin for i in group)})"
        for name, group in by_name.items()
        if len({i.payload for i in group}) > 1
    ]
    if conflicts:
        raise MigrationInputError(
            "different values for the same secret: " + "; ".join(conflicts) + " - keep one"
        )
    return [group[0] for group in by_name.values()]


# -- writing -------------------------------------------------------------------------------
def migrate(
    items: Iterable[MigrationItem],
    source: SecretsManagerSource,
    *,
    apply: bool = False,
    force: bool = False,
    force_unmanaged: bool = False,
    kms_key_id: str | None = None,
    progress: Callable[[int, int, MigrationItem], None] | None = None,
) -> list[Outcome]:
    """Create (or, with ``force``, update) one secret per item. A dry run unless ``apply``.

    ``force`` replaces only secrets migrate created (tagged ``managed-by``);
    ``force_unmanaged`` also others. Never replaced: a secret with rotation enabled or
    with an AWSPENDING version (a rotation would lose or promote the wrong value).
    Conflicting duplicates raise :class:`MigrationInputError` before any write. Raises
    the first error that makes Secrets Manager unusable; per-item errors are returned
    as ``error`` outcomes.
    """
    todo = merge_items(items)
    outcomes: list[Outcome] = []
    client = source.clients.client()
    policy = _Policy(apply, force, force_unmanaged, kms_key_id)
    for index, item in enumerate(todo, 1):
        if progress is not None:
            progress(index, len(todo), item)
        try:
            outcomes.append(_migrate_one(item, client, source, policy))
        except SecretError as exc:
            if index == 1 and not isinstance(exc, SecretNotFoundError):
                raise
            outcomes.append(Outcome(item, "error", str(exc)))
    return outcomes


@dataclass(frozen=True)
class _Policy:
    apply: bool
    force: bool
    force_unmanaged: bool
    kms_key_id: str | None


def _migrate_one(
    item: MigrationItem, client: Any, source: SecretsManagerSource, policy: _Policy
) -> Outcome:
    prefix = "" if policy.apply else "would-"
    described = _describe(source, item.secret_name)
    if described is None:
        if policy.apply:
            kwargs: dict[str, Any] = {
                "Name": item.secret_name,
                "SecretString": item.payload,
                "Description": f"Airflow {item.kind} {item.key!r} migrated by pipeline-secrets",
                "Tags": [TAG],
            }
            if policy.kms_key_id:
                kwargs["KmsKeyId"] = policy.kms_key_id
            made = _write(
                source, "CreateSecret", item.secret_name, lambda: client.create_secret(**kwargs)
            )
            return Outcome(item, "create", new_version=made.get("VersionId"))
        return Outcome(item, f"{prefix}create")
    stages: Mapping[str, Iterable[str]] = described.get("VersionIdsToStages") or {}
    current = next((v for v, s in stages.items() if AWSCURRENT in s), None)
    if not policy.force:
        return Outcome(item, f"{prefix}skip-exists", "exists; use --force to overwrite")
    if described.get("RotationEnabled"):
        return Outcome(
            item, f"{prefix}skip-rotating", "rotation is enabled: never replaced by migrate"
        )
    pending = [v for v, s in stages.items() if AWSPENDING in s]
    if pending:
        return Outcome(
            item,
            f"{prefix}skip-pending",
            f"version {pending[0]} is AWSPENDING (a rotation in progress or stuck): "
            "finish or cancel it first",
        )
    if TAG not in (described.get("Tags") or []) and not policy.force_unmanaged:
        return Outcome(
            item,
            f"{prefix}skip-unmanaged",
            "not created by pipeline-secrets migrate; add --force-unmanaged to replace it",
        )
    if source.get_secret_value(item.secret_name).secret_string == item.payload:
        return Outcome(item, "unchanged", "already holds this value")
    if not policy.apply:
        return Outcome(
            item, "would-update", f"would replace version {current}", replaced_version=current
        )
    put = _write(
        source,
        "PutSecretValue",
        item.secret_name,
        lambda: client.put_secret_value(SecretId=item.secret_name, SecretString=item.payload),
    )
    new = put.get("VersionId")
    return Outcome(
        item,
        "update",
        f"replaced version {current} (now AWSPREVIOUS) with {new}",
        replaced_version=current,
        new_version=new,
    )


def _describe(source: SecretsManagerSource, name: str) -> dict[str, Any] | None:
    try:
        return dict(source.describe_secret(name))
    except SecretNotFoundError:
        return None


def _write(
    source: SecretsManagerSource, operation: str, name: str, call: Callable[[], Any]
) -> dict[str, Any]:
    source.stats.api_call(operation)
    try:
        return dict(call())
    except ClientError as exc:
        raise map_client_error(exc, name, operation) from None
    except BotoCoreError as exc:
        raise SecretError(
            f"{operation} for secret {name!r} failed: {type(exc).__name__}", secret_id=name
        ) from None
