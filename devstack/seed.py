"""Seed the example stack: database users with passwords, sample orders, and the
secrets that hold those credentials. Used by the demo, the tests and docker-compose.

    python -m devstack.seed --source-admin-dsn postgresql://postgres:pw@rds:5432/postgres \
        --target-admin-dsn postgresql://postgres:pw@redshift:5432/postgres \
        [--source-host rds --target-host redshift] [--days 7 --orders-per-day 500]

The generated passwords go to Secrets Manager only; nothing prints them.
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import sys
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlsplit

from devstack import stack
from devstack.postgres import PostgresCluster

# Characters the generated passwords use: URI-special ones included on purpose.
_SPECIAL_CHARACTERS = "-_.~!*@#%^+="


@dataclass(frozen=True)
class Admin:
    host: str
    port: int
    user: str
    password: str

    @classmethod
    def from_dsn(cls, dsn: str) -> Admin:
        parts = urlsplit(dsn)
        from urllib.parse import unquote

        return cls(
            parts.hostname or "127.0.0.1",
            parts.port or 5432,
            unquote(parts.username or "postgres"),
            unquote(parts.password or ""),
        )

    def connect(self, dbname: str = "postgres") -> Any:
        import psycopg2

        conn = psycopg2.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=dbname,
            connect_timeout=10,
        )
        conn.autocommit = True
        return conn

    def cluster(self) -> PostgresCluster:
        """The same server, with devstack's user and database helpers."""
        return PostgresCluster(self.host, self.port, self.user, self.password)


def new_password(length: int = 24) -> str:
    alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789" + _SPECIAL_CHARACTERS
    return "".join(secrets.choice(alphabet) for _ in range(length))


def ensure_user_and_db(admin: Admin, user: str, password: str, dbname: str) -> None:
    cluster = admin.cluster()
    cluster.create_user(user, password)
    cluster.create_database(dbname, owner=user)


def ensure_master_user(admin: Admin, user: str, password: str) -> None:
    """A user allowed to change other users' passwords (alternating-users rotation)."""
    admin.cluster().create_user(user, password, createrole=True)


def orders_rows(days: int, per_day: int, start: date, seed: int = 7) -> list[tuple[Any, ...]]:
    rng = random.Random(seed)
    rows = []
    order_id = 1
    for day in range(days):
        when = start + timedelta(days=day)
        for _ in range(per_day):
            rows.append((order_id, when, rng.randint(1, 200), round(rng.uniform(5, 500), 2)))
            order_id += 1
    return rows


def load_orders(admin: Admin, rows: list[tuple[Any, ...]]) -> None:
    from psycopg2.extras import execute_values

    conn = admin.connect(stack.SOURCE_DB)
    try:
        with conn.cursor() as cur:
            cur.execute(f"""
                CREATE TABLE IF NOT EXISTS {stack.ORDERS_TABLE} (
                    order_id bigint PRIMARY KEY, order_date date NOT NULL,
                    customer_id int NOT NULL, amount numeric(12, 2) NOT NULL)""")
            cur.execute(f"TRUNCATE {stack.ORDERS_TABLE}")
            execute_values(cur, f"INSERT INTO {stack.ORDERS_TABLE} VALUES %s", rows, page_size=5000)
            cur.execute(f"ALTER TABLE {stack.ORDERS_TABLE} OWNER TO {stack.SOURCE_USER}")
    finally:
        conn.close()


def create_target_table(admin: Admin) -> None:
    conn = admin.connect(stack.TARGET_DB)
    try:
        with conn.cursor() as cur:
            cur.execute(f"""
                CREATE TABLE IF NOT EXISTS {stack.DAILY_TABLE} (
                    order_date date PRIMARY KEY, orders bigint NOT NULL,
                    customers bigint NOT NULL, revenue numeric(14, 2) NOT NULL,
                    loaded_at timestamptz NOT NULL DEFAULT now())""")
            cur.execute(f"ALTER TABLE {stack.DAILY_TABLE} OWNER TO {stack.TARGET_USER}")
    finally:
        conn.close()


def _db_secret(at: tuple[str, int], username: str, password: str, dbname: str) -> dict[str, Any]:
    """A secret in the RDS rotation JSON shape, for a PostgreSQL user."""
    host, port = at
    return {
        "engine": "postgres",
        "host": host,
        "port": port,
        "username": username,
        "password": password,
        "dbname": dbname,
    }


def put_secret(client: Any, name: str, document: dict[str, Any]) -> None:
    put_secret_plain(client, name, json.dumps(document))


