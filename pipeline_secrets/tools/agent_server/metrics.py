"""The agent's counters and their Prometheus text rendering (``/pipeline-secrets/metrics``)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping

_HELP = {
    "connections_accepted": "Connections accepted.",
    "connections_rejected": "Connections answered 429 because the connection cap was reached.",
    "connections_dropped_idle": "Idle or half-open connections closed by the agent.",
    "connections_evicted": "Idle connections closed to admit a new one at the cap.",
    "accept_errors": "accept() failures (e.g. out of file descriptors).",
    "requests": "HTTP requests handled.",
    "forbidden": "Requests refused for a missing or wrong token.",
    "bad_requests": "Requests refused as malformed (forwarding headers, GET bodies, ...).",
    "refresh_suppressed": "refreshNow requests answered from the cache while it backs off.",
    "refresh_shared": "refreshNow requests answered by a forced read that started after them.",
    "background_refreshes": "Refreshes started before expiry in the background.",
    "served_while_prefetching": "Expired values served while their prefix's pass ran.",
    "prefetch_runs": "Prefix prefetch passes that succeeded.",
    "prefetch_failures": "Prefix prefetch passes that failed.",
}


class AgentMetrics:
    """Thread-safe counters of the server side (the cache counts hits and API calls)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._refusals: Counter[str] = Counter()
        self.active_connections = 0

    def incr(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._counts[name] += amount

    def refusal(self, reason: str) -> None:
        with self._lock:
            self._refusals[reason] += 1

    def set_active(self, value: int) -> None:
        with self._lock:
            self.active_connections = value

    def snapshot(self) -> dict[str, object]:
        with self._lock:
            data: dict[str, object] = {name: self._counts.get(name, 0) for name in _HELP}
            data["refusals"] = dict(self._refusals)
            data["active_connections"] = self.active_connections
            return data


def render_prometheus(agent: Mapping[str, object], cache: Mapping[str, object]) -> str:
    """Prometheus text exposition (version 0.0.4) of the agent's and the cache's counters."""
    lines: list[str] = []

    def metric(name: str, kind: str, help_text: str, samples: list[tuple[str, object]]) -> None:
        full = f"pipeline_secrets_agent_{name}"
        lines.append(f"# HELP {full} {help_text}")
        lines.append(f"# TYPE {full} {kind}")
        for labels, value in samples:
            lines.append(f"{full}{labels} {value}")

    def counter_by(label: str, name: str, help_text: str, counts: object) -> None:
        """A counter with a sample per value of ``label`` (``counts``: value -> count)."""
        counts = counts or {}
        assert isinstance(counts, Mapping)
        samples = [(f'{{{label}="{_label(key)}"}}', n) for key, n in sorted(counts.items())]
        metric(name, "counter", help_text, samples)

    for name, help_text in _HELP.items():
        metric(f"{name}_total", "counter", help_text, [("", agent.get(name, 0))])
    metric("active_connections", "gauge", "Open connections.", [("", agent["active_connections"])])
    counter_by(
        "reason",
        "refusals_total",
        "Lookups refused by the agent's scope, by reason (no API call made).",
        agent.get("refusals"),
    )
    for name in ("hits", "misses", "negative_hits", "refreshes", "errors", "stale_serves"):
        metric(
            f"cache_{name}_total",
            "counter",
            f"Cache {name.replace('_', ' ')}.",
            [("", cache.get(name, 0))],
        )
    counter_by(
        "operation",
        "api_calls_total",
        "Secrets Manager API calls, by operation.",
        cache.get("api_calls"),
    )
    return "\n".join(lines) + "\n"


def _label(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def parse_prometheus(text: str) -> dict[str, float]:
    """``{"name{labels}": value}`` from Prometheus text (for ``agent status`` and tests)."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        try:
            out[name] = float(value)
        except ValueError:
            continue
    return out
