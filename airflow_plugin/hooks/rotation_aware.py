"""The mixin that makes a common-sql ``DbApiHook`` survive password rotation.

Put it first in the bases: ``class PostgresSecretsHook(RotationAwareMixin, PostgresHook)``.
It overrides three things and leaves the rest of the parent hook alone:

* ``connection``: the Airflow connection with the current credentials (host, port and
  extras from the conn id, credentials from the secret when one is named);
* ``get_conn``: opens through a :mod:`credential_source`, retrying on authentication
  failures only (``run``, ``get_records``, ``insert_rows``, ``get_df`` all use it);
* ``get_sqlalchemy_engine``: the parent's engine plus a ``do_connect`` listener that
  fetches fresh credentials for every new pooled connection (SQLAlchemy 1.4 and 2.x).
"""

from __future__ import annotations

import logging
import threading
from typing import Any, ClassVar

from airflow.providers.common.compat.sdk import BaseHook, Connection

from airflow_plugin.hooks import form
from airflow_plugin.hooks.credential_source import (
    ConnectionSource,
    ConnectionTemplate,
    CredentialSource,
    SecretSource,
)
from airflow_plugin.masking import credentials_secret_id

log = logging.getLogger(__name__)

_USER_KEYS = ("user", "username")
_PASSWORD_KEYS = ("password", "passwd")


class RotationAwareMixin:
    """Rotation-aware connection handling for a ``DbApiHook`` subclass."""

    #: the standard connection type the parent hook understands
    base_conn_type: ClassVar[str]
    conn_name_attr: str

    secret_id: str | None
    secrets_conn_id: str | None

    def __init__(
        self,
        *args: Any,
        secret_id: str | None = None,
        secrets_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)  # the DbApiHook after this mixin in the MRO
        self.secret_id = secret_id or None
        self.secrets_conn_id = secrets_conn_id or None
        # With only a secret_id, the default conn id must not be looked up.
        self._explicit_conn_id = bool(args) or self.conn_name_attr in kwargs
        # The connection being opened, per thread (a hook may be shared by threads).
        self._opening = threading.local()
        self._source: CredentialSource | None = None

    # -- where credentials come from ------------------------------------------------------
    def credential_source(self) -> CredentialSource:
        if self._source is None:
            self._source = self._build_source()
        return self._source

    def _build_source(self) -> CredentialSource:
        from airflow_plugin.hooks.secrets_manager import SecretsManagerHook

        conn_id: str = getattr(self, self.conn_name_attr)
        base: Connection | None = None
        if self._explicit_conn_id or self.secret_id is None:
            base = BaseHook.get_connection(conn_id)
        extra = base.extra_dejson if base is not None else {}
        secret_id = self.secret_id or credentials_secret_id(extra)
        secrets_conn_id = self.secrets_conn_id or extra.get("secrets_conn_id") or None
        label = conn_id if base is not None else f"secret:{secret_id}"
        template = ConnectionTemplate(label, self.base_conn_type, base)
        if secret_id:
            reconnector = SecretsManagerHook(secrets_conn_id).reconnector
            return SecretSource(str(secret_id), reconnector, template)
        return ConnectionSource(template)

    # -- the DbApiHook surface --------------------------------------------------------------
    @property
    def connection(self) -> Connection:
        opening: Connection | None = getattr(self._opening, "conn", None)
        if opening is not None:
            return opening
        return self.credential_source().current()

    @connection.setter
    def connection(self, value: Any) -> None:
        """Ignored: credentials always come from the source (kept for old providers)."""

    def get_conn(self) -> Any:
        parent: Any = super()

        def open_(conn: Connection) -> Any:
            self._opening.conn = conn
            try:
                return parent.get_conn()
            finally:
                self._opening.conn = None

        return self.credential_source().connect(open_)

    def get_sqlalchemy_engine(self, engine_kwargs: dict[str, Any] | None = None) -> Any:
        parent: Any = super()
        engine = parent.get_sqlalchemy_engine(engine_kwargs)
        attach_fresh_credentials(engine, self.credential_source())
        return engine

    # -- Airflow UI -------------------------------------------------------------------------
    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        return form.form_widgets(form.SQL_FIELDS)


def attach_fresh_credentials(engine: Any, source: CredentialSource) -> None:
    """Make every new DB-API connection of ``engine`` use fresh credentials from ``source``.

    The ``do_connect`` listener returns the connection it opened, so SQLAlchemy skips
    its own connect; an authentication failure goes through the source's retry.
    """
    from sqlalchemy import event

    def do_connect(dialect: Any, conn_rec: Any, cargs: Any, cparams: dict[str, Any]) -> Any:
        def open_(conn: Connection) -> Any:
            return dialect.connect(*cargs, **with_credentials(cparams, conn))

        return source.connect(open_)

    event.listen(engine, "do_connect", do_connect)


def with_credentials(cparams: dict[str, Any], conn: Connection) -> dict[str, Any]:
    """``cparams`` (the dialect's connect kwargs) with the connection's user and password."""
    out = dict(cparams)
    user_key = next((k for k in _USER_KEYS if k in out), "user")
    password_key = next((k for k in _PASSWORD_KEYS if k in out), "password")
    out[user_key] = conn.login
    out[password_key] = conn.password
    if conn.host and "host" in out:
        out["host"] = conn.host
    if conn.port and "port" in out:
        out["port"] = int(conn.port)
    return out
