"""PostgreSQL and Aurora PostgreSQL (psycopg2).

SQL is composed with ``psycopg2.sql``: user names are ``sql.Identifier`` (upper case,
quotes and spaces work), passwords ``sql.Literal``. The password is hashed on the
client first (``encrypt_password``, libpq's PQencryptPasswordConn, with the server's
``password_encryption``), so the plain password never reaches the server's statement
log.
"""

from __future__ import annotations

import logging
from typing import Any

from pipeline_secrets.rotation.engines.base import CONNECT_TIMEOUT_SECONDS
from pipeline_secrets.rotation.target import DbTarget

log = logging.getLogger(__name__)

#: libpq's ``require_auth`` (libpq 16+): any method but a readable password.
NO_CLEARTEXT_AUTH = "!password"
REQUIRE_AUTH_LIBPQ = 160000
#: Roles whose members can act as a superuser or read/write the server's files.
PRIVILEGED_ROLES = (
    "rds_superuser",
    "pg_execute_server_program",
    "pg_read_server_files",
    "pg_write_server_files",
)
_NO_TLS_MESSAGES = ("server does not support ssl", "ssl was required")


class PostgresEngine:
    name = "postgres"
    max_username_length = 63  # NAMEDATALEN - 1

    def connect(self, target: DbTarget, *, timeout: int = CONNECT_TIMEOUT_SECONDS) -> Any:
        import psycopg2

        kwargs: dict[str, Any] = {
            "host": target.host,
            "port": target.port,
            "user": target.username,
            "password": target.password,
            "dbname": target.dbname,
            "connect_timeout": timeout,
        }
        tls = target.tls
        if tls.mode == "auto":
            try:
                return psycopg2.connect(**kwargs, **self._tls_kwargs("verify-full", tls.ca_file))
            except psycopg2.OperationalError as exc:
                if not _server_offers_no_tls(exc):
                    raise
            log.info("server %s:%s offers no TLS; connecting without it", target.host, target.port)
            return psycopg2.connect(**kwargs, **self._tls_kwargs("disable", None))
        return psycopg2.connect(**kwargs, **self._tls_kwargs(tls.mode, tls.ca_file))

    @staticmethod
    def _tls_kwargs(mode: str, ca_file: str | None) -> dict[str, Any]:
        """sslmode, the CA, and - unless the server is proven by verified TLS - a libpq
        that refuses to send the password readable."""
        from psycopg2.extensions import libpq_version

        kwargs: dict[str, Any] = {"sslmode": mode}
        if mode in {"verify-ca", "verify-full"}:
            kwargs["sslrootcert"] = ca_file or "system"
            return kwargs
        if libpq_version() < REQUIRE_AUTH_LIBPQ:
            raise RuntimeError(
                "this libpq (before 16) cannot refuse a cleartext password request: "
                "use ssl verify-full, or psycopg2-binary 2.9.10+"
            )
        kwargs["require_auth"] = NO_CLEARTEXT_AUTH
        return kwargs

    #: how a user changes its own password ({} the user, {} the password literal)
    alter_password_sql = "ALTER USER {} WITH PASSWORD {}"

    def password_sql(self, conn: Any, username: str, password: str) -> Any:
        """The password as an SQL literal: a SCRAM/MD5 verifier made on the client."""
        from psycopg2 import sql
        from psycopg2.extensions import encrypt_password

        return sql.Literal(encrypt_password(password, username, conn))

    def set_own_password(self, conn: Any, username: str, password: str) -> None:
        from psycopg2 import sql

        stmt = sql.SQL(self.alter_password_sql).format(
            sql.Identifier(username), self.password_sql(conn, username, password)
        )
        with conn.cursor() as cur:
            cur.execute(stmt)
        conn.commit()

    #: does a user exist (``%s`` its name); create it, or reset its password ({} the
    #: user, {} the password literal)
    user_exists_sql = "SELECT 1 FROM pg_roles WHERE rolname = %s"
    create_user_sql = "CREATE ROLE {} WITH LOGIN PASSWORD {}"
    reset_user_sql = "ALTER ROLE {} WITH LOGIN PASSWORD {}"

    def upsert_user(
        self, master_conn: Any, *, template_user: str, user: str, password: str
    ) -> None:
        """Create ``user``, or reset its password, and give it the privileges of
        ``template_user`` (:meth:`_inherit_privileges`); one transaction."""
        from psycopg2 import sql

        ident = sql.Identifier(user)
        secret = self.password_sql(master_conn, user, password)
        with master_conn.cursor() as cur:
            cur.execute(self.user_exists_sql, (user,))
            exists = cur.fetchone() is not None
            statement = self.reset_user_sql if exists else self.create_user_sql
            cur.execute(sql.SQL(statement).format(ident, secret))
            self._inherit_privileges(cur, template_user=template_user, user=user)
        master_conn.commit()

    def _inherit_privileges(self, cur: Any, *, template_user: str, user: str) -> None:
        """Make ``user`` a member of ``template_user`` (so it inherits its privileges and
        may use its objects). The original user gets no membership in its clone (that
        would be a cycle): it holds the privileges itself."""
        from psycopg2 import sql

        # Skip when either role already belongs to the other: the clone is a member
        # of the original user, and the original owns its privileges itself.
        cur.execute(
            "SELECT pg_has_role(%s, %s, 'MEMBER') OR pg_has_role(%s, %s, 'MEMBER')",
            (user, template_user, template_user, user),
        )
        row = cur.fetchone()
        if not (row and row[0]):
            cur.execute(
                sql.SQL("GRANT {} TO {}").format(
                    sql.Identifier(template_user), sql.Identifier(user)
                )
            )

    def privilege_problems(self, master_conn: Any, user: str) -> list[str]:
        """Why ``user`` is too privileged to alternate (empty when it is not, or does not
        exist). Refused: the user or any role it is a member of (directly or not) is a
        superuser or has CREATEROLE; it is a member of rds_superuser or of a
        pg_*_server_* role; it (or a role it is a member of) holds ADMIN OPTION."""
        with master_conn.cursor() as cur:
            cur.execute("SELECT oid FROM pg_roles WHERE rolname = %s", (user,))
            row = cur.fetchone()
            if row is None:
                master_conn.rollback()
                return []
            oid = row[0]
            cur.execute(
                "SELECT r.rolname, r.rolsuper, r.rolcreaterole FROM pg_roles r "
                "WHERE pg_has_role(%s, r.oid, 'MEMBER') "
                "AND (r.rolsuper OR r.rolcreaterole OR r.rolname = ANY(%s)) ORDER BY 1",
                (oid, list(PRIVILEGED_ROLES)),
            )
            problems = []
            for rolname, superuser, createrole in cur.fetchall():
                via = "" if rolname == user else f" through role {rolname!r}"
                if superuser:
                    problems.append(f"is a superuser{via}")
                elif createrole:
                    problems.append(f"has CREATEROLE{via}")
                else:
                    problems.append(f"is a member of {rolname}")
            cur.execute(
                "SELECT 1 FROM pg_auth_members m "
                "WHERE m.admin_option AND pg_has_role(%s, m.member, 'MEMBER') LIMIT 1",
                (oid,),
            )
            if cur.fetchone() is not None:
                problems.append("holds ADMIN OPTION on a role")
        master_conn.rollback()
        return problems

    def check(self, conn: Any) -> None:
        with conn.cursor() as cur:
            cur.execute("SELECT now()")
            cur.fetchone()
        conn.rollback()


def _server_offers_no_tls(exc: BaseException) -> bool:
    text = str(exc).lower()
    return any(m in text for m in _NO_TLS_MESSAGES)
