"""The example stack for the DAG and Glue-job tests: a moto server, the
password-checking PostgreSQL cluster, seeded data and secrets; every password any
secret version holds is registered with the leak guard.

moto keeps its state per process, shared by every server in it: a ``moto`` fixture's
reset elsewhere wipes these secrets too. The session fixtures using this are only
used by the tests of one directory, which pytest runs one after another.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from devstack import stack
from devstack.moto_server import MotoServer, start_moto
from devstack.seed import Admin, SeedResult, seed
from tests.leakguard import GUARD


@dataclass
class ExampleStack:
    moto: MotoServer
    admin: Admin
    seeded: SeedResult

    def client(self) -> Any:
        return self.moto.client()

    def register_secrets(self) -> set[str]:
        """Register every version's password with the leak guard; return them."""
        client = self.client()
        found: set[str] = set()
        for secret_id in self.seeded.secret_ids:
            stages = client.describe_secret(SecretId=secret_id)["VersionIdsToStages"]
            for version in stages:
                text = client.get_secret_value(SecretId=secret_id, VersionId=version)
                password = json.loads(text["SecretString"]).get("password")
                if password:
                    GUARD.register(password)
                    found.add(password)
        return found

    def rows(self, dbname: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[str, ...]]:
        conn = self.admin.connect(dbname)
        try:
            with conn.cursor() as cur:
                cur.execute(sql, params)
                return [tuple(str(v) for v in row) for row in cur.fetchall()]
        finally:
            conn.close()

    def execute(self, dbname: str, sql: str, params: tuple[Any, ...] = ()) -> None:
        conn = self.admin.connect(dbname)
        try:
            with conn.cursor() as cur:
                cur.execute(sql, params)
        finally:
            conn.close()

    def source_totals(self, start: str, end: str) -> list[tuple[str, ...]]:
        return self.rows(
            stack.SOURCE_DB,
            "SELECT order_date, count(*), count(DISTINCT customer_id), sum(amount) "
            f"FROM {stack.ORDERS_TABLE} WHERE order_date >= %s AND order_date < %s "
            "GROUP BY order_date ORDER BY order_date",
            (start, end),
        )

    def target_totals(self, start: str, end: str) -> list[tuple[str, ...]]:
        return self.rows(
            stack.TARGET_DB,
            f"SELECT order_date, orders, customers, revenue FROM {stack.DAILY_TABLE} "
            "WHERE order_date >= %s AND order_date < %s ORDER BY order_date",
            (start, end),
        )


@contextmanager
def example_stack(pg_cluster: Any, *, orders_per_day: int = 200) -> Iterator[ExampleStack]:
    moto = start_moto()
    try:
        admin = Admin(
            pg_cluster.host, pg_cluster.port, pg_cluster.admin_user, pg_cluster.admin_password
        )
        GUARD.register(pg_cluster.admin_password)
        seeded = seed(moto.client(), admin, admin, days=7, orders_per_day=orders_per_day)
        example = ExampleStack(moto, admin, seeded)
        example.execute(stack.TARGET_DB, f"DELETE FROM {stack.DAILY_TABLE}")
        example.register_secrets()
        yield example
    finally:
        moto.stop()
