"""Registering secret values with Airflow's secrets masker before anyone can log them."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from pipeline_secrets.credentials import DatabaseCredentials

log = logging.getLogger(__name__)


def _mask(value: Any) -> None:
    from airflow.providers.common.compat.sdk import mask_secret

    mask_secret(value)


def mask_text(value: str | bytes | None) -> None:
    """Mask a secret string (or UTF-8 bytes) as a whole."""
    if value is None:
        return
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            return  # not text: it cannot appear verbatim in a text log
    if value:
        _mask(value)


def mask_json(raw: str | bytes | None, parsed: Mapping[str, Any]) -> None:
    """Mask a JSON secret: the whole document, and (by Airflow's sensitive-key rule)
    the values under keys such as ``password`` or ``secret``."""
    mask_text(raw)
    _mask(dict(parsed))
    for key in ("password", "pass", "passwd", "key", "secret", "token"):
        leaf = parsed.get(key)
        if isinstance(leaf, str) and leaf:
            _mask(leaf)


def mask_credentials(creds: DatabaseCredentials) -> None:
    """Mask the password of database credentials."""
    if creds.password:
        _mask(creds.password)
