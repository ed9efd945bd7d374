"""Registering secret values with Airflow's secrets masker: the one place (backend and hooks).

Only values that are secret are registered, because masking a common word garbles every
log line that contains it (an extra ``sslmode: require`` once turned "we require it"
into "we *** it"):

* a connection's password (and its percent-encoded form, as Airflow does);
* extra fields whose names Airflow treats as sensitive (``password``, ``secret``,
  ``token``, ``private_key`` ... and ``[core] sensitive_var_conn_names``): Airflow's
  masker decides by the name it is given, so its rule is applied, not copied;
* values the user marks: extra fields named in ``mask_extra_fields``, Variables named in
  ``mask_variables`` (or every Variable with ``mask_variables: true``);
* a Variable by Airflow's own rule (masked when its name looks sensitive).

Each value is registered as a ``(value, name)`` pair: ``name=None`` masks it whatever it
is; a name lets Airflow decide. Values shorter than Airflow's minimum masked length are
ignored by the masker.

The extra naming the credentials secret is ``credentials_id``: Airflow hides the value of
every extra field whose name contains "secret" (UI, API, ``connections list``), so the
former name ``secret_id`` showed as ``***``. ``secret_id`` is still read.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from airflow_plugin import _airflow
from pipeline_secrets.credentials import PASSWORD_KEYS, DatabaseCredentials

log = logging.getLogger(__name__)

# (value, name): name None = mask unconditionally; otherwise Airflow's name rule decides.
MaskEntry = tuple[str, str | None]
Masker = Callable[[str, str | None], None]

CREDENTIALS_EXTRA = "credentials_id"
LEGACY_CREDENTIALS_EXTRAS = ("secret_id",)


def credentials_secret_id(extra: Mapping[str, Any]) -> str | None:
    """The secret a connection's extra names: ``credentials_id``, else legacy ``secret_id``."""
    for key in (CREDENTIALS_EXTRA, *LEGACY_CREDENTIALS_EXTRAS):
        value = extra.get(key)
        if value:
            return str(value)
    return None


# -- what to mask ---------------------------------------------------------------------
def _leaves(value: Any, name: str | None) -> Iterator[MaskEntry]:
    """String leaves with the name Airflow's masker would see them under."""
    if isinstance(value, str):
        if value:
            yield value, name
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _leaves(item, str(key))
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _leaves(item, name)


def _extra_dict(extra: Any) -> Mapping[str, Any] | None:
    if isinstance(extra, Mapping):
        return extra
    if isinstance(extra, str) and extra.strip():
        try:
            parsed = json.loads(extra)
        except ValueError:
            return None
        return parsed if isinstance(parsed, dict) else None
    return None


def _password_entries(password: Any) -> Iterator[MaskEntry]:
    if password in (None, ""):
        return
    text = str(password)
    yield text, None
    if quote(text) != text:
        yield quote(text), None  # as it appears inside a URI


def _extra_entries(extra: Any, marked: Collection[str]) -> Iterator[MaskEntry]:
    parsed = _extra_dict(extra)
    if parsed is None:
        return
    lowered = {m.lower() for m in marked}
    for key, item in parsed.items():
        forced = str(key).lower() in lowered
        for leaf, name in _leaves(item, str(key)):
            yield leaf, None if forced else name


def connection_entries(
    conn: Mapping[str, Any], mask_extra_fields: Collection[str] = ()
) -> list[MaskEntry]:
    """The password, and each extra leaf under its field name."""
    return [
        *_password_entries(conn.get("password")),
        *_extra_entries(conn.get("extra"), mask_extra_fields),
    ]


def uri_entries(uri: str, mask_extra_fields: Collection[str] = ()) -> list[MaskEntry]:
    """A connection URI's password (raw and decoded) and its query parameters by name."""
    try:
        parts = urlsplit(uri)
        password = parts.password
    except ValueError:
        return []
    entries: list[MaskEntry] = []
    if password:
        entries.append((password, None))
        entries.extend(_password_entries(unquote(password)))
    query = dict(parse_qsl(parts.query, keep_blank_values=False))
    entries.extend(_extra_entries(query, mask_extra_fields))
    return entries


def variable_entries(
    key: str, value: str, mask_variables: bool | Collection[str]
) -> list[MaskEntry]:
    """A Variable: by Airflow's name rule, or unconditionally when the user marked it."""
    if not value:
        return []
    marked = mask_variables is True or (
        not isinstance(mask_variables, bool) and key.lower() in {m.lower() for m in mask_variables}
    )
    return [(value, None if marked else key)]


# -- registering ----------------------------------------------------------------------
def register(entries: Iterable[MaskEntry], mask: Masker | None = None) -> None:
    """Give each entry to Airflow's masker (guarded: masking never breaks a lookup)."""
    mask = mask or _airflow.mask_secret
    for value, name in entries:
        if value:
            mask(value, name)


def mask_text(value: str | bytes | None) -> None:
    """Mask a whole secret string (or UTF-8 bytes) a hook handed out."""
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            return  # not text: it cannot appear verbatim in a text log
    if value:
        register([(value, None)])


def mask_json(raw: str | bytes | None, parsed: Mapping[str, Any]) -> None:
    """A JSON secret a hook handed out: the document itself, and its fields by name."""
    mask_text(raw)
    register(_extra_entries(dict(parsed), PASSWORD_KEYS))


def mask_credentials(creds: DatabaseCredentials) -> None:
    """The password of database credentials."""
    register(_password_entries(creds.password))
