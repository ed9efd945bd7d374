"""The Secrets page's FastAPI app, mounted by the plugin in Airflow 3's api-server.

Routes (under the plugin's ``url_prefix``, ``/pipeline-secrets``):

* ``GET  /``                         the page (HTML; renders ``api/secrets`` in the browser)
* ``GET  /api/secrets``              the inventory: names and metadata, never a value
* ``POST /api/secrets/refresh``      ``{"secret": name}``: refresh now
* ``POST /api/secrets/rotate``       ``{"secret": name}``: rotate now

Every route needs what Airflow's own connection endpoints need, through the same
FastAPI security dependency (``requires_access_connection``, which asks the configured
auth manager's ``is_authorized_connection``): reading connections for the page, the
inventory and refresh now; editing them (PUT) for rotate now. POSTs must be JSON, so a
cross-site form cannot trigger them with the user's cookie.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from importlib import resources
from typing import Annotated, Any, Literal

from airflow.api_fastapi.core_api.security import GetUserDep, requires_access_connection
from fastapi import Body, Depends, FastAPI, HTTPException, Request, status
from fastapi.responses import HTMLResponse

from airflow_plugin.ui import actions, inventory

log = logging.getLogger(__name__)

URL_PREFIX = "/pipeline-secrets"
POLICY_SECTION, POLICY_OPTION = "pipeline_secrets", "audit_policy"


def configured_backend() -> Any:
    """The ``SecretsManagerBackend`` Airflow built from ``[secrets] backend`` in this
    process (same kwargs, AWS settings, cache and agent), or None."""
    from airflow.configuration import ensure_secrets_loaded

    from airflow_plugin.secrets_manager import SecretsManagerBackend

    for backend in ensure_secrets_loaded():
        if isinstance(backend, SecretsManagerBackend):
            return backend
    return None


def configured_policy() -> inventory.PolicySet:
    """``[pipeline_secrets] audit_policy`` (``AIRFLOW__PIPELINE_SECRETS__AUDIT_POLICY``):
    a JSON object or a policy file path; the audit's defaults otherwise."""
    from airflow.configuration import conf

    return inventory.policy_from_config(conf.get(POLICY_SECTION, POLICY_OPTION, fallback=""))


def dag_usage() -> dict[str, list[str]]:
    """Which tasks name a connection (fields ending in ``conn_id``), from serialized DAGs."""
    try:
        from airflow.models.serialized_dag import SerializedDagModel
        from airflow.utils.session import create_session
        from sqlalchemy import select

        rows = []
        with create_session() as session:
            for model in session.scalars(select(SerializedDagModel)):
                data = model.data or {}
                dag = data.get("dag", {})
                for task in dag.get("tasks", []):
                    fields_ = task.get("__var", task) if isinstance(task, dict) else {}
                    rows.append((dag.get("dag_id", "?"), fields_.get("task_id", "?"), fields_))
        return inventory.usage_from_dags(rows)
    except Exception as exc:  # optional information: the page works without it
        log.debug("DAG usage not available: %s", type(exc).__name__)
        return {}


def _access(method: Literal["GET", "PUT"]) -> Callable[..., Any]:
    """Airflow's own connection check for ``method``; yields the user's name (for the log)."""
    check = requires_access_connection(method)

    async def dependency(request: Request, user: GetUserDep) -> str:
        await check(request, user)
        return str(user.get_name())

    return dependency


Reader = Annotated[str, Depends(_access("GET"))]  # may read connections
Editor = Annotated[str, Depends(_access("PUT"))]  # may edit connections


def _json_only(request: Request) -> None:
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, "send application/json")


def create_app(
    backend_provider: Callable[[], Any] = configured_backend,
    policy_provider: Callable[[], inventory.PolicySet] = configured_policy,
    usage_provider: Callable[[], dict[str, list[str]]] = dag_usage,
) -> FastAPI:
    app = FastAPI(title="pipeline-secrets: Secrets", docs_url=None, redoc_url=None)
    json_only = [Depends(_json_only)]

    def backend_or_503() -> Any:
        backend = backend_provider()
        if backend is None:
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE,
                "the secrets backend is not airflow_plugin.secrets_manager.SecretsManagerBackend",
            )
        return backend

    def served_or_404(backend: Any, name: str) -> None:
        if inventory.served_name(backend, name) is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "not a secret this backend serves")

    @app.get("/", response_class=HTMLResponse)
    def page(user: Reader) -> HTMLResponse:
        html = resources.files("airflow_plugin.ui").joinpath("page.html").read_text()
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    @app.get("/api/secrets")
    def list_secrets(user: Reader) -> dict[str, Any]:
        backend = backend_or_503()
        try:
            policy = policy_provider()
        except (OSError, ValueError) as exc:
            raise HTTPException(
                status.HTTP_500_INTERNAL_SERVER_ERROR,
                f"[{POLICY_SECTION}] {POLICY_OPTION} is not a valid audit policy: {exc}",
            ) from None
        report = inventory.build_inventory(backend, policy, usage=usage_provider())
        return report.to_dict()

    def act(
        action: str, run: Callable[[Any, str], dict[str, Any]], secret: str, user: str, done: str
    ) -> dict[str, Any]:
        """``run`` on a secret this backend serves, recorded as ``action``: ``done`` with the
        version it returns; ``refused`` (409) without rotation configured; ``failed`` (502)."""
        backend = backend_or_503()
        served_or_404(backend, secret)
        try:
            result = run(backend, secret)
        except actions.RotationNotConfiguredError as exc:
            actions.record(action, secret, user, "refused", "no rotation")
            raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
        except actions.SecretError as exc:
            actions.record(action, secret, user, "failed", type(exc).__name__)
            raise HTTPException(status.HTTP_502_BAD_GATEWAY, actions.describe(exc)) from None
        actions.record(action, secret, user, done, str(result["version_id"]))
        return result

    @app.post("/api/secrets/refresh", dependencies=json_only)
    def refresh(user: Reader, secret: Annotated[str, Body(embed=True)]) -> dict[str, Any]:
        return act("refresh_now", actions.refresh_now, secret, user, done="ok")

    @app.post("/api/secrets/rotate", dependencies=json_only)
    def rotate(user: Editor, secret: Annotated[str, Body(embed=True)]) -> dict[str, Any]:
        return act("rotate_now", actions.rotate_now, secret, user, done="started")

    return app
