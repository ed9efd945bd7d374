"""Every Airflow import of the backend, guarded for Airflow 3.x and 2.x."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

try:  # Airflow 3.x
    from airflow.secrets import BaseSecretsBackend
except ImportError:  # pragma: no cover - Airflow not installed
    BaseSecretsBackend = object  # type: ignore[assignment,misc]

AccessDenied: type[Exception] | None
try:  # Airflow 3.x (task SDK >= 1.2.2): stops the fall-through to other backends
    from airflow.sdk.exceptions import AirflowSecretsBackendAccessDenied as _Denied

    AccessDenied = _Denied
except ImportError:
    AccessDenied = None


class StrictModeError(PermissionError):
    """Raised in strict mode where Airflow has no AirflowSecretsBackendAccessDenied."""


def denied_error_class() -> type[Exception]:
    return AccessDenied or StrictModeError


def _find_mask_secret() -> Any:
    import importlib

    # Airflow 3.x (also tells the supervisor process), then Airflow 2.x.
    for module in ("airflow.sdk.log", "airflow.utils.log.secrets_masker"):
        try:
            return importlib.import_module(module).mask_secret
        except (ImportError, AttributeError):
            continue
    return None


_mask = _find_mask_secret()


def mask_secret(value: str, name: str | None = None) -> None:
    """Airflow's ``mask_secret``: with a ``name``, Airflow masks the value only when the
    name looks sensitive (its ``should_hide_value_for_key`` rule)."""
    if _mask is None or not value:
        return
    try:
        _mask(value, name)
    except Exception as exc:  # masking must never break a lookup
        log.debug("mask_secret failed: %s", type(exc).__name__)


def multi_team_enabled() -> bool:
    """``[core] multi_team`` (False where Airflow has no such option)."""
    for module in ("airflow.sdk.configuration", "airflow.configuration"):
        try:
            conf = __import__(module, fromlist=["conf"]).conf
            return bool(conf.getboolean("core", "multi_team", fallback=False))
        except Exception:
            continue
    return False
