"""Amazon Redshift (provisioned and Serverless), over the PostgreSQL protocol.

Connections are those of :mod:`.postgres` (psycopg2 speaks Redshift's protocol). The
SQL differs, and lives only here:

* ``ALTER USER name PASSWORD 'literal'`` (no ``WITH``; Redshift cannot take a SCRAM
  verifier, so the literal is the password itself, escaped by ``sql.Literal``);
* users are listed in ``pg_user`` (``usename``), not ``pg_roles``;
* there is no role membership between users: the clone is created with
  ``CREATE USER name PASSWORD 'literal'`` and added to every group the original user
  belongs to (``pg_group.grolist``; ``ALTER GROUP g ADD USER u``). Privileges granted
  to the user directly (not through a group) and Redshift RBAC roles are not copied:
  grant them to a group.

Every statement here is also valid PostgreSQL, which is how the tests run it (a
PostgreSQL cluster standing in for Redshift).
"""

from __future__ import annotations

from typing import Any

from pipeline_secrets.rotation.engines.postgres import PostgresEngine


class RedshiftEngine(PostgresEngine):
    name = "redshift"
    max_username_length = 127
    alter_password_sql = "ALTER USER {} PASSWORD {}"
    user_exists_sql = "SELECT 1 FROM pg_user WHERE usename = %s"
    create_user_sql = "CREATE USER {} PASSWORD {}"
    reset_user_sql = "ALTER USER {} PASSWORD {}"

    def password_sql(self, conn: Any, username: str, password: str) -> Any:
        from psycopg2 import sql

        return sql.Literal(password)

    def _inherit_privileges(self, cur: Any, *, template_user: str, user: str) -> None:
        """Add ``user`` to every group ``template_user`` belongs to."""
        from psycopg2 import sql

        cur.execute(
            "SELECT g.groname, "
            "(SELECT usesysid FROM pg_user WHERE usename = %s) = ANY(g.grolist) "
            "FROM pg_group g "
            "WHERE (SELECT usesysid FROM pg_user WHERE usename = %s) = ANY(g.grolist)",
            (user, template_user),
        )
        for group, already in cur.fetchall():
            if not already:
                cur.execute(
                    sql.SQL("ALTER GROUP {} ADD USER {}").format(
                        sql.Identifier(group), sql.Identifier(user)
                    )
                )

    def privilege_problems(self, master_conn: Any, user: str) -> list[str]:
        """Redshift: refused when the user is a superuser (CREATEUSER makes one)."""
        with master_conn.cursor() as cur:
            cur.execute("SELECT usesuper FROM pg_user WHERE usename = %s", (user,))
            row = cur.fetchone()
        master_conn.rollback()
        return ["is a superuser"] if row and row[0] else []

    def check(self, conn: Any) -> None:
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
            cur.fetchone()
        conn.rollback()
