"""The functional front door and the import boundary of the core."""

from __future__ import annotations

import subprocess
import sys

import pipeline_secrets as ps
from pipeline_secrets import ClientSettings


def test_front_door_functions_share_one_cache(moto, put_secret) -> None:  # type: ignore[no-untyped-def]
    put_secret(
        "api/json", {"username": "u", "password": "front-door-pw", "engine": "mysql", "host": "h"}
    )
    put_secret("api/bin", b"\x01\x02bytes-value", binary=True)
    ps.configure(client_settings=ClientSettings.create(endpoint_url=moto.endpoint_url))
    assert ps.get_secret_json("api/json")["username"] == "u"
    assert ps.get_db_credentials("api/json").engine == "mysql"
    assert ps.get_secret("api/bin") == b"\x01\x02bytes-value"
    stats = ps.stats()
    assert stats["api_calls"] == {"GetSecretValue": 2}
    assert stats["hits"] == 1


def test_core_imports_no_framework_or_driver() -> None:
    code = (
        "import sys, pipeline_secrets, pipeline_secrets.tools.cli;"
        "bad = sorted({m.split('.')[0] for m in sys.modules} & {'airflow', 'pyspark', "
        "'psycopg2', 'psycopg', 'pymysql', 'sqlalchemy', 'redshift_connector', 'glue_lib', "
        "'airflow_plugin', 'oracledb', 'pyodbc'});"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_front_door_reads_through_an_agent_from_the_environment(  # type: ignore[no-untyped-def]
    moto, put_secret, monkeypatch
) -> None:
    from pipeline_secrets import api
    from pipeline_secrets.agent.client import AgentSource
    from pipeline_secrets.cache import SecretCache
    from pipeline_secrets.source import SecretsManagerSource
    from pipeline_secrets.tools.agent_server.server import Agent, AgentConfig

    put_secret("api/agent", "through-the-agent")
    token = "api-token-" + "Nw6Jc3Xp8Bd2Ys5T"
    agent = Agent(
        SecretCache(SecretsManagerSource()),
        AgentConfig(port=0, token=token, allowed_prefixes=("api/",)),
    )
    agent.start_in_thread()
    try:
        monkeypatch.setenv("PIPELINE_SECRETS_AGENT_ADDRESS", f"http://127.0.0.1:{agent.port}")
        monkeypatch.setenv("PIPELINE_SECRETS_AGENT_TOKEN", token)
        cache = ps.configure()
        assert isinstance(cache.source, AgentSource)
        assert ps.get_secret("api/agent") == "through-the-agent"
        assert ps.stats()["agent_hits"] == 1
        assert agent.cache.stats.snapshot()["api_calls"] == {"GetSecretValue": 1}
        # A cache an integration adopts (our Airflow backend's) does not replace one
        # chosen with configure(); a lazily created default it does replace.
        other = SecretCache(SecretsManagerSource())
        assert api.adopt_default(other) is cache
        monkeypatch.setattr(api, "_configured", False)
        assert api.adopt_default(other) is other and api.default_cache() is other
    finally:
        agent.stop()
        ps.configure()
