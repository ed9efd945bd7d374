"""Forward the core's events to Airflow's ``Stats`` (StatsD, Datadog or OpenTelemetry,
whatever ``[metrics]`` configures).

The core counts and reports events through :mod:`pipeline_secrets.stats` and imports no
metrics library; :func:`bind_airflow_stats` adds one observer that turns each event into
an Airflow counter. Names (all under ``pipeline_secrets.``) are listed in docs/metrics.md:
the dimensions StatsD needs are part of the name (``lookups.connections.found``) and are
also passed as tags for backends that keep tags (OpenTelemetry, Datadog, InfluxDB style).

Bound by the secrets backend's constructor and by the plugin's ``on_load``, so every
Airflow process that looks secrets up or serves the Secrets page reports.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping
from typing import Any

from pipeline_secrets.stats import add_observer, remove_observer

log = logging.getLogger(__name__)

PREFIX = "pipeline_secrets"

# core event -> metric name under PREFIX; tag values are appended in this tag order.
METRIC_NAMES: dict[str, tuple[str, tuple[str, ...]]] = {
    "lookup": ("lookups", ("kind", "outcome")),
    "hits": ("cache.hits", ()),
    "misses": ("cache.misses", ()),
    "negative_hits": ("cache.negative_hits", ()),
    "refreshes": ("cache.refreshes", ()),
    "errors": ("cache.errors", ()),
    "stale_serves": ("cache.stale_serves", ()),
    "prefetched": ("cache.prefetched", ()),
    "parses": ("cache.parses", ()),
    "api_call": ("api_calls", ("operation",)),
    "agent_hits": ("agent.hits", ()),
    "agent_unavailable": ("agent.fallbacks", ()),
    "refused_login": ("logins.refused", ()),
    "login_after_refusal": ("logins.after_refusal", ("stage",)),
    "rotation_step": ("rotation.steps", ("step", "outcome")),
    "ui_action": ("ui.actions", ("action", "outcome")),
}

_SAFE = re.compile(r"[^A-Za-z0-9_\-]")
_bound = False
_initialised: Any = None  # the Stats found initialised, kept (the hot path asks often)
_bind_lock = threading.Lock()


def metric_name(event: str, tags: Mapping[str, str]) -> str:
    """``pipeline_secrets.<name>[.<tag value>...]``; unknown events keep their own name."""
    name, order = METRIC_NAMES.get(event, (event, tuple(sorted(tags))))
    parts = [PREFIX, name, *(_SAFE.sub("_", str(tags[k])) for k in order if k in tags)]
    return ".".join(parts)


def _airflow_stats() -> Any:
    """The ``Stats`` this process initialised: the task SDK's in a task process, the core's
    in the api-server/scheduler (Airflow 3 keeps two copies); Airflow 2's ``Stats``."""
    global _initialised
    if _initialised is not None:
        return _initialised
    candidates = (
        "airflow._shared.observability.metrics.stats",
        "airflow.sdk._shared.observability.metrics.stats",
    )
    modules = []
    for name in candidates:
        try:
            modules.append(__import__(name, fromlist=["incr"]))
        except ImportError:
            continue
    for module in modules:
        if getattr(module, "_factory", None) is not None:
            _initialised = module
            return module
    if modules:
        return modules[0]
    from airflow.stats import Stats  # Airflow 2.x

    _initialised = Stats
    return Stats


def forward_to_airflow(event: str, amount: int, tags: Mapping[str, str]) -> None:
    """The observer: one Airflow counter increment per core event."""
    _airflow_stats().incr(metric_name(event, tags), count=amount, tags=dict(tags) or None)


def bind_airflow_stats() -> None:
    """Forward core events to Airflow's Stats in this process (idempotent)."""
    global _bound
    if _bound:
        return
    with _bind_lock:
        try:
            _airflow_stats()
        except ImportError:
            log.debug("Airflow's Stats is not importable; metrics not forwarded")
            return
        add_observer(forward_to_airflow)
        _bound = True


def unbind_airflow_stats() -> None:
    global _bound, _initialised
    _initialised = None
    remove_observer(forward_to_airflow)
    _bound = False
