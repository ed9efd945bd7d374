"""Register returned values with Airflow's secrets masker.

Airflow masks a connection's password and extra itself, but a Variable only when its
name looks sensitive; this backend masks every password, every extra (the whole
string and each string inside it) and every Variable value, whatever its name.
Values shorter than Airflow's minimum masked length are ignored by the masker.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from airflow_plugin import _airflow


def _leaves(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _leaves(item)


def mask_connection(conn: dict[str, Any], mask: Callable[[str], None] | None = None) -> None:
    """Mask the password and the extra (as a whole and leaf by leaf)."""
    mask = mask or _airflow.mask_secret
    password = conn.get("password")
    if password not in (None, ""):
        mask(str(password))
    extra = conn.get("extra")
    if extra in (None, ""):
        return
    if isinstance(extra, str):
        mask(extra)
        try:
            extra = json.loads(extra)
        except ValueError:
            return
    else:
        mask(json.dumps(extra))
    for leaf in _leaves(extra):
        if leaf:
            mask(leaf)


def mask_uri(uri: str, mask: Callable[[str], None] | None = None) -> None:
    """Mask the password of a connection URI and the URI itself."""
    from urllib.parse import unquote, urlsplit

    mask = mask or _airflow.mask_secret
    mask(uri)
    try:
        password = urlsplit(uri).password
    except ValueError:
        return
    if password:
        mask(unquote(password))
        mask(password)


def mask_value(value: str, mask: Callable[[str], None] | None = None) -> None:
    (mask or _airflow.mask_secret)(value)