def _make_current(client: Any, name: str, version: str) -> None:
    """Leave AWSCURRENT on ``version`` only. A no-op on AWS (PutSecretValue moves it).
    moto, after a rotation moved the label with UpdateSecretVersionStage, leaves it on
    the rotated version too (and GetSecretValue returns that one): take it off there.
    (Moving it again with MoveToVersionId would label the new version twice, which
    breaks the next rotation's finishSecret.)"""
    stages = client.describe_secret(SecretId=name).get("VersionIdsToStages", {})
    for other, labels in stages.items():
        if other != version and "AWSCURRENT" in labels:
            client.update_secret_version_stage(
                SecretId=name, VersionStage="AWSCURRENT", RemoveFromVersionId=other
            )


@dataclass(frozen=True)
class SeedResult:
    orders: int
    first_day: date
    days: int
    secret_ids: tuple[str, ...]


def seed(
    client: Any,
    source_admin: Admin,
    target_admin: Admin,
    *,
    source_host: str | None = None,
    target_host: str | None = None,
    source_port: int | None = None,
    target_port: int | None = None,
    days: int = 7,
    orders_per_day: int = 500,
    first_day: date = date(2026, 11, 1),
) -> SeedResult:
    """Create users, databases, sample data and secrets. Idempotent."""
    source_pw, target_pw, master_pw = new_password(), new_password(), new_password()
    ensure_user_and_db(source_admin, stack.SOURCE_USER, source_pw, stack.SOURCE_DB)
    ensure_user_and_db(target_admin, stack.TARGET_USER, target_pw, stack.TARGET_DB)
    ensure_master_user(source_admin, "pipeline_master", master_pw)
    rows = orders_rows(days, orders_per_day, first_day)
    load_orders(source_admin, rows)
    create_target_table(target_admin)
    source_at = (source_host or source_admin.host, source_port or source_admin.port)
    target_at = (target_host or target_admin.host, target_port or target_admin.port)
    # The local servers have no TLS: say so explicitly, since rotation otherwise
    # insists on verified TLS for the master connection (docs/rotation.md).
    put_secret(
        client,
        stack.MASTER_SECRET_ID,
        {**_db_secret(source_at, "pipeline_master", master_pw, "postgres"), "ssl": False},
    )
    put_secret(
        client,
        stack.SOURCE_SECRET_ID,
        _db_secret(source_at, stack.SOURCE_USER, source_pw, stack.SOURCE_DB),
    )
    # On AWS this would be engine "redshift"; here PostgreSQL stands in for Redshift.
    put_secret(
        client,
        stack.TARGET_SECRET_ID,
        _db_secret(target_at, stack.TARGET_USER, target_pw, stack.TARGET_DB),
    )
    put_secret_plain(client, f"{stack.VARIABLES_PREFIX}/min_order_amount", "10")
    put_secret_plain(
        client,
        f"{stack.VARIABLES_PREFIX}/{stack.SETTINGS_VARIABLE}",
        json.dumps(stack.LOCAL_SETTINGS),
    )
    return SeedResult(
        len(rows),
        first_day,
        days,
        (stack.SOURCE_SECRET_ID, stack.TARGET_SECRET_ID, stack.MASTER_SECRET_ID),
    )


def put_secret_plain(client: Any, name: str, text: str) -> None:
    """Create the secret, or make ``text`` its new AWSCURRENT version (re-seeding)."""
    try:
        client.create_secret(Name=name, SecretString=text)
    except client.exceptions.ResourceExistsException:
        version = client.put_secret_value(SecretId=name, SecretString=text)["VersionId"]
        _make_current(client, name, version)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--source-admin-dsn", required=True)
    parser.add_argument("--target-admin-dsn", required=True)
    parser.add_argument("--source-host", help="host name clients use (default: the admin's)")
    parser.add_argument("--target-host")
    parser.add_argument("--source-port", type=int)
    parser.add_argument("--target-port", type=int)
    parser.add_argument("--endpoint-url", help="Secrets Manager endpoint (default: boto3's)")
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--orders-per-day", type=int, default=500)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import boto3

    client = boto3.client(
        "secretsmanager", endpoint_url=args.endpoint_url, region_name=stack.REGION
    )
    result = seed(
        client,
        Admin.from_dsn(args.source_admin_dsn),
        Admin.from_dsn(args.target_admin_dsn),
        source_host=args.source_host,
        target_host=args.target_host,
        source_port=args.source_port,
        target_port=args.target_port,
        days=args.days,
        orders_per_day=args.orders_per_day,
    )
    print(
        f"seeded {result.orders} orders over {result.days} days and secrets "
        f"{', '.join(result.secret_ids)}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
