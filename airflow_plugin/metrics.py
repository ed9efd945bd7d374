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

import atexit
import importlib
import logging
import os
import re
import threading
import time
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
_bind_lock = threading.Lock()
_modules: list[Any] | None = None
_names: dict[tuple[str, tuple[tuple[str, str], ...]], str] = {}  # metric names, built once
_MAX_NAMES = 4096
_RECHECK_SECONDS = 1.0
_target: Any = None
_target_checked = float("-inf")


def metric_name(event: str, tags: Mapping[str, str]) -> str:
    """``pipeline_secrets.<name>[.<tag value>...]``; unknown events keep their own name."""
    name, order = METRIC_NAMES.get(event, (event, tuple(sorted(tags))))
    parts = [PREFIX, name, *(_SAFE.sub("_", str(tags[k])) for k in order if k in tags)]
    return ".".join(parts)


def _stats_modules() -> list[Any]:
    """Airflow 3's two ``Stats`` modules (the core's, the task SDK's), imported once."""
    global _modules
    if _modules is None:
        found = []
        for name in (
            "airflow._shared.observability.metrics.stats",
            "airflow.sdk._shared.observability.metrics.stats",
        ):
            try:
                found.append(importlib.import_module(name))
            except ImportError:
                continue
        _modules = found
    return _modules


def _airflow_stats() -> Any:
    """:func:`_find_stats`, looked up again at most every ``_RECHECK_SECONDS`` (a cache
    hit must stay cheap; Airflow initialises its Stats once, early in each process)."""
    global _target, _target_checked
    now = time.monotonic()
    if now - _target_checked >= _RECHECK_SECONDS:
        _target, _target_checked = _find_stats(), now
    return _target


def _find_stats() -> Any:
    """Where to send: the ``Stats`` this process initialised with a real backend (the
    task SDK's in a task process, the core's in the api-server, scheduler...; Airflow 3
    keeps two copies, both configured from ``[metrics]``), Airflow 2's ``Stats``, or
    None while metrics are off or not initialised (Airflow sends nothing then either)."""
    modules = _stats_modules()
    if not modules:
        from airflow.stats import Stats  # Airflow 2.x

        return Stats
    for module in modules:
        factory = getattr(module, "_factory", None)
        if factory is not None and getattr(factory, "__name__", "") != "NoStatsLogger":
            return module
    return None


# Events of every lookup: added up here and sent as one counter increment per name at
# most every FLUSH_SECONDS (a StatsD send costs several times a cache hit). Every other
# event is rare and sent at once, with whatever is pending.
HOT_EVENTS = frozenset({"lookup", "hits", "negative_hits", "agent_hits", "parses"})
FLUSH_SECONDS = 1.0

_Key = tuple[str, tuple[tuple[str, str], ...]]


class _Pending:
    """Counts of hot events not sent yet (thread-safe)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: dict[_Key, int] = {}
        self.flushed_at = time.monotonic()

    def add(self, key: _Key, amount: int) -> dict[_Key, int] | None:
        """Count ``key``; returns the batch to send when one is due."""
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + amount
            now = time.monotonic()
            if now - self.flushed_at < FLUSH_SECONDS:
                return None
            return self._take(now)

    def take(self) -> dict[_Key, int]:
        with self.lock:
            return self._take(time.monotonic())

    def _take(self, now: float) -> dict[_Key, int]:
        batch, self.counts, self.flushed_at = self.counts, {}, now
        return batch


_pending = _Pending()


def _reset_after_fork() -> None:
    global _pending
    _pending = _Pending()  # the parent's counts are the parent's; its lock may be held


os.register_at_fork(after_in_child=_reset_after_fork)


def forward_to_airflow(event: str, amount: int, tags: Mapping[str, str]) -> None:
    """The observer: core events to Airflow counters (hot ones batched; cheap when off)."""
    target = _airflow_stats()
    if target is None:
        return
    key: _Key = (event, tuple(tags.items()))
    if event in HOT_EVENTS:
        batch = _pending.add(key, amount)
        if batch:
            _send(target, batch)
        return
    batch = _pending.take()
    batch[key] = batch.get(key, 0) + amount
    _send(target, batch)


def flush() -> None:
    """Send the batched counts now (also done at interpreter exit)."""
    target = _airflow_stats()
    batch = _pending.take()
    if target is not None and batch:
        _send(target, batch)


def _send(target: Any, batch: Mapping[_Key, int]) -> None:
    for (event, tag_items), amount in batch.items():
        name = _names.get((event, tag_items))
        tags = dict(tag_items)
        if name is None:
            name = metric_name(event, tags)
            if len(_names) < _MAX_NAMES:
                _names[(event, tag_items)] = name
        try:
            target.incr(name, count=amount, tags=tags or None)
        except Exception as exc:  # metrics must never break a lookup
            log.debug("sending metric %s failed: %s", name, type(exc).__name__)


atexit.register(flush)


def bind_airflow_stats() -> None:
    """Forward core events to Airflow's Stats in this process (idempotent); a no-op
    while ``[metrics]`` sends nothing anywhere."""
    global _bound
    if _bound:
        return
    with _bind_lock:
        try:
            _stats_modules() or importlib.import_module("airflow.stats")
        except ImportError:
            log.debug("Airflow's Stats is not importable; metrics not forwarded")
            return
        if not metrics_configured():
            return  # nothing would be sent: keep the lookup path free of the observer
        _forget_target()
        add_observer(forward_to_airflow)
        _bound = True


def metrics_configured() -> bool:
    """Whether ``[metrics]`` turns on StatsD, Datadog or OpenTelemetry."""
    try:
        from airflow.configuration import conf
    except ImportError:
        return True
    return any(
        conf.getboolean("metrics", option, fallback=False)
        for option in ("statsd_on", "statsd_datadog_enabled", "otel_on")
    )


def unbind_airflow_stats() -> None:
    global _bound
    remove_observer(forward_to_airflow)
    _forget_target()
    _bound = False


def _forget_target() -> None:
    global _target_checked
    _target_checked = float("-inf")
