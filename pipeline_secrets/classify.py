"""Is this database error a refused login, a network problem, or something else?

Classifying is kept apart from deciding what to do (see ``reconnect``). Only an
authentication failure may trigger a secret refresh: a database that is down must
never cause a storm of Secrets Manager calls.
"""

from __future__ import annotations

import contextlib
import enum
import re
import socket
from collections.abc import Iterator


class FailureKind(enum.Enum):
    AUTHENTICATION = "authentication"
    NETWORK = "network"
    OTHER = "other"


_AUTH_SQLSTATES = {"28P01", "28000"}
_MYSQL_AUTH_CODES = {1045, 1698}
# 1044 "Access denied for user ... to database": the login worked, a grant is missing.
# New credentials will not fix it, so it is not a login failure (no refresh, no retry).
_MYSQL_NOT_LOGIN_CODES = {1044}
_ORACLE_AUTH_CODES = {1017}
_SQLSERVER_AUTH_CODES = {18456}

_AUTH_PATTERNS = re.compile(
    "|".join(
        [
            r"password authentication failed",
            r"\b28P01\b",
            r"SQLState:? ?28P01",
            r"SQLSTATE\[28000\]",
            r"\bFATAL:\s+no pg_hba\.conf entry",
            r"Access denied for user (?![^\n]*\bto database\b)",
            r"\(1045\)|\b1045\b.*access denied",
            r"ORA-01017",
            r"Login failed for user",
            r"authentication failed for user",
            r"invalid username/password",
            r"SCRAM authentication failed",
            r"\bAuthentication failed\b",
        ]
    ),
    re.IGNORECASE,
)
_NETWORK_PATTERNS = re.compile(
    "|".join(
        [
            r"could not connect to server",
            r"connection refused",
            r"Connection to .* refused",
            r"could not translate host name",
            r"timeout expired",
            r"timed out",
            r"Can't connect to (MySQL|MariaDB) server",
            r"Lost connection to (MySQL|MariaDB) server",
            r"server closed the connection unexpectedly",
            r"Communications link failure",
            r"No route to host",
            r"Network is unreachable",
            r"Name or service not known",
            r"Socket fail to connect",
            r"SocketTimeoutException",
            r"ConnectException",
            r"UnknownHostException",
            r"the database system is (starting up|shutting down)",
            r"Connection reset",
        ]
    ),
    re.IGNORECASE,
)
_MYSQL_NETWORK_CODES = {2002, 2003, 2005, 2006, 2013}


def classify_failure(exc: BaseException) -> FailureKind:
    """The kind of a connection or query failure, looking through its cause chain."""
    saw_network = False
    for err in _chain(exc):
        kind = _classify_one(err)
        if kind is FailureKind.AUTHENTICATION:
            return kind
        if kind is FailureKind.NETWORK:
            saw_network = True
    return FailureKind.NETWORK if saw_network else FailureKind.OTHER


def is_authentication_failure(exc: BaseException) -> bool:
    return classify_failure(exc) is FailureKind.AUTHENTICATION


def is_network_failure(exc: BaseException) -> bool:
    return classify_failure(exc) is FailureKind.NETWORK


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and everything it wraps: __cause__, __context__, SQLAlchemy's ``orig``."""
    seen: set[int] = set()
    stack = [exc]
    while stack:
        err = stack.pop()
        if id(err) in seen:
            continue
        seen.add(id(err))
        yield err
        for linked in (
            getattr(err, "orig", None),
            err.__cause__,
            err.__context__,
        ):
            if isinstance(linked, BaseException):
                stack.append(linked)


def _classify_one(err: BaseException) -> FailureKind | None:
    # Codes first: they are exact.
    code = _sqlstate(err)
    if code in _AUTH_SQLSTATES:
        return FailureKind.AUTHENTICATION
    number = _error_number(err)
    if number is not None:
        if number in _MYSQL_AUTH_CODES | _ORACLE_AUTH_CODES | _SQLSERVER_AUTH_CODES:
            return FailureKind.AUTHENTICATION
        if number in _MYSQL_NOT_LOGIN_CODES:
            return FailureKind.OTHER
        if number in _MYSQL_NETWORK_CODES:
            return FailureKind.NETWORK
    if isinstance(err, (ConnectionError, socket.timeout, TimeoutError, socket.gaierror)):
        return FailureKind.NETWORK
    text = _text(err)
    if _AUTH_PATTERNS.search(text):
        return FailureKind.AUTHENTICATION
    if _NETWORK_PATTERNS.search(text):
        return FailureKind.NETWORK
    return None


def _sqlstate(err: BaseException) -> str | None:
    for attr in ("sqlstate", "pgcode"):
        value = getattr(err, attr, None)
        if isinstance(value, str) and value:
            return value
    diag = getattr(err, "diag", None)
    value = getattr(diag, "sqlstate", None) if diag is not None else None
    if isinstance(value, str) and value:
        return value
    # redshift_connector: args[0] is a dict with the server's fields; "C" is the code.
    if err.args and isinstance(err.args[0], dict):
        code = err.args[0].get("C")
        if isinstance(code, str):
            return code
    # pyodbc: args[0] is the SQLSTATE string.
    if err.args and isinstance(err.args[0], str) and re.fullmatch(r"[0-9A-Z]{5}", err.args[0]):
        return err.args[0]
    return None


def _error_number(err: BaseException) -> int | None:
    # mysql.connector: errno; oracledb: args[0].code; pymysql: args[0].
    errno = getattr(err, "errno", None)
    if isinstance(errno, int) and type(err).__module__.startswith(("mysql", "MySQLdb")):
        return errno
    if err.args:
        first = err.args[0]
        code = getattr(first, "code", None)
        if isinstance(code, int) and type(first).__module__.startswith("oracledb"):
            return code
        if isinstance(first, int) and not isinstance(first, bool) and not isinstance(err, OSError):
            return first
    return None


def _text(err: BaseException) -> str:
    try:
        text = str(err)
    except Exception:  # a broken __str__ must not hide the classification
        text = ""
    java = getattr(err, "java_exception", None)
    if java is not None:
        with contextlib.suppress(Exception):
            text += "\n" + str(java)
    return text
