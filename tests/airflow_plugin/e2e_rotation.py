"""Rotation steps for the end-to-end DAG while ``pipeline_secrets.rotation`` is absent.

Each user changes its own password (PostgreSQL ``ALTER USER``, MariaDB ``SET PASSWORD``)
as single-user rotation does; new passwords are random and are
never printed. The pending tokens are kept in the secret's AWSPENDING stage.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from pipeline_secrets.client import ClientFactory
from tests.airflow_plugin import rotation_sim


def _client() -> Any:
    return ClientFactory().client()


def _set_own_password(old: dict[str, Any]) -> rotation_sim.SetPassword:
    def set_password(user: str, password: str) -> None:
        if old["engine"] == "postgres":
            import psycopg2
            from psycopg2 import sql

            conn = psycopg2.connect(
                host=old["host"],
                port=old["port"],
                user=user,
                password=old["password"],
                dbname=old["dbname"],
            )
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(
                    sql.SQL("ALTER USER {} PASSWORD %s").format(sql.Identifier(user)), (password,)
                )
            conn.close()
        else:
            import pymysql

            conn = pymysql.connect(
                host=old["host"], port=int(old["port"]), user=user, password=old["password"]
            )
            with conn.cursor() as cur:
                cur.execute("SET PASSWORD = PASSWORD(%s)", (password,))
            conn.close()

    return set_password


def begin_all(secret_ids: list[str]) -> None:
    client = _client()
    for secret_id in secret_ids:
        old = json.loads(
            client.get_secret_value(SecretId=secret_id, VersionStage="AWSCURRENT")["SecretString"]
        )
        new_password = "r" + secrets.token_urlsafe(18)
        rotation_sim.start(client, secret_id, new_password, _set_own_password(old))


def finish_all(secret_ids: list[str]) -> None:
    client = _client()
    for secret_id in secret_ids:
        stages = client.describe_secret(SecretId=secret_id)["VersionIdsToStages"]
        token = next(v for v, s in stages.items() if "AWSPENDING" in s)
        old_version = next(v for v, s in stages.items() if "AWSCURRENT" in s)
        rotation_sim.finish(rotation_sim.Rotation(client, secret_id, token, old_version))
