"""MySQL, Aurora MySQL and MariaDB (PyMySQL, pure Python).

Every value - user names included - is passed to ``cursor.execute`` as a parameter,
which PyMySQL escapes as a string literal for the session's SQL mode (``user``@``host``
accepts string literals, so names with quotes or upper case work). Users are
``'name'@'%'``, as the AWS templates create them.

* Single user: ``SET PASSWORD = PASSWORD(%s)`` on MariaDB and MySQL before 5.7.6,
  ``SET PASSWORD = %s`` on later MySQL (no privilege needed to change one's own).
* Alternating users: the master runs ``CREATE USER``/``ALTER USER ... IDENTIFIED BY``
  and copies every grant of the original user (``SHOW GRANTS``) to the clone, keeping
  ``WITH GRANT OPTION`` and dropping any ``IDENTIFIED BY PASSWORD`` clause.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from pipeline_secrets.rotation.engines.base import CONNECT_TIMEOUT_SECONDS
from pipeline_secrets.rotation.target import DbTarget

log = logging.getLogger(__name__)

USER_HOST = "%"
CR_SSL_CONNECTION_ERROR = 2026
CR_AUTH_PLUGIN_ERR = 2061


class _RefusePlugin:
    """An auth plugin handler for PyMySQL that refuses: without verified TLS these
    plugins would send the password readable (clear text, or RSA-encrypted with a key
    the server chooses)."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def authenticate(self, pkt: Any) -> Any:
        import pymysql

        raise pymysql.err.OperationalError(
            CR_AUTH_PLUGIN_ERR,
            "the server asked for an authentication that would send the password "
            "readable without verified TLS; refused",
        )


class _CachingSha2FastOnly(_RefusePlugin):
    """caching_sha2_password's scramble (fast path) only; its full exchange without
    verified TLS sends the password to an RSA key the server chooses: refused."""

    def authenticate(self, pkt: Any) -> Any:
        from pymysql import _auth

        conn = self.conn
        if pkt.is_auth_switch_request():
            salt = pkt.read_all()
            conn.salt = salt[:-1] if salt.endswith(b"\0") else salt
            conn.write_packet(_auth.scramble_caching_sha2(conn.password, conn.salt))
            pkt = conn._read_packet()
            pkt.check_error()
        if pkt.is_ok_packet():
            return pkt
        if pkt.is_extra_auth_data() and pkt._data[1:2] == b"\x03":  # fast auth succeeded
            ok = conn._read_packet()
            ok.check_error()
            return ok
        return super().authenticate(pkt)


#: PyMySQL ``auth_plugin_map`` for connections without verified TLS.
NO_CLEARTEXT_MYSQL_PLUGINS: dict[str, Any] = {
    "mysql_clear_password": _RefusePlugin,
    "dialog": _RefusePlugin,
    "sha256_password": _RefusePlugin,
    "caching_sha2_password": _CachingSha2FastOnly,
}


