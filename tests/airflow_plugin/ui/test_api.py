"""The Secrets page's API in a real api-server (SimpleAuthManager with three users)
against a moto server: what it lists, that no value ever leaves, who may do what."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devstack.airflow_env import AirflowHome
from devstack.moto_server import MotoServer
from tests.airflow_plugin.test_metrics import PREFIX, UdpListener
from tests.airflow_plugin.ui.conftest import ApiServer, Seeded
from tests.leakguard import GUARD

pytestmark = [pytest.mark.airflow, pytest.mark.slow]

API = "/pipeline-secrets/api/secrets"
USERS = {"admin": "admin", "operator": "op", "viewer": "viewer"}


@pytest.fixture(scope="module")
def statsd() -> Iterator[UdpListener]:
    listener = UdpListener()
    yield listener
    listener.close()


@pytest.fixture(scope="module")
def server(
    ui_home: AirflowHome,
    plugin_path: str,
    ui_seeded: Seeded,
    tmp_path_factory: Any,
    statsd: UdpListener,
) -> Iterator[ApiServer]:
    passwords = tmp_path_factory.mktemp("auth") / "passwords.json"
    passwords.write_text(json.dumps({user: f"{user}-pw-for-tests" for user in USERS}))
    env = {
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(
            f"{user}:{role}" for user, role in USERS.items()
        ),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__METRICS__STATSD_ON": "True",
        "AIRFLOW__METRICS__STATSD_HOST": "127.0.0.1",
        "AIRFLOW__METRICS__STATSD_PORT": str(statsd.port),
        "AIRFLOW__METRICS__STATSD_PREFIX": PREFIX,
        "AIRFLOW__PIPELINE_SECRETS__AUDIT_POLICY": json.dumps(
            {"require_rotation": True, "warn_only": []}
        ),
    }
    api = ApiServer(ui_home, plugin_path, env)
    yield api
    api.stop()


@pytest.fixture(scope="module")
def tokens(server: ApiServer) -> dict[str, str]:
    found = {}
    for user in USERS:
        status, body = server.request(
            "POST", "/auth/token", body={"username": user, "password": f"{user}-pw-for-tests"}
        )
        assert status == 201, f"login of {user} failed: {status}"
        found[user] = body["access_token"]
    return found


def _no_values(text: str) -> None:
    found = GUARD.find(text)
    assert not found, f"{len(found)} seeded secret value(s) in an API response"


def test_inventory_lists_served_secrets_with_rotation_state(
    server: ApiServer, tokens: dict[str, str], ui_seeded: Seeded
) -> None:
    status, body = server.request("GET", API, token=tokens["admin"])
    assert status == 200, body
    _no_values(json.dumps(body))
    rows = {row["name"]: row for row in body["secrets"]}
    assert set(rows) == {ui_seeded.rotated, ui_seeded.plain, ui_seeded.variable}
    rotated, plain, variable = (
        rows[ui_seeded.rotated],
        rows[ui_seeded.plain],
        rows[ui_seeded.variable],
    )
    assert (rotated["kind"], rotated["key"]) == ("connection", "ui_orders_db")
    assert (variable["kind"], variable["key"]) == ("variable", "ui_api_token")
    assert rotated["rotation_enabled"] is True
    assert rotated["rotation_schedule"] == "every 30 days"
    assert rotated["next_rotation"] and rotated["last_rotation"]
    assert rotated["audit_status"] == "ok"
    assert rotated["used_by"] == ["ui_uses_orders.count_orders"]
    assert plain["used_by"] == []
    assert plain["rotation_enabled"] is False
    assert plain["audit_status"] == "FAIL"
    assert [f["rule"] for f in plain["findings"]] == ["rotation-disabled"]
    assert body["prefixes"] == {
        "connections": ["airflow/connections/"],
        "variables": ["airflow/variables/"],
    }
    cache = body["health"]["cache"]
    assert cache["api_calls"]["ListSecrets"] >= 2
    assert body["health"]["agent"] is None


def test_no_response_carries_a_value(
    server: ApiServer, tokens: dict[str, str], ui_seeded: Seeded
) -> None:
    """Also after the backend has read every value (cache filled by refresh now)."""
    for name in (ui_seeded.rotated, ui_seeded.plain, ui_seeded.variable):
        status, body = server.request(
            "POST", f"{API}/refresh", token=tokens["admin"], body={"secret": name}
        )
        assert status == 200, body
        assert set(body) == {"secret", "version_id", "via_agent"}
        _no_values(json.dumps(body))
    status, body = server.request("GET", API, token=tokens["admin"])
    assert status == 200
    _no_values(json.dumps(body))
    assert all(row["cached"] for row in body["secrets"])
    assert body["health"]["cache"]["misses"] >= 3
    assert body["health"]["last_fetch"]
    status, page = server.request("GET", "/pipeline-secrets/", token=tokens["admin"])
    assert status == 200 and "<table" in page
    _no_values(page)
    _no_values(server.log_text())


def test_without_connection_read_access_403(
    server: ApiServer, tokens: dict[str, str], ui_seeded: Seeded
) -> None:
    viewer = tokens["viewer"]
    assert server.request("GET", API, token=viewer)[0] == 403
    assert server.request("GET", "/pipeline-secrets/", token=viewer)[0] == 403
    assert (
        server.request("POST", f"{API}/refresh", token=viewer, body={"secret": ui_seeded.rotated})[
            0
        ]
        == 403
    )
    assert (
        server.request("POST", f"{API}/rotate", token=viewer, body={"secret": ui_seeded.rotated})[0]
        == 403
    )
    assert server.request("GET", API)[0] == 401  # no credentials at all


def test_refresh_is_limited_to_served_secrets(
    server: ApiServer, tokens: dict[str, str], ui_seeded: Seeded
) -> None:
    status, body = server.request(
        "POST", f"{API}/refresh", token=tokens["admin"], body={"secret": ui_seeded.outside}
    )
    assert status == 404
    _no_values(json.dumps(body))


def test_actions_need_json(server: ApiServer, tokens: dict[str, str], ui_seeded: Seeded) -> None:
    """A cross-site HTML form cannot send JSON: it cannot make the user's browser act."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        server.url + f"{API}/refresh",
        data=f"secret={ui_seeded.rotated}".encode(),
        method="POST",
        headers={
            "Authorization": f"Bearer {tokens['admin']}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    with pytest.raises(urllib.error.HTTPError) as failed:
        urllib.request.urlopen(request, timeout=30)
    assert failed.value.code == 415


def test_rotate_now_needs_rotation_configured(
    server: ApiServer, tokens: dict[str, str], ui_seeded: Seeded
) -> None:
    status, body = server.request(
        "POST", f"{API}/rotate", token=tokens["operator"], body={"secret": ui_seeded.plain}
    )
    assert status == 409
    assert "no rotation Lambda" in body["detail"]


def test_rotate_now_starts_the_rotation_and_is_audited(
    server: ApiServer,
    tokens: dict[str, str],
    ui_seeded: Seeded,
    ui_moto: MotoServer,
    ui_home: AirflowHome,
) -> None:
    client = ui_moto.client()
    before = client.describe_secret(SecretId=ui_seeded.rotated)["VersionIdsToStages"]
    status, body = server.request(
        "POST", f"{API}/rotate", token=tokens["operator"], body={"secret": ui_seeded.rotated}
    )
    assert status == 200, body
    after = client.describe_secret(SecretId=ui_seeded.rotated)["VersionIdsToStages"]
    assert body["version_id"] in after and body["version_id"] not in before
    # moto has no rotation Lambda to run: put the seeded value back as AWSCURRENT for the
    # tests that share this secret (the browser test refreshes it).
    current = next(v for v, stages in before.items() if "AWSCURRENT" in stages)
    for version, stages in after.items():
        for stage in {"AWSCURRENT", "AWSPENDING"} & set(stages):
            if version != current:
                kwargs = {"MoveToVersionId": current} if stage == "AWSCURRENT" else {}
                client.update_secret_version_stage(
                    SecretId=ui_seeded.rotated,
                    VersionStage=stage,
                    RemoveFromVersionId=version,
                    **kwargs,
                )
    assert set(body) == {"secret", "version_id"}
    _no_values(json.dumps(body))
    rows = _audit_rows(ui_home)
    assert ("pipeline_secrets.rotate_now", "operator") in {(e, o) for e, o, _ in rows}
    assert any(e == "pipeline_secrets.refresh_now" and o == "admin" for e, o, _ in rows)
    assert any(
        ui_seeded.rotated in (x or "") for e, _o, x in rows if e == "pipeline_secrets.rotate_now"
    )
    assert "Secrets page: user 'operator': rotate_now of secret" in server.log_text()


def _audit_rows(home: AirflowHome) -> list[tuple[str, str, str]]:
    import sqlite3

    db = Path(home.path) / "airflow.db"
    with sqlite3.connect(db) as conn:
        return [
            (str(e), str(o), str(x))
            for e, o, x in conn.execute(
                "SELECT event, owner, extra FROM log WHERE event LIKE 'pipeline_secrets.%'"
            )
        ]


def test_the_api_server_reports_metrics_through_airflows_statsd(
    server: ApiServer, tokens: dict[str, str], ui_seeded: Seeded, statsd: UdpListener
) -> None:
    """The plugin binds the core's events to the api-server's own Stats (StatsD here)."""
    statsd.counters()  # drop what earlier tests sent
    assert server.request("GET", API, token=tokens["admin"])[0] == 200
    body = {"secret": ui_seeded.variable}
    assert server.request("POST", f"{API}/refresh", token=tokens["admin"], body=body)[0] == 200
    got = statsd.counters()
    assert got["pipeline_secrets.api_calls.ListSecrets"] == 2
    assert got["pipeline_secrets.api_calls.DescribeSecret"] >= 3
    assert got["pipeline_secrets.ui.actions.refresh_now.ok"] == 1
    assert got["pipeline_secrets.api_calls.GetSecretValue"] == 1
