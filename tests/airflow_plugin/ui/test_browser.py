"""The Secrets page rendered by headless Chromium from a real ``airflow api-server``
(SimpleAuthManager, everyone admin): seeded names and rotation state appear, values
never do. With ``UPDATE_SCREENSHOTS=1`` the screenshots replace docs/img/secrets-page.png
(the README's) and docs/img/secrets-page-in-airflow.png."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from devstack.airflow_env import AirflowHome
from tests.airflow_plugin.ui.conftest import ROOT, ApiServer, Seeded
from tests.leakguard import GUARD

pytestmark = [pytest.mark.airflow, pytest.mark.slow]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOT = ROOT / "docs" / "img" / "secrets-page.png"


def keep(shot: Path, target: Path) -> None:
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, target)


@pytest.fixture(scope="module")
def admin_server(ui_home: AirflowHome, plugin_path: str, ui_seeded: Seeded) -> Iterator[ApiServer]:
    env = {
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        # Every kind must rotate, so the page shows a FAIL verdict for the unrotated one
        # (the default policy asks rotation of database credentials only).
        "AIRFLOW__PIPELINE_SECRETS__AUDIT_POLICY": json.dumps({"require_rotation": True}),
    }
    api = ApiServer(ui_home, plugin_path, env)
    yield api
    api.stop()


def chromium(url: str, profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (scripts/setup.sh installs it)")
    profile.mkdir(parents=True, exist_ok=True)
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=15000",
        "--window-size=1440,900",
    ]
    return subprocess.run(
        [CHROMIUM, *flags, *extra, url], capture_output=True, text=True, timeout=180
    )


class _Rows(HTMLParser):
    """The text of each ``<tr data-secret=...>`` of the rendered table."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, list[str]] = {}
        self._current: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self._current = dict(attrs).get("data-secret")
            if self._current:
                self.rows[self._current] = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr":
            self._current = None

    def handle_data(self, data: str) -> None:
        if self._current and data.strip():
            self.rows[self._current].append(data.strip())


def test_page_renders_names_and_rotation_state(
    admin_server: ApiServer, ui_seeded: Seeded, tmp_path: Path
) -> None:
    for name in (ui_seeded.rotated, ui_seeded.variable):  # "refresh now": into the cache
        body = {"secret": name}
        assert (
            admin_server.request("POST", "/pipeline-secrets/api/secrets/refresh", body=body)[0]
            == 200
        )
    url = f"{admin_server.url}/pipeline-secrets/"
    dumped = chromium(url, tmp_path / "profile-dom", "--dump-dom")
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    dom = dumped.stdout
    assert not GUARD.find(dom), "a seeded secret value reached the rendered page"
    parser = _Rows()
    parser.feed(dom)
    rows = parser.rows
    assert set(rows) == {ui_seeded.rotated, ui_seeded.plain, ui_seeded.variable}, dom[-3000:]
    rotated, plain = rows[ui_seeded.rotated], rows[ui_seeded.plain]
    assert "enabled" in rotated and "every 30 days" in rotated and "ok" in rotated
    assert "Rotate now" in rotated
    assert "disabled" in plain and "FAIL" in plain and "Rotate now" not in plain
    assert "variable" in rows[ui_seeded.variable]
    assert rotated[rotated.index("ok") + 1] == "yes"  # cached after refresh now
    assert plain[plain.index("FAIL") + 2] == "no"  # after the finding: not cached
    assert "cache hits" in dom and "API calls by operation" in dom

    shot = tmp_path / "secrets-page.png"
    taken = chromium(url, tmp_path / "profile-shot", f"--screenshot={shot}")
    assert taken.returncode == 0 and shot.stat().st_size > 10_000, taken.stderr[-2000:]
    keep(shot, SCREENSHOT)


def test_page_is_in_airflows_navigation(admin_server: ApiServer) -> None:
    """The external view Airflow's UI builds its menu from (``/plugin/secrets``)."""
    status, body = admin_server.request("GET", "/api/v2/plugins")
    assert status == 200
    (ours,) = [p for p in body["plugins"] if p["name"] == "pipeline_secrets"]
    (view,) = ours["external_views"]
    assert (view["name"], view["href"], view["url_route"]) == (
        "Secrets",
        "/pipeline-secrets/",
        "secrets",
    )
    assert ours["fastapi_apps"][0]["url_prefix"] == "/pipeline-secrets"
    assert _import_errors(admin_server) == []


def test_airflow_ui_embeds_the_page(admin_server: ApiServer, tmp_path: Path) -> None:
    """Airflow's own React UI at ``/plugin/secrets`` shows the page in its frame."""
    dumped = chromium(f"{admin_server.url}/plugin/secrets", tmp_path / "profile-nav", "--dump-dom")
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    assert 'src="/pipeline-secrets/"' in dumped.stdout, dumped.stdout[-3000:]
    shot = tmp_path / "in-airflow.png"
    taken = chromium(
        f"{admin_server.url}/plugin/secrets", tmp_path / "profile-nav-shot", f"--screenshot={shot}"
    )
    assert taken.returncode == 0 and shot.stat().st_size > 10_000
    keep(shot, SCREENSHOT.with_name("secrets-page-in-airflow.png"))


def _import_errors(server: ApiServer) -> list[Any]:
    status, body = server.request("GET", "/api/v2/importErrors")
    return (
        [] if status != 200 else [e for e in body.get("import_errors", []) if "secrets" in str(e)]
    )
