"""``PipelineSecretsPlugin``: registered by the distribution (entry point group
``airflow.plugins``), so installing pipeline-secrets is enough.

Airflow 3: ``fastapi_apps`` mounts the page and its JSON API at ``/pipeline-secrets/`` in
the api-server, and ``external_views`` adds "Secrets" to the navigation (Admin menu),
shown inside the Airflow UI at ``/plugin/secrets``. Airflow 2.11 gets no page (its UI is
Flask AppBuilder, which this plugin does not extend): the plugin only binds metrics.

Every process that loads plugins (scheduler, workers, DAG processor) imports this
module, so the FastAPI app is built on the first request, in the api-server only.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from airflow_plugin import metrics

try:
    from airflow.plugins_manager import AirflowPlugin
except ImportError:  # pragma: no cover - Airflow not installed
    AirflowPlugin = object  # type: ignore[assignment,misc]

URL_PREFIX = "/pipeline-secrets"
URL_ROUTE = "secrets"

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class LazySecretsApp:
    """An ASGI app that builds :func:`airflow_plugin.ui.app.create_app` when first called."""

    def __init__(self) -> None:
        self._app: Any = None
        self._lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._app is None:
            with self._lock:
                if self._app is None:
                    from airflow_plugin.ui.app import create_app

                    self._app = create_app()
        await self._app(scope, receive, send)


def _airflow_major() -> int:
    try:
        import airflow

        return int(airflow.__version__.split(".")[0])
    except (ImportError, ValueError):
        return 0


_UI = _airflow_major() >= 3


class PipelineSecretsPlugin(AirflowPlugin):
    name = "pipeline_secrets"
    fastapi_apps = (
        [{"app": LazySecretsApp(), "url_prefix": URL_PREFIX, "name": "Secrets (pipeline-secrets)"}]
        if _UI
        else []
    )
    external_views = (
        [
            {
                "name": "Secrets",
                "href": f"{URL_PREFIX}/",
                "url_route": URL_ROUTE,
                "destination": "nav",
                "category": "admin",
            }
        ]
        if _UI
        else []
    )

    @classmethod
    def on_load(cls, *args: Any, **kwargs: Any) -> None:
        metrics.bind_airflow_stats()
