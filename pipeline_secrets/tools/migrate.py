"""Move Airflow connections and variables into Secrets Manager.

Sources: ``AIRFLOW_CONN_*`` / ``AIRFLOW_VAR_*`` environment variables (URI or JSON), an
``airflow connections export`` file (JSON, or the ``.env`` format ``conn_id=URI``),
an ``airflow variables export`` JSON file. Targets: ``<connections_prefix><sep><conn_id>``
holding Airflow connection JSON (``conn_type``, ``host``, ``login``, ``password``,
``schema``, ``port``, ``extra``: the shape the secrets backends read) and
``<variables_prefix><sep><key>`` holding the variable's text.

Dry run unless ``apply``; an existing secret is only overwritten with ``force`` (and
not at all when it already holds the same value). Reports never contain values.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from botocore.exceptions import BotoCoreError, ClientError

from pipeline_secrets.errors import SecretError, SecretNotFoundError
from pipeline_secrets.source import SecretsManagerSource, map_client_error

CONN_ENV_PREFIX = "AIRFLOW_CONN_"
VAR_ENV_PREFIX = "AIRFLOW_VAR_"
CONNECTION_FIELDS = ("conn_type", "host", "login", "password", "schema", "port", "extra")
TAG = {"Key": "managed-by", "Value": "pipeline-secrets-migrate"}


class MigrationInputError(ValueError):
    """An input (environment value or export file) could not be read. Names the item,
    never its value."""


@dataclass(frozen=True)
class MigrationItem:
    kind: str  # "connection" or "variable"
    key: str  # conn_id or variable key
    origin: str  # where it came from, e.g. "env AIRFLOW_CONN_MY_DB"
    secret_name: str
    payload: str = field(repr=False)  # the SecretString to store
    summary: str = ""  # value-free description (conn_type, field names)


@dataclass(frozen=True)
class Outcome:
    item: MigrationItem
    action: str  # create, update, unchanged, skip-exists, error (dry run: would-...)
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.action not in {"skip-exists", "error", "would-skip-exists"}

    def format(self) -> str:
        text = f"{self.action:<18} {self.item.secret_name}  ({self.item.kind} {self.item.key!r} "
        text += f"from {self.item.origin}{': ' + self.item.summary if self.item.summary else ''})"
        return text + (f" - {self.detail}" if self.detail else "")


@dataclass(frozen=True)
class Targets:
    connections_prefix: str = "airflow/connections"
    variables_prefix: str = "airflow/variables"
    sep: str = "/"

    def connection(self, conn_id: str) -> str:
        return f"{self.connections_prefix}{self.sep}{conn_id}"

    def variable(self, key: str) -> str:
        return f"{self.variables_prefix}{self.sep}{key}"


# -- reading -------------------------------------------------------------------------------
def connection_from_uri(uri: str, conn_id: str) -> dict[str, Any]:
    """Airflow's URI format: ``type://login:password@host:port/schema?extra=..``
    (``__extra__`` holds JSON extras)."""
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        raise MigrationInputError(f"connection {conn_id!r}: not a valid URI") from None
    if not parts.scheme:
        raise MigrationInputError(f"connection {conn_id!r}: the URI has no scheme")
    conn_type = parts.scheme.replace("-", "_")
    if conn_type == "postgresql":
        conn_type = "postgres"
    query = parse_qsl(parts.query, keep_blank_values=True)
    extra: Any = None
    if query:
        pairs = dict(query)
        if "__extra__" in pairs:
            try:
                extra = json.loads(pairs["__extra__"])
            except ValueError:
                raise MigrationInputError(
                    f"connection {conn_id!r}: __extra__ is not valid JSON"
                ) from None
        else:
            # As Airflow does: values that parse as JSON (numbers, booleans) are typed.
            extra = {key: _json_or_text(value) for key, value in pairs.items()}
    return _clean_connection(
        {
            "conn_type": conn_type,
            "host": unquote(parts.hostname) if parts.hostname else None,
            "login": unquote(parts.username) if parts.username else None,
            "password": unquote(parts.password) if parts.password is not None else None,
            "schema": unquote(parts.path.lstrip("/")) or None,
            "port": port,
            "extra": extra,
        },
        conn_id,
    )


def _json_or_text(value: str) -> Any:
    if not value:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def connection_from_value(value: Any, conn_id: str) -> dict[str, Any]:
    """A connection from an env value or export entry: a URI, JSON text or a mapping."""
    if isinstance(value, Mapping):
        return _clean_connection(dict(value), conn_id)
    if not isinstance(value, str):
        raise MigrationInputError(f"connection {conn_id!r}: expected a URI or a JSON object")
    text = value.strip()
    if text.startswith("{"):
        try:
            loaded = json.loads(text)
        except ValueError:
            raise MigrationInputError(f"connection {conn_id!r}: not valid JSON") from None
        return connection_from_value(loaded, conn_id)
    return connection_from_uri(text, conn_id)


def _clean_connection(data: dict[str, Any], conn_id: str) -> dict[str, Any]:
    if "conn_type" not in data and "conn_uri" not in data:
        for alias in ("connection_type", "type"):
            if alias in data:
                data["conn_type"] = data.pop(alias)
    if data.get("uri"):
        return connection_from_uri(str(data["uri"]), conn_id)
    extra = data.get("extra")
    if isinstance(extra, str) and extra.strip():
        try:
            extra = json.loads(extra)
        except ValueError:
            raise MigrationInputError(f"connection {conn_id!r}: extra is not valid JSON") from None
    port = data.get("port")
    if port not in (None, ""):
        try:
            port = int(port)
        except (TypeError, ValueError):
            raise MigrationInputError(f"connection {conn_id!r}: port is not a number") from None
    out = {
        "conn_type": data.get("conn_type"),
        "host": data.get("host"),
        "login": data.get("login"),
        "password": data.get("password"),
        "schema": data.get("schema"),
        "port": port if port not in (None, "") else None,
        "extra": extra or None,
    }
    if data.get("description"):
        out["description"] = data["description"]
    if not out["conn_type"]:
        raise MigrationInputError(f"connection {conn_id!r}: no conn_type")
    return {k: v for k, v in out.items() if v not in (None, "")}


def _connection_item(conn_id: str, value: Any, origin: str, targets: Targets) -> MigrationItem:
    conn = connection_from_value(value, conn_id)
    names = ", ".join(k for k in CONNECTION_FIELDS if k in conn and k != "conn_type")
    return MigrationItem(
        kind="connection",
        key=conn_id,
        origin=origin,
        secret_name=targets.connection(conn_id),
        payload=json.dumps(conn, sort_keys=True),
        summary=f"conn_type={conn['conn_type']}, fields: {names or 'none'}",
    )


def _variable_item(key: str, value: Any, origin: str, targets: Targets) -> MigrationItem:
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
    origin = f"file {path.name}"
    if text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            raise MigrationInputError(f"{path}: not valid JSON") from None
        if not isinstance(data, dict):
            raise MigrationInputError(f"{path}: expected a JSON object of connections")
        return [_connection_item(str(k), v, origin, targets) for k, v in sorted(data.items())]
    items = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        conn_id, sep, value = line.partition("=")
        if not sep:
            raise MigrationInputError(f"{path}:{number}: expected conn_id=URI")
        items.append(_connection_item(conn_id.strip(), value.strip(), origin, targets))
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
    return [
        _variable_item(str(k), v, f"file {path.name}", targets) for k, v in sorted(data.items())
    ]


# -- writing -------------------------------------------------------------------------------
def migrate(
    items: Iterable[MigrationItem],
    source: SecretsManagerSource,
    *,
    apply: bool = False,
    force: bool = False,
    kms_key_id: str | None = None,
    progress: Callable[[int, int, MigrationItem], None] | None = None,
) -> list[Outcome]:
    """Create (or, with ``force``, update) one secret per item. A dry run unless ``apply``.

    Raises the first error that makes Secrets Manager unusable (access denied to the
    listing, unreachable); per-item errors are returned as ``error`` outcomes.
    """
    todo = list(items)
    outcomes: list[Outcome] = []
    client = source.clients.client()
    for index, item in enumerate(todo, 1):
        if progress is not None:
            progress(index, len(todo), item)
        try:
            outcomes.append(_migrate_one(item, client, source, apply, force, kms_key_id))
        except SecretError as exc:
            if index == 1 and not isinstance(exc, SecretNotFoundError):
                raise
            outcomes.append(Outcome(item, "error", str(exc)))
    return outcomes


def _migrate_one(
    item: MigrationItem,
    client: Any,
    source: SecretsManagerSource,
    apply: bool,
    force: bool,
    kms_key_id: str | None,
) -> Outcome:
    prefix = "" if apply else "would-"
    exists = _exists(source, item.secret_name)
    if not exists:
        if apply:
            kwargs: dict[str, Any] = {
                "Name": item.secret_name,
                "SecretString": item.payload,
                "Description": f"Airflow {item.kind} {item.key!r} migrated by pipeline-secrets",
                "Tags": [TAG],
            }
            if kms_key_id:
                kwargs["KmsKeyId"] = kms_key_id
            _write(source, "CreateSecret", item.secret_name, lambda: client.create_secret(**kwargs))
        return Outcome(item, f"{prefix}create")
    if not force:
        return Outcome(item, f"{prefix}skip-exists", "exists; use --force to overwrite")
    current = source.get_secret_value(item.secret_name)
    if current.secret_string == item.payload:
        return Outcome(item, "unchanged", "already holds this value")
    if apply:
        _write(
            source,
            "PutSecretValue",
            item.secret_name,
            lambda: client.put_secret_value(SecretId=item.secret_name, SecretString=item.payload),
        )
    return Outcome(item, f"{prefix}update", "new AWSCURRENT version")


def _exists(source: SecretsManagerSource, name: str) -> bool:
    try:
        source.describe_secret(name)
    except SecretNotFoundError:
        return False
    return True


def _write(
    source: SecretsManagerSource, operation: str, name: str, call: Callable[[], Any]
) -> None:
    source.stats.api_call(operation)
    try:
        call()
    except ClientError as exc:
        raise map_client_error(exc, name, operation) from None
    except BotoCoreError as exc:
        raise SecretError(
            f"{operation} for secret {name!r} failed: {type(exc).__name__}", secret_id=name
        ) from None
