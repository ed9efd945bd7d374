"""The seeder creates password-checked users whose passwords live only in the secrets."""

from __future__ import annotations

import json

import psycopg2
import pytest

from devstack import stack
from devstack.seed import Admin, seed


def test_seed_creates_working_credentials(moto, pg_cluster, leak_registry) -> None:  # type: ignore[no-untyped-def]
    admin = Admin(
        pg_cluster.host, pg_cluster.port, pg_cluster.admin_user, pg_cluster.admin_password
    )
    client = moto.client()
    result = seed(client, admin, admin, days=3, orders_per_day=20)
    assert result.orders == 60
    source = json.loads(
        client.get_secret_value(SecretId=stack.SOURCE_SECRET_ID, VersionStage="AWSCURRENT")[
            "SecretString"
        ]
    )
    leak_registry.register(source["password"])
    conn = psycopg2.connect(
        host=source["host"],
        port=source["port"],
        user=source["username"],
        password=source["password"],
        dbname=source["dbname"],
    )
    with conn.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {stack.ORDERS_TABLE}")
        assert cur.fetchone()[0] == 60
    conn.close()
    with pytest.raises(psycopg2.OperationalError):
        psycopg2.connect(
            host=source["host"],
            port=source["port"],
            user=source["username"],
            password="not-" + source["password"],
            dbname=source["dbname"],
        )
    # Seeding again rotates nothing by accident: it sets fresh passwords consistently.
    seed(client, admin, admin, days=3, orders_per_day=20)
    target = json.loads(
        client.get_secret_value(SecretId=stack.TARGET_SECRET_ID, VersionStage="AWSCURRENT")[
            "SecretString"
        ]
    )
    leak_registry.register(target["password"])
    psycopg2.connect(
        host=target["host"],
        port=target["port"],
        user=target["username"],
        password=target["password"],
        dbname=target["dbname"],
    ).close()


def test_seed_after_a_rotation_makes_the_new_password_current(  # type: ignore[no-untyped-def]
    moto, pg_cluster, leak_registry
) -> None:
    """moto leaves AWSCURRENT on the rotated version too after PutSecretValue; the
    seeder moves it, so a re-seeded stack (tests, a DSN reused) logs in."""
    from pipeline_secrets.rotation import rotate_secret

    admin = Admin(
        pg_cluster.host, pg_cluster.port, pg_cluster.admin_user, pg_cluster.admin_password
    )
    client = moto.client()
    seed(client, admin, admin, days=1, orders_per_day=5)
    rotate_secret(stack.SOURCE_SECRET_ID, client=client)
    seed(client, admin, admin, days=1, orders_per_day=5)
    for rotate_again in (False, True):  # and rotations after it still work
        if rotate_again:
            rotate_secret(stack.SOURCE_SECRET_ID, client=client)
        stages = client.describe_secret(SecretId=stack.SOURCE_SECRET_ID)["VersionIdsToStages"]
        current = [v for v, labels in stages.items() if "AWSCURRENT" in labels]
        assert len(current) == 1 and stages[current[0]] == ["AWSCURRENT"]
        value = client.get_secret_value(SecretId=stack.SOURCE_SECRET_ID, VersionStage="AWSCURRENT")
        assert value["VersionId"] == current[0]
        source = json.loads(value["SecretString"])
        leak_registry.register(source["password"])
        psycopg2.connect(
            host=source["host"],
            port=source["port"],
            user=source["username"],
            password=source["password"],
            dbname=source["dbname"],
        ).close()