class MySQLEngine:
    name = "mysql"
    max_username_length = 32  # MySQL 5.7+ (Aurora MySQL 2 and 3)

    def connect(self, target: DbTarget, *, timeout: int = CONNECT_TIMEOUT_SECONDS) -> Any:
        import pymysql

        kwargs: dict[str, Any] = {
            "host": target.host,
            "port": target.port or 3306,
            "user": target.username,
            "password": target.password,
            "connect_timeout": timeout,
            "autocommit": True,
        }
        if target.dbname:
            kwargs["database"] = target.dbname
        tls = target.tls
        if not tls.server_proven:
            kwargs["auth_plugin_map"] = NO_CLEARTEXT_MYSQL_PLUGINS
        if tls.mode == "disable":
            return pymysql.connect(**kwargs, ssl_disabled=True)
        if tls.mode == "prefer":
            return pymysql.connect(**kwargs)  # PyMySQL's default: no TLS
        tls_kwargs: dict[str, Any] = {
            "ssl_verify_cert": tls.verifies,
            "ssl_verify_identity": tls.checks_host,
        }
        if tls.verifies and tls.ca_file:
            tls_kwargs["ssl_ca"] = tls.ca_file
        if not tls.verifies:
            tls_kwargs["ssl"] = {"check_hostname": False, "verify_mode": False}
        if tls.mode == "auto":
            try:
                conn = pymysql.connect(**kwargs, **tls_kwargs)
            except pymysql.err.OperationalError as exc:
                if not _server_offers_no_tls(exc):
                    raise
                log.info(
                    "server %s:%s offers no TLS; connecting without it", target.host, target.port
                )
                plain = {**kwargs, "auth_plugin_map": NO_CLEARTEXT_MYSQL_PLUGINS}
                return pymysql.connect(**plain, ssl_disabled=True)
            return conn
        conn = pymysql.connect(**kwargs, **tls_kwargs)
        # Older PyMySQL releases silently skip TLS when the server does not offer it.
        if not _session_uses_tls(conn):
            conn.close()
            raise pymysql.err.OperationalError(
                CR_SSL_CONNECTION_ERROR, "TLS is required but the session is not encrypted"
            )
        return conn

    def set_own_password(self, conn: Any, username: str, password: str) -> None:
        with conn.cursor() as cur:
            cur.execute(self._set_password_sql(conn), (password,))

    def _set_password_sql(self, conn: Any) -> str:
        with conn.cursor() as cur:
            cur.execute("SELECT VERSION()")
            row = cur.fetchone()
        version = str(row[0]) if row else ""
        if _needs_password_function(version):
            return "SET PASSWORD = PASSWORD(%s)"
        return "SET PASSWORD = %s"

    def upsert_user(
        self, master_conn: Any, *, template_user: str, user: str, password: str
    ) -> None:
        with master_conn.cursor() as cur:
            cur.execute("SELECT 1 FROM mysql.user WHERE User = %s AND Host = %s", (user, USER_HOST))
            verb = "ALTER" if cur.fetchone() else "CREATE"
            cur.execute(f"{verb} USER %s@%s IDENTIFIED BY %s", (user, USER_HOST, password))
            cur.execute("SHOW GRANTS FOR %s@%s", (template_user, USER_HOST))
            grants = [str(row[0]) for row in cur.fetchall()]
            for grant in grants:
                statement = clone_grant(grant, template_user)
                if statement is None:
                    log.warning("could not copy a grant of %r to %r; skipped", template_user, user)
                    continue
                cur.execute(statement, (user, USER_HOST))

    def privilege_problems(self, master_conn: Any, user: str) -> list[str]:
        """Why ``user``@'%' is too privileged to alternate (empty when it is not, or does
        not exist), from ``SHOW GRANTS``: see :func:`grant_problem`."""
        with master_conn.cursor() as cur:
            cur.execute("SELECT 1 FROM mysql.user WHERE User = %s AND Host = %s", (user, USER_HOST))
            if cur.fetchone() is None:
                return []
            cur.execute("SHOW GRANTS FOR %s@%s", (user, USER_HOST))
            grants = [str(row[0]) for row in cur.fetchall()]
        problems = [p for p in (grant_problem(g) for g in grants) if p]
        return sorted(set(problems))

    def check(self, conn: Any) -> None:
        with conn.cursor() as cur:
            cur.execute("SELECT NOW()")
            cur.fetchone()


class MariaDBEngine(MySQLEngine):
    name = "mariadb"
    max_username_length = 80


def clone_grant(grant: str, template_user: str) -> str | None:
    """Rewrite one ``SHOW GRANTS`` line for another user: a statement with two ``%s``
    parameters (user, host), or None when the line names the user unexpectedly."""
    for quoted in (_backtick(template_user), _single_quote(template_user)):
        marker = f" TO {quoted}@"
        index = grant.rfind(marker)
        if index > 0:
            head, tail = grant[:index], grant[index + len(marker) :]
            with_grant = " WITH GRANT OPTION" if re.search(r"\bWITH GRANT OPTION\b", tail) else ""
            return head.replace("%", "%%") + " TO %s@%s" + with_grant
    return None


_GRANT_ON = re.compile(r"^GRANT\s+(?P<privs>.+?)\s+ON\s+(?P<object>.+?)\s+TO\s", re.I | re.S)


def grant_problem(grant: str) -> str | None:
    """Why one ``SHOW GRANTS`` line makes its user an administrator, or None.

    Refused: any privilege but USAGE on ``*.*`` (SUPER, CREATE USER, FILE, ...);
    GRANT OPTION or ADMIN OPTION anywhere; PROXY; any privilege on the ``mysql``
    schema (write access there edits accounts); any role (its grants are not checked).
    """
    text = grant.strip()
    if not text.upper().startswith("GRANT "):
        return None
    if re.search(r"\bWITH\s+(GRANT|ADMIN)\s+OPTION\b", text, re.I):
        return "holds GRANT OPTION"
    match = _GRANT_ON.match(text)
    if match is None:
        return "is granted a role (roles are not checked: grant privileges directly)"
    privs = match.group("privs").strip().upper()
    target = match.group("object").strip().replace("`", "").lower()
    if privs.startswith("PROXY"):
        return "holds PROXY"
    if target == "*.*" and privs != "USAGE":
        return "holds global privileges (ON *.*)"
    if target.startswith("mysql.") and privs != "USAGE":
        return "holds privileges on the mysql schema"
    return None


def _backtick(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _single_quote(name: str) -> str:
    return "'" + name.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _needs_password_function(version: str) -> bool:
    if "mariadb" in version.lower():
        return True
    match = re.match(r"(\d+)\.(\d+)\.(\d+)", version)
    if not match:
        return False
    return tuple(int(p) for p in match.groups()) < (5, 7, 6)


def _server_offers_no_tls(exc: BaseException) -> bool:
    args: tuple[Any, ...] = tuple(getattr(exc, "args", ()))
    text = str(exc).lower()
    return bool(args) and args[0] == CR_SSL_CONNECTION_ERROR and "support" in text


def _session_uses_tls(conn: Any) -> bool:
    with conn.cursor() as cur:
        cur.execute("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
        row = cur.fetchone()
    return bool(row and row[1])
