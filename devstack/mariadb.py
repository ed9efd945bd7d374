"""Users with passwords on the local MariaDB (root connects without a password).

MariaDB checks the password of every user we create, so rotation tests work against
the machine's own server. ``PIPELINE_SECRETS_MARIADB_ADMIN_DSN``
(``mysql://root:pw@host:port``) names another server.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit


@dataclass
class MariaDBServer:
    host: str = "127.0.0.1"
    port: int = 3306
    admin_user: str = "root"
    admin_password: str = field(default="", repr=False)

    def connect(
        self, user: str | None = None, password: str | None = None, database: str | None = None
    ) -> Any:
        import pymysql

        return pymysql.connect(
            host=self.host,
            port=self.port,
            user=user or self.admin_user,
            password=self.admin_password if password is None else password,
            database=database,
            connect_timeout=5,
            autocommit=True,
        )

    def admin_sql(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(sql, params)
        finally:
            conn.close()

    def create_database(self, name: str) -> None:
        self.admin_sql(f"CREATE DATABASE IF NOT EXISTS `{name}`")

    def drop_database(self, name: str) -> None:
        self.admin_sql(f"DROP DATABASE IF EXISTS `{name}`")

    def create_user(
        self, name: str, password: str, database: str | None = None, *, grant_option: bool = False
    ) -> None:
        self.admin_sql("CREATE OR REPLACE USER %s@'%%' IDENTIFIED BY %s", (name, password))
        if database:
            extra = " WITH GRANT OPTION" if grant_option else ""
            self.admin_sql(f"GRANT ALL PRIVILEGES ON `{database}`.* TO %s@'%%'{extra}", (name,))

    def drop_user(self, name: str) -> None:
        self.admin_sql("DROP USER IF EXISTS %s@'%%'", (name,))


def server() -> MariaDBServer:
    dsn = os.environ.get("PIPELINE_SECRETS_MARIADB_ADMIN_DSN")
    if dsn:
        parts = urlsplit(dsn)
        return MariaDBServer(
            parts.hostname or "127.0.0.1",
            parts.port or 3306,
            parts.username or "root",
            parts.password or "",
        )
    return MariaDBServer()


def ensure_running(timeout: float = 30.0) -> MariaDBServer:
    srv = server()
    try:
        srv.connect().close()
        return srv
    except Exception:
        subprocess.run(
            [
                "start-stop-daemon",
                "--start",
                "--oknodo",
                "--background",
                "--exec",
                "/usr/sbin/mariadbd",
            ],
            check=False,
        )
    deadline = time.monotonic() + timeout
    while True:
        try:
            srv.connect().close()
            return srv
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
